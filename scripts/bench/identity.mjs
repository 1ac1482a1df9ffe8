// The identity scenarios' requests, the same shapes as shared/tools/keystone-reference/bench.sh
// uses against the real Keystone, so figures from both can stand side by side.

export function loginBody(c) {
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: {
            name: c.OS_USERNAME ?? 'admin',
            domain: { name: c.OS_USER_DOMAIN_NAME ?? 'Default' },
            password: c.OS_PASSWORD,
          },
        },
      },
      scope: {
        project: {
          name: c.OS_PROJECT_NAME ?? 'admin',
          domain: { name: c.OS_PROJECT_DOMAIN_NAME ?? 'Default' },
        },
      },
    },
  };
}

async function call(base, method, path, { token, body, headers } = {}) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { 'x-auth-token': token } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, json, bytes: Buffer.byteLength(text) };
}

async function issueToken(base, creds) {
  const r = await call(base, 'POST', '/v3/auth/tokens?nocatalog', { body: loginBody(creds) });
  if (r.status !== 201)
    throw new Error(`password login to ${base} answered ${r.status}: ${JSON.stringify(r.json)}`);
  return r.headers.get('x-subject-token');
}

/** Creates bench-u-NNN users up to `wanted` when the service has the users API; returns how many it listed. */
async function ensureUsers(base, token, wanted) {
  const list = await call(base, 'GET', '/v3/users', { token });
  if (list.status !== 200) return { status: list.status, listed: 0, created: 0 };
  const have = new Set((list.json?.users ?? []).map((u) => u.name));
  let created = 0;
  for (let i = 0; i < wanted; i++) {
    const name = `bench-u-${String(i).padStart(3, '0')}`;
    if (have.has(name)) continue;
    const r = await call(base, 'POST', '/v3/users', {
      token,
      body: { user: { name, domain_id: 'default', description: 'bench.sh list filler' } },
    });
    if (r.status !== 201) break; // no create API: list what there is
    created++;
  }
  const after = created > 0 ? await call(base, 'GET', '/v3/users', { token }) : list;
  return { status: after.status, listed: after.json?.users?.length ?? 0, created, bytes: after.bytes };
}

/**
 * Tokens and data for the identity scenarios: an admin token (X-Auth-Token), a second, fresh
 * project-scoped token to validate (X-Subject-Token), and the login body.
 */
export async function prepareIdentity(base, creds, users) {
  const admin = await issueToken(base, creds);
  const subject = await issueToken(base, creds);
  const check = await call(base, 'GET', '/v3/auth/tokens', {
    token: admin,
    headers: { 'x-subject-token': subject },
  });
  if (check.status !== 200) throw new Error(`token validation on ${base} answered ${check.status}`);
  const list = await ensureUsers(base, admin, users);
  return { base, admin, subject, creds, users: list };
}

/** The autocannon request for an identity scenario. */
export function identityRequest(scenario, ctx) {
  const url = (path) => `${ctx.base}${path}`;
  switch (scenario) {
    case 'version':
      return { url: url('/v3'), headers: { accept: 'application/json' } };
    case 'validate':
      return {
        url: url('/v3/auth/tokens'),
        headers: { 'x-auth-token': ctx.admin, 'x-subject-token': ctx.subject },
      };
    case 'issue':
      return {
        url: url('/v3/auth/tokens'),
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(loginBody(ctx.creds)),
      };
    case 'users':
      return { url: url('/v3/users'), headers: { 'x-auth-token': ctx.admin } };
    default:
      throw new Error(`no identity request for ${scenario}`);
  }
}
