/**
 * Attacks on the identity service, each made through the real stack (nginx from the deployment's
 * template, the gateway's FastCGI server, this app, PostgreSQL) and each refused: the password
 * change as an oracle, application-credential access rules, domain-specific roles in tokens, the
 * lockout race, the login rate limit and the hash queue, and lists that cost a cheap caller the
 * whole cloud.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { build } from '../src/app.js';
import { createPool } from '../src/db.js';
import { hashingChanges, hashingStats, hashPassword } from '../src/identity/passwords.js';
import { createServices, type Services } from '../src/services.js';
import { at, until } from './events.js';
import { ADMIN_PASSWORD, type TestDatabase, testDatabase } from './helpers.js';
import { createPersonas, type Personas } from './personas.js';
import { type Stack, throughNginx } from './through-nginx.js';

const newId = () => randomUUID().replaceAll('-', '');
const user = (name: string, domainId = 'default', enabled = true) => ({
  name,
  domainId,
  enabled,
  defaultProjectId: null,
  description: '',
  options: {},
  extra: {},
});
const passwordLogin = (userId: string, password: string, scope?: unknown) => ({
  auth: {
    identity: { methods: ['password'], password: { user: { id: userId, password } } },
    ...(scope === undefined ? {} : { scope }),
  },
});
const change = (original: string, next: string) => ({
  user: { original_password: original, password: next },
});

async function nextSecond(time: string): Promise<void> {
  const next = Math.floor(Date.parse(time) / 1000) * 1000 + 1000;
  await at(next);
}

async function adminToken(stack: Stack): Promise<string> {
  const res = await stack.request('POST', '/v3/auth/tokens', {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: 'admin', domain: { id: 'default' }, password: ADMIN_PASSWORD } },
      },
      scope: { system: { all: true } },
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.headers['x-subject-token'] as string;
}

describe('password change as an oracle, and the lockout race', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  before(async () => {
    t = await testDatabase({
      env: { IDENTITY_LOCKOUT_FAILURE_ATTEMPTS: '3', IDENTITY_PASSWORD_HASH_ROUNDS: '10' },
    });
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });
  const failures = async (id: string) =>
    (await t.db.query<{ n: number }>('SELECT failed_auth_count AS n FROM "user" WHERE id = $1', [id])).rows[0]
      ?.n;

  test('an unknown user id is 401 on password change, as a wrong password is (no user enumeration)', async () => {
    const res = await stack.request('POST', `/v3/users/${newId()}/password`, change('guess', 'next one'));
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 401);
  });

  test('wrong originals on password change count toward lockout; a locked account cannot change its password', async () => {
    const bob = await app.services.identity.createUser(user(`bob-${newId()}`), 'bob password');
    for (let i = 0; i < 3; i++) {
      const res = await stack.request('POST', `/v3/users/${bob.id}/password`, change(`guess ${i}`, 'x'));
      assert.equal(res.status, 401);
    }
    assert.equal(await failures(bob.id), 3, 'each wrong original is a failed authentication');
    const locked = await stack.request(
      'POST',
      `/v3/users/${bob.id}/password`,
      change('bob password', 'new bob password'),
    );
    assert.equal(locked.status, 401, 'the right original does not get past the lock');
    assert.match(locked.body.error.message, /locked/);
    const login = await stack.request('POST', '/v3/auth/tokens', passwordLogin(bob.id, 'bob password'));
    assert.equal(login.status, 401, 'nor does a login');
    assert.equal(await failures(bob.id), 3, 'a refused attempt while locked is not a reset');
  });

  test('a disabled user cannot change their password', async () => {
    const carol = await app.services.identity.createUser(
      user(`carol-${newId()}`, 'default', false),
      'carol pw',
    );
    const res = await stack.request(
      'POST',
      `/v3/users/${carol.id}/password`,
      change('carol pw', 'new carol'),
    );
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.ok(await app.services.identity.hasPassword(carol.id, 'carol pw'), 'the password is unchanged');
  });

  test('a password change with the right original still works', async () => {
    const dave = await app.services.identity.createUser(user(`dave-${newId()}`), 'dave pw');
    const res = await stack.request('POST', `/v3/users/${dave.id}/password`, change('dave pw', 'new dave'));
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.ok(await app.services.identity.hasPassword(dave.id, 'new dave'));
  });

  test('lockout race: 20 parallel wrong guesses with lockout after 3 get 3 password checks', async () => {
    const eve = await app.services.identity.createUser(user(`eve-${newId()}`), 'eve password');
    const before = hashingStats().completed;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        stack.request('POST', '/v3/auth/tokens', passwordLogin(eve.id, `guess ${i}`)),
      ),
    );
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set([401]));
    assert.equal(await failures(eve.id), 3, 'only three attempts were let through to the hash');
    assert.equal(hashingStats().completed - before, 3, 'three hashes were computed');
    assert.equal(results.filter((r) => /locked/.test(r.body.error.message)).length, 17);
  });
});

describe('application credential access rules', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let admin: string;
  let userId: string;
  let projectId: string;
  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
    admin = await adminToken(stack);
    const s = app.services;
    userId = (await s.identity.createUser(user(`frank-${newId()}`), 'frank pw')).id;
    projectId = (await s.resource.project({ name: 'admin', domain: { id: 'default' } }))?.id as string;
    const member = await s.assignment.ensureGlobalRole(newId(), 'member');
    await s.assignment.grant({
      actor: { type: 'user', id: userId },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });

  const credentialToken = async (accessRules: Array<{ service: string; path: string; method: string }>) => {
    const member = await app.services.assignment.ensureGlobalRole(newId(), 'member');
    const created = await app.services.credential.create({
      name: `cred-${newId()}`,
      userId,
      projectId,
      description: '',
      roleIds: [member],
      expiresAt: null,
      unrestricted: false,
      accessRules,
    });
    const res = await stack.request('POST', '/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: created.id, secret: created.secret },
        },
      },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { token: res.headers['x-subject-token'] as string, body: res.body, rules: created.access_rules };
  };

  test('access rules bypass: the token carries the rules, and a validator that does not understand them gets 404', async () => {
    const rule = { service: 'compute', path: '/v2.1/servers', method: 'GET' };
    const { token, body, rules } = await credentialToken([rule]);
    const expected = [{ id: rules[0]?.id, ...rule }];
    assert.deepEqual(body.token.application_credential.access_rules, expected);
    const validate = (headers: Record<string, string>) =>
      stack.request('GET', '/v3/auth/tokens', undefined, {
        'x-auth-token': admin,
        'x-subject-token': token,
        ...headers,
      });
    const blind = await validate({});
    assert.equal(blind.status, 404, 'a validator without OpenStack-Identity-Access-Rules');
    assert.equal(blind.body.error.code, 404);
    assert.equal((await validate({ 'openstack-identity-access-rules': '0.9' })).status, 404);
    assert.equal((await validate({ 'openstack-identity-access-rules': 'x' })).status, 404);
    const aware = await validate({ 'openstack-identity-access-rules': '1.0' });
    assert.equal(aware.status, 200, JSON.stringify(aware.body));
    assert.deepEqual(aware.body.token.application_credential.access_rules, expected);
    const head = await stack.request('HEAD', '/v3/auth/tokens', undefined, {
      'x-auth-token': admin,
      'x-subject-token': token,
    });
    assert.equal(head.status, 404);
    // Used as the caller's own token against this service, without the header: not valid.
    const asCaller = await stack.request('GET', `/v3/users/${userId}/application_credentials`, undefined, {
      'x-auth-token': token,
    });
    assert.equal(asCaller.status, 401);
  });

  test('a credential without access rules validates as before, with no access_rules key', async () => {
    const { token, body } = await credentialToken([]);
    assert.equal('access_rules' in body.token.application_credential, false);
    const res = await stack.request('GET', '/v3/auth/tokens', undefined, {
      'x-auth-token': admin,
      'x-subject-token': token,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});

describe('domain-specific roles', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });

  test('a domain role named admin does not grant the global admin role in a token', async () => {
    const s = app.services;
    const domainId = newId();
    await s.resource.ensureDomain(domainId, `d-${newId()}`, '');
    const projectId = await s.resource.ensureProject({ id: newId(), name: 'p', domainId, description: '' });
    const fake = await s.assignment.createRole({ name: 'admin', domainId, description: '', options: {} });
    const mallory = (await s.identity.createUser(user(`mallory-${newId()}`, domainId), 'mallory pw')).id;
    await s.assignment.createGrant({
      actor: { type: 'user', id: mallory },
      target: { type: 'project', id: projectId },
      roleId: fake.id,
    });
    const scope = { project: { id: projectId } };
    const res = await stack.request('POST', '/v3/auth/tokens', passwordLogin(mallory, 'mallory pw', scope));
    assert.equal(res.status, 401, `a domain role alone gives no scoped token: ${JSON.stringify(res.body)}`);

    // What a domain role implies counts; the domain role itself does not.
    const reader = await s.assignment.ensureGlobalRole(newId(), 'reader');
    await s.assignment.createInference(fake.id, reader);
    const implied = await stack.request(
      'POST',
      '/v3/auth/tokens',
      passwordLogin(mallory, 'mallory pw', scope),
    );
    assert.equal(implied.status, 201, JSON.stringify(implied.body));
    assert.deepEqual(
      implied.body.token.roles.map((r: { name: string }) => r.name),
      ['reader'],
    );
    const users = await stack.request('GET', '/v3/users', undefined, {
      'x-auth-token': implied.headers['x-subject-token'] as string,
    });
    assert.equal(users.status, 403);
  });
});

describe('login rate limit and the hash queue', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let limited: Stack;
  before(async () => {
    t = await testDatabase({
      env: { IDENTITY_PASSWORD_HASH_CONCURRENCY: '1', IDENTITY_PASSWORD_HASH_QUEUE: '1' },
    });
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
    limited = await throughNginx(app, { authRate: '1r/m' });
  });
  after(async () => {
    await stack?.stop();
    await limited?.stop();
    await app?.close();
    await t?.drop();
  });

  /** Posts until nginx answers 429 (true) or `max` requests went through (false). */
  async function limitedWithin(path: string, max: number): Promise<boolean> {
    for (let i = 0; i < max; i++) {
      const res = await limited.request('POST', path, {});
      if (res.status === 429) {
        assert.equal(res.body.error.code, 429, 'Keystone-shaped body');
        return true;
      }
    }
    return false;
  }

  test('rate limit bypass: POST /v3/auth/tokens/ (trailing slash) is limited too', async () => {
    assert.ok(await limitedWithin('/v3/auth/tokens/', 110));
  });

  test('rate limit bypass: the password change route is limited with the logins', async () => {
    assert.ok(await limitedWithin(`/v3/users/${newId()}/password`, 110));
  });

  test('hash queue flood: a full queue is 503 with Retry-After, and a queued login whose client left is dropped', async () => {
    const s = app.services;
    // One user whose stored hash is slow (bcrypt cost 14): its check holds the only hashing thread.
    const slow = (await s.identity.createUser(user(`slow-${newId()}`), null)).id;
    await t.db.query('INSERT INTO password (user_id, hash) VALUES ($1, $2)', [
      slow,
      await hashPassword('slow pw', { algorithm: 'bcrypt', rounds: 14 }),
    ]);
    const fast = (await s.identity.createUser(user(`fast-${newId()}`), 'fast pw')).id;
    const start = hashingStats();

    const running = stack.request('POST', '/v3/auth/tokens', passwordLogin(slow, 'slow pw'));
    await until('the slow check to run', hashingChanges, 'change', () => hashingStats().running === 1);
    const gone = new AbortController();
    const queued = stack
      .request('POST', '/v3/auth/tokens', passwordLogin(fast, 'fast pw'), {}, gone.signal)
      .catch((err: Error) => err);
    await until('a login to queue', hashingChanges, 'change', () => hashingStats().queued === 1);

    const refused = await stack.request('POST', '/v3/auth/tokens', passwordLogin(fast, 'fast pw'));
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.deepEqual(Object.keys(refused.body.error).sort(), ['code', 'message', 'title']);
    assert.equal(refused.body.error.code, 503);
    assert.equal(refused.body.error.title, 'Service Unavailable');
    assert.match(String(refused.headers['retry-after']), /^\d+$/);

    gone.abort();
    assert.ok((await queued) instanceof Error, 'the client went away');
    await until(
      'the abandoned login to leave the queue',
      hashingChanges,
      'change',
      () => hashingStats().queued === 0,
    );
    assert.equal(hashingStats().dropped - start.dropped, 1);
    assert.equal((await running).status, 201);
    assert.equal(hashingStats().completed - start.completed, 1, 'only the slow check was computed');
    const after = await stack.request('POST', '/v3/auth/tokens', passwordLogin(fast, 'fast pw'));
    assert.equal(after.status, 201, 'logins work again once the queue drains');
  });
});

