/**
 * The real `openstack` client through nginx and the gateway (fastcgi, scripts/stack.sh) on the
 * identity and resource APIs: domain, project, user and group create/list/show/set/delete,
 * `group add user`, `group contains user`, `group remove user`, and `user password set` as the
 * user. Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/db.js';
import { createServices } from '../src/services.js';
import { openstack, oscStack } from './osc.js';

describe('openstack identity and resource commands through nginx', () => {
  const s = oscStack('osc-identity', '--protocol', 'fastcgi');
  before(() => assert.match(s.env.OS_AUTH_URL ?? '', /^http:\/\/127\.0\.0\.1:\d+\/v3$/));

  const os = s.run;
  const json = s.json;

  test('domain, project, user, group: create, list, show, set, membership, password, delete', async () => {
    // Domain
    const domain = await json('domain', 'create', '--description', 'made by osc', 'osc-domain');
    assert.equal(domain.name, 'osc-domain');
    assert.equal(domain.enabled, true);
    const domains = await json('domain', 'list');
    assert.ok(domains.some((d: { Name: string }) => d.Name === 'osc-domain'));
    await os('domain', 'set', '--description', 'changed', 'osc-domain');
    assert.equal((await json('domain', 'show', 'osc-domain')).description, 'changed');

    // Project, with a child
    const project = await json('project', 'create', '--domain', 'osc-domain', '--tag', 'blue', 'osc-project');
    assert.equal(project.domain_id, domain.id);
    assert.equal(project.parent_id, domain.id);
    assert.deepEqual(project.tags, ['blue']);
    const child = await json(
      'project',
      'create',
      '--domain',
      'osc-domain',
      '--parent',
      'osc-project',
      'osc-child',
    );
    assert.equal(child.parent_id, project.id);
    const projects = await json('project', 'list', '--domain', 'osc-domain');
    assert.deepEqual(projects.map((p: { Name: string }) => p.Name).sort(), ['osc-child', 'osc-project']);
    await os(
      'project',
      'set',
      '--domain',
      'osc-domain',
      '--description',
      'described',
      '--tag',
      'green',
      'osc-project',
    );
    const shown = await json('project', 'show', '--domain', 'osc-domain', 'osc-project');
    assert.equal(shown.description, 'described');
    assert.deepEqual([...shown.tags].sort(), ['blue', 'green']);
    const blocked = await openstack(s.admin, 'project', 'delete', '--domain', 'osc-domain', 'osc-project');
    assert.notEqual(blocked.status, 0, 'a project with children is not deleted');
    assert.match(blocked.stderr, /not a leaf in the hierarchy.*HTTP 403/);

    // User
    const user = await json(
      'user',
      'create',
      '--domain',
      'osc-domain',
      '--password',
      'first secret',
      '--email',
      'osc@example.test',
      'osc-user',
    );
    assert.equal(user.domain_id, domain.id);
    assert.equal(user.password, undefined);
    const users = await json('user', 'list', '--domain', 'osc-domain');
    assert.deepEqual(
      users.map((u: { Name: string }) => u.Name),
      ['osc-user'],
    );
    await os('user', 'set', '--domain', 'osc-domain', '--email', 'new@example.test', 'osc-user');
    assert.equal(
      (await json('user', 'show', '--domain', 'osc-domain', 'osc-user')).email,
      'new@example.test',
    );

    // Group and membership
    const group = await json('group', 'create', '--domain', 'osc-domain', '--description', 'g', 'osc-group');
    assert.equal(group.domain_id, domain.id);
    await os('group', 'set', '--domain', 'osc-domain', '--description', 'the group', 'osc-group');
    assert.equal(
      (await json('group', 'show', '--domain', 'osc-domain', 'osc-group')).description,
      'the group',
    );
    assert.ok(
      (await json('group', 'list', '--domain', 'osc-domain')).some((g: { ID: string }) => g.ID === group.id),
    );
    const member = ['--group-domain', 'osc-domain', '--user-domain', 'osc-domain', 'osc-group', 'osc-user'];
    await os('group', 'add', 'user', ...member);
    assert.match(await os('group', 'contains', 'user', ...member), /osc-user in group osc-group/);
    const groupsOfUser = await json('group', 'list', '--user', 'osc-user', '--user-domain', 'osc-domain');
    assert.deepEqual(
      groupsOfUser.map((g: { ID: string }) => g.ID),
      [group.id],
    );

    // The user changes its own password. The client needs a project-scoped token (it finds the
    // identity endpoint in the catalog), so the user gets a role on the project first.
    await grantMember(s.dir, user.id, project.id);
    const asUser = {
      ...s.env,
      OS_USERNAME: 'osc-user',
      OS_USER_DOMAIN_NAME: 'osc-domain',
      OS_PROJECT_NAME: 'osc-project',
      OS_PROJECT_DOMAIN_NAME: 'osc-domain',
    };
    const changed = await openstack(
      { ...asUser, OS_PASSWORD: 'first secret' },
      'user',
      'password',
      'set',
      '--original-password',
      'first secret',
      '--password',
      'second secret',
    );
    assert.equal(changed.status, 0, changed.stderr);
    const old = await openstack({ ...asUser, OS_PASSWORD: 'first secret' }, 'token', 'issue');
    assert.notEqual(old.status, 0);
    assert.match(old.stderr, /HTTP 401/);
    const fresh = await openstack(
      { ...asUser, OS_PASSWORD: 'second secret' },
      'token',
      'issue',
      '-f',
      'json',
    );
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.equal(JSON.parse(fresh.stdout).project_id, project.id);
    const mine = await openstack(
      { ...asUser, OS_PASSWORD: 'second secret' },
      'project',
      'list',
      '--my-projects',
      '-f',
      'json',
    );
    assert.equal(mine.status, 0, mine.stderr);
    assert.deepEqual(
      JSON.parse(mine.stdout).map((p: { ID: string }) => p.ID),
      [project.id],
    );

    // Removal, then the deletes: an enabled domain refuses until disabled.
    await os('group', 'remove', 'user', ...member);
    const gone = await openstack(s.admin, 'group', 'contains', 'user', ...member);
    assert.match(gone.stdout + gone.stderr, /osc-user not in group osc-group/);
    await os('user', 'delete', '--domain', 'osc-domain', 'osc-user');
    await os('group', 'delete', '--domain', 'osc-domain', 'osc-group');
    await os('project', 'delete', '--domain', 'osc-domain', 'osc-child');
    await os('project', 'delete', '--domain', 'osc-domain', 'osc-project');
    const enabled = await openstack(s.admin, 'domain', 'delete', 'osc-domain');
    assert.notEqual(enabled.status, 0);
    assert.match(enabled.stderr, /Cannot delete a domain that is enabled.*HTTP 403/);
    await os('domain', 'set', '--disable', 'osc-domain');
    await os('domain', 'delete', 'osc-domain');
    const missing = await openstack(s.admin, 'domain', 'show', 'osc-domain');
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /No domain with a name or ID of 'osc-domain' exists/);
  });
});

/** A `member` grant written to the stack's database through the service layer. */
async function grantMember(dir: string, userId: string, projectId: string): Promise<void> {
  const port = readFileSync(`${dir}/pg/port`, 'utf8').trim();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const db = createPool(url, 1);
  try {
    const s = createServices(
      db,
      loadConfig({ DATABASE_URL: url, IDENTITY_FERNET_KEY_REPOSITORY: `${dir}/keys/fernet` }),
    );
    const roleId = await s.assignment.ensureGlobalRole('unused', 'member');
    await s.assignment.grant({
      actor: { type: 'user', id: userId },
      target: { type: 'project', id: projectId },
      roleId,
    });
  } finally {
    await db.end();
  }
}
