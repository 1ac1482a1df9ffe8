/**
 * The real `openstack` client through nginx and the gateway (scripts/stack.sh) on OS-TRUST:
 * `trust create/list/show/delete` as the trustor, a trustee login with `--os-trust-id`
 * (`openstack token issue`), and that login refused once the trust is deleted. Skipped when
 * scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openstack, oscJson, oscOk, oscStack } from './osc.js';

describe('openstack trust create/list/show/delete and --os-trust-id through nginx', () => {
  const s = oscStack('osc-trust', '--protocol', 'fastcgi');

  test('a trustor delegates a role; the trustee logs in with the trust until it is deleted', async () => {
    const [project, trustor, trustee, role] = await Promise.all([
      s.json('project', 'create', 'trusted'),
      s.json('user', 'create', '--password', 'trustor pass', 'trustor'),
      s.json('user', 'create', '--password', 'trustee pass', 'trustee'),
      s.json('role', 'show', 'member'),
    ]);
    await s.run('role', 'add', '--user', trustor.id, '--project', project.id, 'member');
    const asTrustor = {
      ...s.env,
      OS_USERNAME: 'trustor',
      OS_PASSWORD: 'trustor pass',
      OS_PROJECT_NAME: 'trusted',
    };
    // Ids: a plain user may not look others (or roles) up by name.
    const trust = await oscJson(
      asTrustor,
      'trust',
      'create',
      '--project',
      project.id,
      '--role',
      role.id,
      '--impersonate',
      trustor.id,
      trustee.id,
    );
    assert.match(trust.id, /^[0-9a-f]{32}$/);
    assert.equal(trust.trustor_user_id, trustor.id);
    assert.equal(trust.trustee_user_id, trustee.id);
    assert.equal(trust.project_id, project.id);
    assert.equal(trust.impersonation, true);
    assert.equal(trust.roles, 'member');
    // This client lists every trust (no filter): an administrator's view, as in Keystone.
    const listed = await s.json('trust', 'list');
    assert.ok(
      listed.some((t: { ID: string }) => t.ID === trust.id),
      JSON.stringify(listed),
    );
    assert.equal((await oscJson(asTrustor, 'trust', 'show', trust.id)).trustee_user_id, trustee.id);

    // The trustee's login through the trust: a token on the trust's project, acting as the trustor.
    const asTrustee: Record<string, string> = {
      ...s.env,
      OS_USERNAME: 'trustee',
      OS_PASSWORD: 'trustee pass',
    };
    delete asTrustee.OS_PROJECT_NAME;
    delete asTrustee.OS_PROJECT_DOMAIN_NAME;
    const token = await oscJson(asTrustee, '--os-trust-id', trust.id, 'token', 'issue');
    assert.match(token.id, /^gAAAAA[\w-]+$/);
    assert.equal(token.project_id, project.id);
    assert.equal(token.user_id, trustor.id);

    await oscOk(asTrustor, 'trust', 'delete', trust.id);
    const refused = await openstack(asTrustee, '--os-trust-id', trust.id, 'token', 'issue');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /401|authentication/i);
    // The client looks a trust up by id (404), then by name in the whole list (an administrator's).
    const gone = await openstack(s.env, 'trust', 'show', trust.id);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /No trust with a name or ID of/);
  });
});