describe('lists that cost a cheap caller the whole cloud', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let p: Personas;
  let rowsRead = 0;
  before(async () => {
    t = await testDatabase({ env: { IDENTITY_LIST_LIMIT: '5' } });
    p = await createPersonas(t);
    // Every row the app reads from PostgreSQL through the pool is counted.
    const query = t.db.query.bind(t.db) as (...args: unknown[]) => Promise<pg.QueryResult>;
    (t.db as unknown as { query: (...args: unknown[]) => Promise<pg.QueryResult> }).query = async (
      ...args: unknown[]
    ) => {
      const result = await query(...args);
      rowsRead += result.rows?.length ?? 0;
      return result;
    };
    // The rest of the cloud: 300 users with a role on a project of another domain, each with a credential.
    await t.db.query(
      `INSERT INTO "user" (id, name, domain_id) SELECT md5(i::text), 'bulk-' || i, $1 FROM generate_series(1, 300) i`,
      [p.otherDomainId],
    );
    await t.db.query(
      `INSERT INTO assignment (actor_type, actor_id, target_type, target_id, role_id, inherited)
       SELECT 'user', md5(i::text), 'project', $1, $2, false FROM generate_series(1, 300) i`,
      [p.otherProjectId, p.roles.member],
    );
    app = await build({ config: t.config, db: t.db });
    for (let i = 1; i <= 300; i++)
      await app.services.credential.createCredential({
        user_id: (await t.db.query<{ id: string }>('SELECT md5($1::text) AS id', [String(i)])).rows[0]
          ?.id as string,
        project_id: null,
        type: 'cert',
        blob: `bulk ${i}`,
      });
    for (let i = 0; i < 7; i++)
      await app.services.credential.createCredential({
        user_id: p.userIds.own_user,
        project_id: null,
        type: 'cert',
        blob: `own ${i}`,
      });
    stack = await throughNginx(app);
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });

  const read = async (path: string, headers: Record<string, string>) => {
    rowsRead = 0;
    const res = await stack.request('GET', path, undefined, headers);
    return { res, rows: rowsRead };
  };

  test("a domain reader's effective role assignments do not read the other domains' grants", async () => {
    const { res, rows } = await read('/v3/role_assignments?effective', p.headers('domain_reader'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const a of res.body.role_assignments) {
      const scope = a.scope.domain?.id ?? a.scope.project?.id;
      assert.ok([p.domainId, p.projectId, p.ownProjectId].includes(scope), `in the domain: ${scope}`);
    }
    assert.ok(rows < 100, `rows read for a domain of a few grants: ${rows}`);
  });

  test("a user's credential list does not decrypt (or read) everyone's credentials", async () => {
    const { res, rows } = await read('/v3/credentials', p.headers('own_user'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(
      res.body.credentials.every((c: { user_id: string }) => c.user_id === p.userIds.own_user),
      'only the caller’s own',
    );
    assert.ok(rows < 100, `rows read for seven credentials: ${rows}`);
  });

  test('list_limit caps lists and says "truncated": true, as Keystone does', async () => {
    const creds = await stack.request('GET', '/v3/credentials', undefined, p.headers('own_user'));
    assert.equal(creds.body.credentials.length, 5);
    assert.equal(creds.body.truncated, true);
    const assignments = await stack.request(
      'GET',
      '/v3/role_assignments?effective',
      undefined,
      p.headers('system_admin'),
    );
    assert.equal(assignments.body.role_assignments.length, 5);
    assert.equal(assignments.body.truncated, true);
    const few = await stack.request('GET', '/v3/credentials?type=none', undefined, p.headers('own_user'));
    assert.equal(few.body.credentials.length, 0);
    assert.equal('truncated' in few.body, false, 'no truncated key when nothing was cut');
  });
});

/**
 * A TCP relay to PostgreSQL that can go silent the way a NAT or a failed-over proxy does: the
 * connections it has stop carrying bytes either way without being closed; new ones work. It can
 * also hold what PostgreSQL sends (a slow network, a busy server) and let it through later, in order.
 */
async function silentRelay(target: URL): Promise<{
  url: string;
  silence(): void;
  /** Holds PostgreSQL's bytes; resolves once the app has sent something meanwhile. */
  hold(): Promise<void>;
  release(): void;
  close(): Promise<void>;
}> {
  const live = new Set<{ silent: boolean; a: Socket; b: Socket }>();
  let held: Array<() => void> | null = null;
  const sent = new EventEmitter();
  const server: Server = createServer((a) => {
    const b = createConnection(Number(target.port), target.hostname);
    const pair = { silent: false, a, b };
    live.add(pair);
    a.on('data', (d) => {
      if (pair.silent) return;
      b.write(d);
      if (held) sent.emit('sent');
    });
    b.on('data', (d) => {
      if (pair.silent) return;
      if (held) held.push(() => a.write(d));
      else a.write(d);
    });
    const end = () => {
      live.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('close', end).on('error', end);
    b.on('close', end).on('error', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = new URL(target.href);
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.href,
    silence() {
      for (const pair of live) pair.silent = true;
    },
    hold() {
      held = [];
      return once(sent, 'sent').then(() => undefined);
    },
    release() {
      const writes = held ?? [];
      held = null;
      for (const write of writes) write();
    },
    async close() {
      for (const pair of live) {
        pair.a.destroy();
        pair.b.destroy();
      }
      server.close();
    },
  };
}

describe('revocation over a half-open LISTEN connection, and application credential expiry', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let relay: Awaited<ReturnType<typeof silentRelay>>;
  let other: Services;
  let otherDb: ReturnType<typeof createPool>;
  let projectId: string;
  let member: string;
  before(async () => {
    t = await testDatabase({ env: { IDENTITY_INVALIDATION_HEARTBEAT: '1' } });
    relay = await silentRelay(new URL(t.url));
    // This instance's LISTEN connection goes through the relay; its queries do not.
    app = await build({ config: { ...t.config, databaseUrl: relay.url }, db: t.db });
    stack = await throughNginx(app);
    otherDb = createPool(t.url, 2);
    other = createServices(otherDb, t.config); // another worker or replica
    projectId = (await app.services.resource.project({ name: 'admin', domain: { id: 'default' } }))
      ?.id as string;
    member = await app.services.assignment.ensureGlobalRole(newId(), 'member');
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await relay?.close();
    await otherDb?.end();
    await t?.drop();
  });
  /** GET /v3/auth/tokens for `token`, by the admin (the subject's own refusal is a 404). */
  const validate = async (token: string) =>
    stack.request('GET', '/v3/auth/tokens', undefined, {
      'x-auth-token': await adminToken(stack),
      'x-subject-token': token,
    });

  test('a silently dead LISTEN connection turns the cache off: a revocation made elsewhere is honoured', async () => {
    const s = app.services;
    const grace = (await s.identity.createUser(user(`grace-${newId()}`), 'grace pw')).id;
    await s.assignment.grant({
      actor: { type: 'user', id: grace },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
    await until('LISTEN to be up', s.invalidation.changes, 'change', () => s.invalidation.enabled);
    const login = await stack.request(
      'POST',
      '/v3/auth/tokens',
      passwordLogin(grace, 'grace pw', { project: { id: projectId } }),
    );
    assert.equal(login.status, 201);
    const token = login.headers['x-subject-token'] as string;
    assert.equal((await validate(token)).status, 200, 'validated, and now cached');

    relay.silence();
    await nextSecond(login.body.token.issued_at);
    await other.revocation.revokeUser(grace); // its NOTIFY never arrives here
    await until(
      'a missed heartbeat to turn the cache off',
      s.invalidation.changes,
      'change',
      () => !s.invalidation.enabled,
    );
    assert.equal((await validate(token)).status, 404, 'the revocation is seen without the cache');
    await until(
      'LISTEN to be back on a new connection',
      s.invalidation.changes,
      'change',
      () => s.invalidation.enabled,
    );
    assert.equal((await validate(token)).status, 404);
  });

  test('a token revoked through another worker is refused here at once, before its NOTIFY lands', async () => {
    const s = app.services;
    const judy = (await s.identity.createUser(user(`judy-${newId()}`), 'judy pw')).id;
    await s.assignment.grant({
      actor: { type: 'user', id: judy },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
    await until('LISTEN to be up', s.invalidation.changes, 'change', () => s.invalidation.enabled);
    const login = await stack.request(
      'POST',
      '/v3/auth/tokens',
      passwordLogin(judy, 'judy pw', { project: { id: projectId } }),
    );
    assert.equal(login.status, 201);
    const token = login.headers['x-subject-token'] as string;
    const admin = await adminToken(stack);
    const check = () =>
      stack.request('GET', '/v3/auth/tokens', undefined, { 'x-auth-token': admin, 'x-subject-token': token });
    assert.equal((await check()).status, 200, 'validated, and now cached');
    await nextSecond(login.body.token.issued_at);
    // What PostgreSQL sends this instance's LISTEN connection waits in the relay: the revocation's
    // NOTIFY, committed before the check is sent, arrives late.
    const asked = relay.hold();
    await other.revocation.revokeUser(judy);
    const answer = check();
    // The instance has asked PostgreSQL something on that connection; then the network catches up.
    await asked;
    relay.release();
    assert.equal((await answer).status, 404);
    assert.ok(s.invalidation.enabled, 'the cache stayed on: the revocation was heard, not bypassed');
  });

  test("a cached application credential token ends at the credential's expiry", async () => {
    const s = app.services;
    await until('LISTEN to be up', s.invalidation.changes, 'change', () => s.invalidation.enabled);
    const heidi = (await s.identity.createUser(user(`heidi-${newId()}`), 'heidi pw')).id;
    await s.assignment.grant({
      actor: { type: 'user', id: heidi },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
    const expiresAt = new Date(Date.now() + 3000);
    const created = await s.credential.create({
      name: `soon-${newId()}`,
      userId: heidi,
      projectId,
      description: '',
      roleIds: [member],
      expiresAt: expiresAt.toISOString(),
      unrestricted: false,
      accessRules: [],
    });
    const login = await stack.request('POST', '/v3/auth/tokens', {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: created.id, secret: created.secret },
        },
      },
    });
    assert.equal(login.status, 201, JSON.stringify(login.body));
    const token = login.headers['x-subject-token'] as string;
    assert.ok(Date.parse(login.body.token.expires_at) <= expiresAt.getTime(), 'no later than the credential');
    const admin = await adminToken(stack);
    const check = () =>
      stack.request('GET', '/v3/auth/tokens', undefined, { 'x-auth-token': admin, 'x-subject-token': token });
    assert.equal((await check()).status, 200, 'validated, and now cached');
    await at(expiresAt.getTime() + 1);
    assert.ok(s.invalidation.enabled, 'the cache is on: this is a cache hit');
    assert.equal((await check()).status, 404);
  });
});

describe('a LISTEN connection gone silent holds no request', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let relay: Awaited<ReturnType<typeof silentRelay>>;
  before(async () => {
    t = await testDatabase();
    relay = await silentRelay(new URL(t.url));
    // A heartbeat too far away to notice anything during the test: only the round trip can.
    app = await build({
      config: { ...t.config, databaseUrl: relay.url, invalidationHeartbeat: 3600 },
      db: t.db,
    });
  });
  after(async () => {
    await app?.close();
    await relay?.close();
    await t?.drop();
  });

  test('its round trip is given up: caching stops and the request is answered', {
    timeout: 120_000,
  }, async () => {
    const s = app.services;
    await until('LISTEN to be up', s.invalidation.changes, 'change', () => s.invalidation.enabled);
    relay.silence();
    const res = await app.inject({ method: 'GET', url: '/v3' });
    assert.equal(res.statusCode, 200);
    assert.equal(s.invalidation.enabled, false, 'the silent connection was given up');
    await until(
      'LISTEN to be back on a new connection',
      s.invalidation.changes,
      'change',
      () => s.invalidation.enabled,
    );
    assert.equal((await app.inject({ method: 'GET', url: '/v3' })).statusCode, 200);
  });
});

describe('one clock for revocations and issue times', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let stack: Stack;
  let projectId: string;
  let member: string;
  before(async () => {
    t = await testDatabase();
    app = await build({ config: t.config, db: t.db });
    stack = await throughNginx(app);
    projectId = (await app.services.resource.project({ name: 'admin', domain: { id: 'default' } }))
      ?.id as string;
    member = await app.services.assignment.ensureGlobalRole(newId(), 'member');
  });
  after(async () => {
    await stack?.stop();
    await app?.close();
    await t?.drop();
  });
  /** GET /v3/auth/tokens for `token`, by the admin (the subject's own refusal is a 404). */
  const validate = async (token: string) =>
    stack.request('GET', '/v3/auth/tokens', undefined, {
      'x-auth-token': await adminToken(stack),
      'x-subject-token': token,
    });

  test("clock skew: a token issued by an app whose clock runs ahead does not survive its user's password change", async () => {
    const s = app.services;
    const ivan = (await s.identity.createUser(user(`ivan-${newId()}`), 'ivan pw')).id;
    await s.assignment.grant({
      actor: { type: 'user', id: ivan },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
    const realNow = Date.now;
    Date.now = () => realNow() + 120_000; // this app host's clock is two minutes ahead
    let token: string;
    try {
      const login = await stack.request(
        'POST',
        '/v3/auth/tokens',
        passwordLogin(ivan, 'ivan pw', { project: { id: projectId } }),
      );
      assert.equal(login.status, 201);
      token = login.headers['x-subject-token'] as string;
    } finally {
      Date.now = realNow;
    }
    await nextSecond(new Date(realNow()).toISOString());
    const changed = await stack.request(
      'POST',
      `/v3/users/${ivan}/password`,
      change('ivan pw', 'ivan new pw'),
    );
    assert.equal(changed.status, 204);
    assert.equal((await validate(token)).status, 404);
  });

  test('a revoked token stays revoked whatever issue time it carries', async () => {
    const s = app.services;
    const judy = (await s.identity.createUser(user(`judy-${newId()}`), 'judy pw')).id;
    await s.assignment.grant({
      actor: { type: 'user', id: judy },
      target: { type: 'project', id: projectId },
      roleId: member,
    });
    // Minted by a replica whose clock is a minute ahead (the Fernet keys are shared).
    const { token } = s.tokens.issue(
      judy,
      ['password'],
      { kind: 'project', projectId },
      {
        now: Date.now() + 60_000,
      },
    );
    assert.equal((await validate(token)).status, 200);
    const revoked = await stack.request('DELETE', '/v3/auth/tokens', undefined, {
      'x-auth-token': token,
      'x-subject-token': token,
    });
    assert.equal(revoked.status, 204);
    assert.equal((await validate(token)).status, 404);
  });
});
