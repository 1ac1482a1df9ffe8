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

/**
 * Creates bench-u-NNN users (the names shared/tools/keystone-reference/bench.sh uses) until the
 * service lists `wanted` of them, eight requests at a time; without a users API it lists what there is.
 */
async function ensureUsers(base, token, wanted) {
  const list = await call(base, 'GET', '/v3/users', { token });
  if (list.status !== 200) return { status: list.status, listed: 0, created: 0 };
  const have = new Set((list.json?.users ?? []).map((u) => u.name));
  const missing = [];
  for (let i = 0; i < wanted; i++) {
    const name = `bench-u-${String(i).padStart(3, '0')}`;
    if (!have.has(name)) missing.push(name);
  }
  let created = 0;
  for (let i = 0; i < missing.length; i += 8) {
    const batch = await Promise.all(
      missing.slice(i, i + 8).map((name) =>
        call(base, 'POST', '/v3/users', {
          token,
          body: { user: { name, domain_id: 'default', description: 'bench.sh list filler' } },
        }),
      ),
    );
    created += batch.filter((r) => r.status === 201).length;
    if (batch.some((r) => r.status !== 201 && r.status !== 409)) break; // no create API
  }
  const after = created > 0 ? await call(base, 'GET', '/v3/users', { token }) : list;
  return { status: after.status, listed: after.json?.users?.length ?? 0, created, bytes: after.bytes };
}

const MEMBER = { name: 'bench-member', password: 'bench member password' };

/**
 * A user with the member role on the benchmark's project, and a token of its own: what a
 * member's `GET /v3/users/{id}/projects` (`openstack project list --my-projects`) is measured with.
 * Null where the service has no users, roles or grants API.
 */
async function ensureMember(base, admin, creds) {
  const first = async (path, key) => (await call(base, 'GET', path, { token: admin })).json?.[key]?.[0];
  let user = await first(`/v3/users?name=${MEMBER.name}&domain_id=default`, 'users');
  if (!user) {
    const r = await call(base, 'POST', '/v3/users', {
      token: admin,
      body: { user: { name: MEMBER.name, domain_id: 'default', password: MEMBER.password } },
    });
    user = r.json?.user;
  }
  const project = await first(`/v3/projects?name=${encodeURIComponent(creds.OS_PROJECT_NAME)}`, 'projects');
  const role = await first('/v3/roles?name=member', 'roles');
  if (!user || !project || !role) return null;
  const grant = await call(base, 'PUT', `/v3/projects/${project.id}/users/${user.id}/roles/${role.id}`, {
    token: admin,
  });
  if (grant.status !== 204) return null;
  const token = await issueToken(base, {
    OS_USERNAME: MEMBER.name,
    OS_PASSWORD: MEMBER.password,
    OS_PROJECT_NAME: creds.OS_PROJECT_NAME,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_DOMAIN_NAME: creds.OS_PROJECT_DOMAIN_NAME,
  });
  return { id: user.id, token };
}

/**
 * A trust-scoped token to validate: the admin (trustor) delegates `member` on the benchmark's
 * project to the member (trustee), who logs in with the trust. Null where there are no trusts.
 */
async function trustToken(base, admin, member) {
  if (!member) return null;
  const self = await call(base, 'GET', '/v3/auth/tokens', {
    token: admin,
    headers: { 'x-subject-token': admin },
  });
  const project = self.json?.token?.project?.id;
  const trustor = self.json?.token?.user?.id;
  if (!project || !trustor) return null;
  const made = await call(base, 'POST', '/v3/OS-TRUST/trusts', {
    token: admin,
    body: {
      trust: {
        trustor_user_id: trustor,
        trustee_user_id: member.id,
        project_id: project,
        impersonation: false,
        roles: [{ name: 'member' }],
      },
    },
  });
  if (made.status !== 201) return null;
  const login = await call(base, 'POST', '/v3/auth/tokens?nocatalog', {
    body: {
      auth: {
        identity: { methods: ['token'], token: { id: member.token } },
        scope: { 'OS-TRUST:trust': { id: made.json.trust.id } },
      },
    },
  });
  return login.status === 201 ? login.headers.get('x-subject-token') : null;
}

/**
 * Tokens and data for the identity scenarios: an admin token (X-Auth-Token), a second, fresh
 * project-scoped token to validate (X-Subject-Token), the login body, and, when the scenarios
 * need them, `users` listable users and a member with a token of its own.
 */
export async function prepareIdentity(base, creds, { users, member, trust }) {
  const admin = await issueToken(base, creds);
  const subject = await issueToken(base, creds);
  const check = await call(base, 'GET', '/v3/auth/tokens', {
    token: admin,
    headers: { 'x-subject-token': subject },
  });
  if (check.status !== 200) throw new Error(`token validation on ${base} answered ${check.status}`);
  const list = users > 0 ? await ensureUsers(base, admin, users) : { status: null, listed: 0, created: 0 };
  const made = member ? await ensureMember(base, admin, creds) : null;
  return {
    base,
    admin,
    subject,
    creds,
    users: list,
    member: made,
    trust: trust ? await trustToken(base, admin, made) : null,
  };
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
    case 'trust':
      return {
        url: url('/v3/auth/tokens'),
        headers: { 'x-auth-token': ctx.admin, 'x-subject-token': ctx.trust },
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
    case 'projects':
      return {
        url: url(`/v3/users/${ctx.member.id}/projects`),
        headers: { 'x-auth-token': ctx.member.token },
      };
    default:
      throw new Error(`no identity request for ${scenario}`);
  }
}
