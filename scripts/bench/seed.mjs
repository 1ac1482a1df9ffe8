// Data for the identity scenarios on the native stack, written through the identity service's
// own service layer into the stack's PostgreSQL (.stack/pg): `users` users in the Default domain
// (GET /v3/users lists them all) and a `bench-member` user with the member role on the admin
// project (the `projects` scenario lists that user's projects with its own token). Idempotent.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export async function seedIdentity(root, { users = 1000, memberPassword }) {
  const { loadConfig } = await import(join(root, 'app/dist/src/config.js'));
  const { createPool } = await import(join(root, 'app/dist/src/db.js'));
  const { createServices } = await import(join(root, 'app/dist/src/services.js'));
  const port = readFileSync(join(root, '.stack/pg/port'), 'utf8').trim();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const db = createPool(url, 4);
  try {
    const s = createServices(
      db,
      loadConfig({ DATABASE_URL: url, IDENTITY_FERNET_KEY_REPOSITORY: join(root, '.stack/keys/fernet') }),
    );
    const have = new Set((await s.identity.listUsers([])).map((u) => u.name));
    const missing = [];
    for (let i = 0; have.size + missing.length < users; i++) {
      const name = `bench-user-${String(i).padStart(4, '0')}`;
      if (!have.has(name)) missing.push(name);
    }
    for (let i = 0; i < missing.length; i += 16)
      await Promise.all(
        missing.slice(i, i + 16).map((name) =>
          s.identity.createUser(
            {
              name,
              domainId: 'default',
              enabled: true,
              defaultProjectId: null,
              description: '',
              options: {},
              extra: { email: `${name}@example.test` },
            },
            null,
          ),
        ),
      );
    let member = await s.identity.findUser({ name: 'bench-member', domain: { id: 'default' } });
    if (!member)
      member = await s.identity.createUser(
        {
          name: 'bench-member',
          domainId: 'default',
          enabled: true,
          defaultProjectId: null,
          description: '',
          options: {},
          extra: {},
        },
        memberPassword,
      );
    const project = await s.resource.project({ name: 'admin', domain: { id: 'default' } });
    const roleId = await s.assignment.ensureGlobalRole('unused', 'member');
    await s.assignment.grant({
      actor: { type: 'user', id: member.id },
      target: { type: 'project', id: project.id },
      roleId,
    });
    return { memberId: member.id, total: (await s.identity.listUsers([])).length };
  } finally {
    await db.end();
  }
}
