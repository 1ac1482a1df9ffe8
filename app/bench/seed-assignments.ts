/**
 * Seeds a bootstrapped database (DATABASE_URL) for the role-assignment benchmark: BENCH_USERS users
 * in the Default domain, BENCH_PROJECTS projects, BENCH_GROUPS groups of the users in turn; every
 * user is a member on one project, every group a reader on one project, and one group's
 * member role is inherited by every project of the domain. Prints one user id.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db.js';
import { createServices } from '../src/services.js';

const users = Number(process.env.BENCH_USERS ?? 200);
const projects = Number(process.env.BENCH_PROJECTS ?? 20);
const groups = Number(process.env.BENCH_GROUPS ?? 5);
const config = loadConfig(process.env);
const db = createPool(config.databaseUrl, 4);
const s = createServices(db, config);
const id = () => randomUUID().replaceAll('-', '');
const role = async (name: string) => (await s.assignment.listRoles({ name }))[0]?.id as string;
const member = await role('member');
const reader = await role('reader');

const projectIds: string[] = [];
for (let i = 0; i < projects; i++)
  projectIds.push(
    await s.resource.ensureProject({
      id: id(),
      name: `bench-project-${i}`,
      domainId: 'default',
      description: '',
    }),
  );
const userIds: string[] = [];
for (let i = 0; i < users; i++) {
  const user = await s.identity.ensureUser(id(), `bench-user-${i}`, 'default');
  userIds.push(user);
  await s.assignment.grant({
    actor: { type: 'user', id: user },
    target: { type: 'project', id: projectIds[i % projects] as string },
    roleId: member,
  });
}
for (let g = 0; g < groups; g++) {
  const group = await s.identity.createGroup({
    name: `bench-group-${g}`,
    domainId: 'default',
    description: '',
    extra: {},
  });
  for (let i = g; i < users; i += groups) await s.identity.addMember(group.id, userIds[i] as string);
  await s.assignment.grant({
    actor: { type: 'group', id: group.id },
    target: { type: 'project', id: projectIds[g % projects] as string },
    roleId: reader,
  });
  if (g === 0)
    await s.assignment.grant({
      actor: { type: 'group', id: group.id },
      target: { type: 'domain', id: 'default' },
      roleId: member,
      inherited: true,
    });
}
process.stdout.write(`${userIds[0]}\n`);
await db.end();
