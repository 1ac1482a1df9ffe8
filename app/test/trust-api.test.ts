/**
 * OS-TRUST through the API, checked against Keystone 22's behaviour (keystone/api/trusts.py,
 * keystone/trust/core.py, the TrustAPIBehavior and TestTrustChain cases of its unit tests):
 * trusts made, shown and deleted, trust-scoped tokens with and without impersonation, uses
 * consumed atomically, redelegation bounded, and every way a trust's tokens end: the trust
 * deleted or used up, the trustor disabled or its delegated role removed, the trustee disabled,
 * in this process and in another one at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { client, issue, type Json } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

const PASSWORD = 'trust test password';
const BASE = 'http://identity.test:5000';

describe('OS-TRUST', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let other: FastifyInstance;
  let otherDb: ReturnType<typeof createPool>;
  let admin: string;
  let projectId: string;
  const roles: Record<string, string> = {};
  const users: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  const api = () => client(app, () => admin);
  const as = (who: string) => client(app, () => tokens[who] as string);

  const passwordFor = (who: string, scope?: unknown) => ({
    auth: {
      identity: { methods: ['password'], password: { user: { id: users[who], password: PASSWORD } } },
      ...(scope === undefined ? {} : { scope }),
    },
  });
  const trustScope = (id: string) => ({ 'OS-TRUST:trust': { id } });
  const trustToken = (who: string, trustId: string) => issue(app, passwordFor(who, trustScope(trustId)));
  const validate = (subject: string, by: FastifyInstance = app) =>
    by.inject({
      method: 'GET',
      url: '/v3/auth/tokens',
      headers: { 'x-auth-token': admin, 'x-subject-token': subject },
    });

  const newUser = async (name: string) => {
    const body = await api().ok(
      'POST',
      '/v3/users',
      { user: { name: `${name}-${Date.now()}`, password: PASSWORD, domain_id: 'default' } },
      201,
    );
    users[name] = body.user.id;
    return body.user.id as string;
  };
  const grant = (user: string, role: string, method = 'PUT') =>
    api().ok(method, `/v3/projects/${projectId}/users/${users[user]}/roles/${roles[role]}`, undefined, 204);

  /** A trust from the trustor to the trustee on the project, for the delegated role; its body. */
  const createTrust = async (
    fields: Record<string, unknown> = {},
    by = 'trustor',
    status = 201,
  ): Promise<Json> => {
    const res = await as(by).call('POST', '/v3/OS-TRUST/trusts', {
      trust: {
        trustor_user_id: users.trustor,
        trustee_user_id: users.trustee,
        project_id: projectId,
        impersonation: false,
        roles: [{ name: 'trust-delegated' }],
        ...fields,
      },
    });
    assert.equal(res.status, status, JSON.stringify(res.body));
    return res.body;
  };

  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    otherDb = createPool(t.url, 2);
    other = await build({ config: t.config, db: otherDb });
    admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
    projectId = (
      await api().ok('POST', '/v3/projects', { project: { name: 'trusted', domain_id: 'default' } }, 201)
    ).project.id;
    for (const name of ['trust-delegated', 'trust-kept', 'trust-implied', 'trust-unheld']) {
      roles[name] = (await api().ok('POST', '/v3/roles', { role: { name } }, 201)).role.id;
    }
    // The delegated role implies another: a trust token carries both.
    await api().ok(
      'PUT',
      `/v3/roles/${roles['trust-delegated']}/implies/${roles['trust-implied']}`,
      undefined,
      201,
    );
    for (const name of ['trustor', 'trustee', 'stranger', 'third']) await newUser(name);
    await grant('trustor', 'trust-delegated');
    await grant('trustor', 'trust-kept');
    for (const name of ['trustor', 'trustee', 'stranger', 'third'])
      tokens[name] = (
        await issue(app, passwordFor(name, name === 'trustor' ? { project: { id: projectId } } : undefined))
      ).token;
  });
  after(async () => {
    await app.close();
    await other.close();
    await otherDb.end();
    await t.drop();
  });

  test('create, show, list and the roles of a trust, as Keystone renders them', async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, '.123456Z');
    const { trust } = await createTrust({ expires_at: expires, color: 'blue' });
    assert.match(trust.id, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...trust, id: undefined },
      {
        id: undefined,
        color: 'blue',
        trustor_user_id: users.trustor,
        trustee_user_id: users.trustee,
        project_id: projectId,
        impersonation: false,
        expires_at: expires,
        remaining_uses: null,
        deleted_at: null,
        redelegated_trust_id: null,
        redelegation_count: 0,
        roles: [
          {
            id: roles['trust-delegated'],
            name: 'trust-delegated',
            domain_id: null,
            description: null,
            options: {},
            links: { self: `${BASE}/v3/roles/${roles['trust-delegated']}` },
          },
        ],
        roles_links: { self: `${BASE}/v3/${trust.id}/roles`, next: null, previous: null },
        links: { self: `${BASE}/v3/OS-TRUST/trusts/${trust.id}` },
      },
    );
    assert.deepEqual((await as('trustee').ok('GET', `/v3/OS-TRUST/trusts/${trust.id}`)).trust, trust);
    const listed = await as('trustor').ok('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor}`);
    const mine = listed.trusts.find((x: Json) => x.id === trust.id);
    assert.equal(mine.roles, undefined, 'a list leaves the roles out');
    assert.equal(mine.links.self, `${BASE}/v3/OS-TRUST/trusts/${trust.id}`);
    assert.equal(listed.links.self, `${BASE}/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor}`);
    const forTrustee = await as('trustee').ok('GET', `/v3/OS-TRUST/trusts?trustee_user_id=${users.trustee}`);
    assert.ok(forTrustee.trusts.some((x: Json) => x.id === trust.id));

    const trustRoles = await as('trustee').ok('GET', `/v3/OS-TRUST/trusts/${trust.id}/roles`);
    assert.deepEqual(
      trustRoles.roles.map((r: Json) => r.id),
      [roles['trust-delegated']],
    );
    const one = `/v3/OS-TRUST/trusts/${trust.id}/roles/${roles['trust-delegated']}`;
    assert.equal((await as('trustee').ok('GET', one)).role.name, 'trust-delegated');
    assert.equal((await as('trustee').call('HEAD', one)).status, 200);
    const kept = await as('trustee').call(
      'GET',
      `/v3/OS-TRUST/trusts/${trust.id}/roles/${roles['trust-kept']}`,
    );
    assert.equal(kept.status, 404);
    assert.equal(kept.body.error.message, `Could not find role: ${roles['trust-kept']}.`);
    await as('trustor').ok('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, undefined, 204);
    const gone = await as('trustor').call('GET', `/v3/OS-TRUST/trusts/${trust.id}`);
    assert.deepEqual(gone, {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: `Could not find trust: ${trust.id}.` } },
    });
  });

  test('Keystone refusals on create: no roles, someone else as trustor, roles not held, bad expiry', async () => {
    const refused = async (
      fields: Record<string, unknown>,
      status: number,
      message: string,
      by = 'trustor',
    ) => {
      const body = await createTrust(fields, by, status);
      assert.equal(body.error.message, message);
    };
    await refused(
      { roles: [] },
      403,
      'You are not authorized to perform the requested action: At least one role should be specified.',
    );
    // The policy: only the trustor may create its trust.
    await refused({}, 403, 'You are not authorized to perform the requested action.', 'stranger');
    // A role the trustor does not hold on the project cannot be delegated (Keystone: RoleNotFound).
    await refused(
      { roles: [{ id: roles['trust-unheld'] }] },
      404,
      `Could not find role: ${roles['trust-unheld']}.`,
    );
    await refused({ roles: [{ name: 'no-such-role' }] }, 404, 'Could not find role: no-such-role.');
    await refused({ trustee_user_id: 'nobody' }, 404, 'Could not find user: nobody.');
    await refused(
      { expires_at: 'bad.123Z' },
      400,
      'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
    await refused(
      { expires_at: '2001-01-01T00:00:00Z' },
      400,
      "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
    );
    assert.equal((await createTrust({ remaining_uses: 0 }, 'trustor', 400)).error.code, 400);
    assert.equal((await createTrust({ roles: [{ id: 'x', name: 'y' }] }, 'trustor', 400)).error.code, 400);
    // redelegation_count above [trust] max_redelegation_count (3).
    await refused(
      { allow_redelegation: true, redelegation_count: 4 },
      403,
      'You are not authorized to perform the requested action.',
    );
  });

  test('a trust-scoped token: the trust section, the delegated roles, the trustee as its user', async () => {
    const { trust } = await createTrust();
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordFor('trustee', trustScope(trust.id)),
    });
    assert.equal(res.statusCode, 201, res.body);
    const token = res.json().token;
    assert.deepEqual(token['OS-TRUST:trust'], {
      id: trust.id,
      trustor_user: { id: users.trustor },
      trustee_user: { id: users.trustee },
      impersonation: false,
    });
    assert.equal(token.user.id, users.trustee);
    assert.equal(token.project.id, projectId);
    assert.equal(token.is_domain, undefined, "Keystone's trust-scoped body has no is_domain");
    assert.deepEqual(
      token.roles.map((r: Json) => r.name),
      ['trust-delegated', 'trust-implied'],
    );
    assert.deepEqual(Object.keys(token.roles[0]), ['id', 'name', 'domain_id', 'description', 'options']);
    assert.deepEqual(Object.keys(token).slice(0, 7), [
      'methods',
      'user',
      'audit_ids',
      'expires_at',
      'issued_at',
      'OS-TRUST:trust',
      'project',
    ]);
    const validated = await validate(res.headers['x-subject-token'] as string);
    assert.equal(validated.statusCode, 200);
    assert.deepEqual(validated.json().token['OS-TRUST:trust'], token['OS-TRUST:trust']);

    // The token method gives one too; a trust-scoped token never makes another token.
    const viaToken = await issue(app, {
      auth: { identity: { methods: ['token'], token: { id: tokens.trustee } }, scope: trustScope(trust.id) },
    });
    assert.equal(viaToken.status, 201);
    const rescope = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: { auth: { identity: { methods: ['token'], token: { id: viaToken.token } } } },
    });
    assert.equal(rescope.statusCode, 403);
    assert.equal(
      rescope.json().error.message,
      'You are not authorized to perform the requested action: Using trust-scoped token to create another token. Create a new trust-scoped token instead.',
    );
  });

  test('impersonation: the token acts as the trustor, for policy too', async () => {
    const { trust } = await createTrust({ impersonation: true });
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordFor('trustee', trustScope(trust.id)),
    });
    assert.equal(res.statusCode, 201, res.body);
    const token = res.json().token;
    assert.equal(token.user.id, users.trustor);
    assert.equal(token['OS-TRUST:trust'].trustee_user.id, users.trustee);
    assert.equal(token['OS-TRUST:trust'].impersonation, true);
    // As the trustor, it may read the trustor's trusts (user_id is the trustor's).
    const asTrustor = res.headers['x-subject-token'] as string;
    const listed = await client(app, () => asTrustor).call(
      'GET',
      `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor}`,
    );
    assert.equal(listed.status, 200);
    // A trust that allows no redelegation cannot be redelegated with its token.
    const again = await client(app, () => asTrustor).call('POST', '/v3/OS-TRUST/trusts', {
      trust: {
        trustor_user_id: users.trustor,
        trustee_user_id: users.third,
        project_id: projectId,
        impersonation: true,
        roles: [{ name: 'trust-delegated' }],
      },
    });
    assert.equal(again.status, 403);
  });

  test('attack: a trust token mints no credential that would outlive or widen the trust', async () => {
    // Impersonating, the trustee's token acts as the trustor. An EC2 key or an application
    // credential it made for the trustor would log in with every role the trustor holds
    // (trust-kept is not delegated): Keystone refuses delegations on both, a trust included.
    const { trust } = await createTrust({ impersonation: true });
    const res = await trustToken('trustee', trust.id);
    assert.equal(res.status, 201);
    const asTrust = client(app, () => res.token as string);
    const key = await asTrust.call('POST', `/v3/users/${users.trustor}/credentials/OS-EC2`, {
      tenant_id: projectId,
    });
    assert.equal(key.status, 403, JSON.stringify(key.body));
    assert.match(key.body.error.message, /Delegated tokens cannot access credentials directly/);
    const appCred = await asTrust.call('POST', `/v3/users/${users.trustor}/application_credentials`, {
      application_credential: { name: `from-a-trust-${Date.now()}` },
    });
    assert.equal(appCred.status, 403, JSON.stringify(appCred.body));
    const listed = await asTrust.call('GET', `/v3/users/${users.trustor}/application_credentials`);
    assert.equal(listed.status, 403);
    const credentials = await asTrust.call('POST', '/v3/credentials', {
      credential: { user_id: users.trustor, type: 'totp', blob: 'JBSWY3DPEHPK3PXP' },
    });
    assert.equal(credentials.status, 403, JSON.stringify(credentials.body));
  });

  test('only the trustee may use a trust, and a failed attempt uses none of its uses', async () => {
    const { trust } = await createTrust({ remaining_uses: 3 });
    const stranger = await trustToken('stranger', trust.id);
    assert.equal(stranger.status, 403);
    assert.equal((await as('trustor').ok('GET', `/v3/OS-TRUST/trusts/${trust.id}`)).trust.remaining_uses, 3);
  });

  test('remaining uses are taken atomically: of concurrent logins exactly that many succeed', async () => {
    const { trust } = await createTrust({ remaining_uses: 3 });
    const attempts = await Promise.all(Array.from({ length: 8 }, () => trustToken('trustee', trust.id)));
    const statuses = attempts.map((a) => a.status).sort();
    assert.equal(statuses.filter((s) => s === 201).length, 3, String(statuses));
    // Those that found it used up either before (401, trust not found) or after issuing (403).
    assert.ok(
      statuses.every((s) => s === 201 || s === 401 || s === 403),
      String(statuses),
    );
    // Used up: Keystone no longer finds it; a further login is 401.
    assert.equal((await as('trustor').call('GET', `/v3/OS-TRUST/trusts/${trust.id}`)).status, 404);
    assert.equal((await trustToken('trustee', trust.id)).status, 401);
  });

  test('a one-use trust: the second login is 401', async () => {
    const { trust } = await createTrust({ remaining_uses: 1 });
    assert.equal((await trustToken('trustee', trust.id)).status, 201);
    assert.equal((await trustToken('trustee', trust.id)).status, 401);
  });

  test("deleting the trust ends its tokens at once, in this process and in another one's cache", async () => {
    const { trust } = await createTrust();
    const { token, status } = await trustToken('trustee', trust.id);
    assert.equal(status, 201);
    assert.equal((await validate(token, other)).statusCode, 200);
    assert.equal((await validate(token, other)).statusCode, 200, 'now cached there');
    await as('trustor').ok('DELETE', `/v3/OS-TRUST/trusts/${trust.id}`, undefined, 204);
    assert.equal((await validate(token)).statusCode, 404);
    // The other process hears the trust table's NOTIFY; wait for it, turn by turn.
    let seen = 200;
    for (let i = 0; i < 2000 && seen === 200; i++) {
      await new Promise((r) => setImmediate(r));
      seen = (await validate(token, other)).statusCode;
    }
    assert.equal(seen, 404);
    const asCaller = await client(other, () => token).call('GET', `/v3/OS-TRUST/trusts/${trust.id}`);
    assert.equal(asCaller.status, 401);
    assert.equal((await trustToken('trustee', trust.id)).status, 401);
  });

  test('removing the delegated role from the trustor ends the trust: 403 as Keystone', async () => {
    await grant('trustor', 'trust-unheld');
    const { trust } = await createTrust({ roles: [{ name: 'trust-unheld' }] });
    const { token, status } = await trustToken('trustee', trust.id);
    assert.equal(status, 201);
    assert.equal((await validate(token, other)).statusCode, 200);
    await grant('trustor', 'trust-unheld', 'DELETE');
    // 404 when the grant's revocation event (it names the trustor) is later than the token's
    // second, 403 (Keystone's "Trustee has no delegated roles") when both fall in one second.
    assert.ok([403, 404].includes((await validate(token)).statusCode));
    let seen = 200;
    for (let i = 0; i < 2000 && seen === 200; i++) {
      await new Promise((r) => setImmediate(r));
      seen = (await validate(token, other)).statusCode;
    }
    assert.ok([403, 404].includes(seen), String(seen));
    const again = await trustToken('trustee', trust.id);
    assert.equal(again.status, 403, 'Trustee has no delegated roles');
    assert.equal(
      (
        await app.inject({
          method: 'POST',
          url: '/v3/auth/tokens',
          payload: passwordFor('trustee', trustScope(trust.id)),
        })
      ).json().error.message,
      'You are not authorized to perform the requested action.',
    );
    // The grant's removal ended the trustor's own tokens on the project too: a new one.
    tokens.trustor = (await issue(app, passwordFor('trustor', { project: { id: projectId } }))).token;
  });

  test('disabling the trustor (403) or the trustee (401) ends the trust', async () => {
    const trustor2 = await newUser('trustor2');
    await grant('trustor2', 'trust-delegated');
    tokens.trustor2 = (await issue(app, passwordFor('trustor2', { project: { id: projectId } }))).token;
    const { trust } = await createTrust({ trustor_user_id: trustor2 }, 'trustor2');
    const { token } = await trustToken('trustee', trust.id);
    assert.equal((await validate(token)).statusCode, 200);
    await api().ok('PATCH', `/v3/users/${trustor2}`, { user: { enabled: false } });
    assert.notEqual((await validate(token)).statusCode, 200);
    assert.equal((await trustToken('trustee', trust.id)).status, 403);
    await api().ok('PATCH', `/v3/users/${trustor2}`, { user: { enabled: true } });
    assert.equal((await trustToken('trustee', trust.id)).status, 201);

    const trustee2 = await newUser('trustee2');
    const second = await createTrust({ trustee_user_id: trustee2 });
    const mine = await trustToken('trustee2', second.trust.id);
    assert.equal(mine.status, 201);
    await api().ok('PATCH', `/v3/users/${trustee2}`, { user: { enabled: false } });
    assert.equal((await validate(mine.token)).statusCode, 404);
    assert.equal((await trustToken('trustee2', second.trust.id)).status, 401);
    // Deleting the trustee deletes the trust (Keystone's _on_user_delete).
    await api().ok('DELETE', `/v3/users/${trustee2}`, undefined, 204);
    assert.equal((await as('trustor').call('GET', `/v3/OS-TRUST/trusts/${second.trust.id}`)).status, 404);
  });

  test('redelegation: bounded by redelegation_count, never wider, deleted with its source', async () => {
    const { trust: first } = await createTrust({
      impersonation: true,
      allow_redelegation: true,
      redelegation_count: 2,
    });
    assert.equal(first.redelegation_count, 2);
    const firstToken = (await trustToken('trustee', first.id)).token;
    const redelegate = (token: string, trustee: string, fields: Record<string, unknown> = {}) =>
      client(app, () => token).call('POST', '/v3/OS-TRUST/trusts', {
        trust: {
          trustor_user_id: users.trustor,
          trustee_user_id: trustee,
          project_id: projectId,
          impersonation: true,
          roles: [{ name: 'trust-delegated' }],
          allow_redelegation: true,
          ...fields,
        },
      });
    // Wider than the source (a role it does not delegate), or a changed count: 403.
    assert.equal(
      (await redelegate(firstToken, users.third as string, { roles: [{ name: 'trust-kept' }] })).status,
      403,
    );
    assert.equal(
      (await redelegate(firstToken, users.third as string, { redelegation_count: 0 })).status,
      201,
    );
    const second = await redelegate(firstToken, users.stranger as string);
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.equal(second.body.trust.redelegated_trust_id, first.id);
    assert.equal(second.body.trust.redelegation_count, 1);
    const secondToken = (await trustToken('stranger', second.body.trust.id)).token;
    const third = await redelegate(secondToken, users.third as string);
    assert.equal(third.status, 201);
    assert.equal(third.body.trust.redelegation_count, 0);
    const thirdToken = (await trustToken('third', third.body.trust.id)).token;
    assert.equal((await validate(thirdToken)).statusCode, 200);
    // The chain's end cannot go further.
    assert.equal((await redelegate(thirdToken, users.trustee as string)).status, 403);
    // Deleting the first trust deletes the chain, and the last token with it.
    await as('trustor').ok('DELETE', `/v3/OS-TRUST/trusts/${first.id}`, undefined, 204);
    assert.equal((await validate(thirdToken)).statusCode, 404);
    assert.equal((await as('trustor').call('GET', `/v3/OS-TRUST/trusts/${third.body.trust.id}`)).status, 404);
  });

  test('an application credential token manages no trusts (Keystone: delegated tokens)', async () => {
    const made = await as('trustor').ok(
      'POST',
      `/v3/users/${users.trustor}/application_credentials`,
      { application_credential: { name: `delegated-${Date.now()}` } },
      201,
    );
    const login = await issue(app, {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: {
            id: made.application_credential.id,
            secret: made.application_credential.secret,
          },
        },
      },
    });
    assert.equal(login.status, 201);
    const delegated = client(app, () => login.token);
    // Keystone's ForbiddenAction adds its period after the action's own: two of them.
    const message =
      'You are not authorized to perform the requested action: Delegated tokens cannot manage trusts..';
    const listed = await delegated.call('GET', `/v3/OS-TRUST/trusts?trustor_user_id=${users.trustor}`);
    assert.deepEqual([listed.status, listed.body.error.message], [403, message]);
    const created = await delegated.call('POST', '/v3/OS-TRUST/trusts', {
      trust: {
        trustor_user_id: users.trustor,
        trustee_user_id: users.trustee,
        project_id: projectId,
        impersonation: false,
        roles: [{ name: 'trust-delegated' }],
      },
    });
    assert.deepEqual([created.status, created.body.error.message], [403, message]);
  });

  test('scope errors: a missing trust is 401, a trust scope without an id 400', async () => {
    assert.equal((await trustToken('trustee', 'f'.repeat(32))).status, 401);
    const res = await app.inject({
      method: 'POST',
      url: '/v3/auth/tokens',
      payload: passwordFor('trustee', { 'OS-TRUST:trust': '' }),
    });
    assert.equal(res.statusCode, 400);
  });
});
