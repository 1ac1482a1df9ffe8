/**
 * Version discovery and /v3/auth: issue (password and token methods; project, domain, system,
 * unscoped and default-project scopes), validate, check and revoke tokens, and the caller's
 * catalog, projects, domains and system scope.
 */
import bcrypt from 'bcrypt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db.js';
import { forbidden, IdentityError, unauthorized, validation } from '../errors.js';
import { enforce } from '../policy/enforcer.js';
import * as repo from '../repository.js';
import type { ValidationCache } from '../token/cache.js';
import type { Method, Scope } from '../token/payload.js';
import type { TokenContext, TokenService } from '../token/service.js';
import { baseUrl, renderCatalog, renderProject, renderToken, versionDocument } from './render.js';

export interface AuthDeps {
  db: Db;
  tokens: TokenService;
  publicEndpoint: string | null;
  cache: ValidationCache;
}

type Json = Record<string, unknown>;

let dummy: Promise<string> | null = null;
/** Compared against when the user does not exist, so a wrong name costs what a wrong password does. */
const dummyHash = () => {
  dummy ??= bcrypt.hash('no such user', 12);
  return dummy;
};
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function expect(target: Json, key: string, where: string): unknown {
  if (!(key in target))
    throw validation(
      `Expecting to find ${key} in ${where}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
    );
  return target[key];
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 255) {
    throw validation(
      `Invalid input for field '${field}': expected a non-empty string of at most 255 characters.`,
    );
  }
  return value;
}

function domainRef(value: unknown, field: string): { id?: string; name?: string } {
  if (!isObject(value)) throw validation(`Invalid input for field '${field}': expected an object.`);
  if (typeof value.id === 'string') return { id: str(value.id, `${field}.id`) };
  if (typeof value.name === 'string') return { name: str(value.name, `${field}.name`) };
  throw validation(`Expecting to find id or name in ${field}.`);
}

/** The caller, from X-Auth-Token: 401 when absent or invalid. */
export async function caller(request: FastifyRequest, tokens: TokenService): Promise<TokenContext> {
  const token = request.headers['x-auth-token'];
  if (typeof token !== 'string' || token === '') throw unauthorized('no X-Auth-Token');
  try {
    return await tokens.validate(token);
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_NOT_FOUND')
      throw unauthorized(err.message);
    throw err;
  }
}

export async function authRoutes(app: FastifyInstance, deps: AuthDeps): Promise<void> {
  const { db, tokens, publicEndpoint, cache } = deps;
  // Catalog writes must notify identity_invalidate, as revocations do.
  const catalog = cache.memo(async () => renderCatalog(await repo.catalogRows(db)));

  app.get('/', async (request, reply) => {
    const base = baseUrl(request, publicEndpoint);
    reply.code(300).header('location', `${base}/v3/`);
    return { versions: { values: [versionDocument(base)] } };
  });
  app.get('/v3', async (request) => ({ version: versionDocument(baseUrl(request, publicEndpoint)) }));

  app.post('/v3/auth/tokens', async (request, reply) => {
    const body = request.body;
    if (!isObject(body)) throw validation('Expecting to find auth in request body.');
    const auth = expect(body, 'auth', 'request body');
    if (!isObject(auth)) throw validation("Invalid input for field 'auth': expected an object.");
    const identity = expect(auth, 'identity', 'auth');
    if (!isObject(identity)) throw validation("Invalid input for field 'identity': expected an object.");
    const methods = expect(identity, 'methods', 'identity');
    if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string')) {
      throw validation("Invalid input for field 'identity/methods': expected a non-empty list of strings.");
    }

    let user: repo.UserRow | null;
    let expiresAt: number | undefined;
    let parentAudit: string | undefined;
    let parentScope: Scope | undefined;
    if (methods.includes('password')) {
      const password = expect(identity, 'password', 'identity');
      if (!isObject(password)) throw validation("Invalid input for field 'password': expected an object.");
      const u = expect(password, 'user', 'password');
      if (!isObject(u)) throw validation("Invalid input for field 'user': expected an object.");
      const secret = str(expect(u, 'password', 'user'), 'password');
      if (secret.length > 4096) throw validation('Invalid input for field password: too long.');
      user =
        typeof u.id === 'string'
          ? await repo.userById(db, u.id)
          : await repo.userByName(
              db,
              str(expect(u, 'name', 'user'), 'user.name'),
              domainRef(expect(u, 'domain', 'user'), 'user.domain'),
            );
      // The same 401 for every failure, and bcrypt always runs, so timing tells nothing.
      const ok = await bcrypt.compare(secret, user?.password_hash ?? (await dummyHash()));
      if (!user || !ok) throw unauthorized('invalid username or password');
      if (!user.enabled || !user.domain_enabled) throw unauthorized(`user ${user.id} is disabled`);
    } else if (methods.includes('token')) {
      const t = expect(identity, 'token', 'identity');
      if (!isObject(t)) throw validation("Invalid input for field 'token': expected an object.");
      let parent: TokenContext;
      try {
        parent = await tokens.validate(str(expect(t, 'id', 'token'), 'token.id'));
      } catch {
        throw unauthorized('invalid token');
      }
      user = parent.user;
      expiresAt = parent.payload.expiresAt; // rescoping keeps the original expiry
      parentAudit = parent.payload.auditIds.at(-1);
      parentScope = parent.payload.scope;
    } else {
      throw unauthorized(`unsupported authentication methods ${methods.join(', ')}`);
    }

    const scope = await resolveScope(auth.scope, user, parentScope);
    const used: Method[] = methods.includes('password') ? ['password'] : ['token'];
    const issued = tokens.issue(user.id, used, scope, expiresAt, parentAudit);
    const context = await tokens.validate(issued.token).catch(() => {
      throw unauthorized(`user ${user?.id} has no role on the requested scope`);
    });
    context.issuedAt = Date.now();
    const withCatalog = !('nocatalog' in (request.query as Json));
    reply.code(201).header('x-subject-token', issued.token);
    return renderToken(context, withCatalog && scope.kind !== 'unscoped' ? await catalog() : null);
  });

  /** The scope asked for, checked against the user's roles; the default project when none. */
  async function resolveScope(requested: unknown, user: repo.UserRow, parentScope?: Scope): Promise<Scope> {
    if (requested === undefined) {
      if (parentScope) return parentScope;
      if (user.default_project_id) {
        const roles = await repo.effectiveRoles(db, user.id, {
          type: 'project',
          id: user.default_project_id,
        });
        if (roles.length > 0) return { kind: 'project', projectId: user.default_project_id };
      }
      return { kind: 'unscoped' };
    }
    if (requested === 'unscoped' || (isObject(requested) && 'unscoped' in requested))
      return { kind: 'unscoped' };
    if (!isObject(requested)) throw validation("Invalid input for field 'scope'.");
    let scope: Scope;
    let target: repo.Target;
    if (isObject(requested.project)) {
      const p = requested.project;
      const project =
        typeof p.id === 'string'
          ? await repo.projectBy(db, { id: p.id })
          : await repo.projectBy(db, {
              name: str(expect(p, 'name', 'project'), 'project.name'),
              domain: domainRef(expect(p, 'domain', 'project'), 'project.domain'),
            });
      if (!project?.enabled || !project.domain_enabled) throw unauthorized('project not found or disabled');
      scope = { kind: 'project', projectId: project.id };
      target = { type: 'project', id: project.id };
    } else if (isObject(requested.domain)) {
      const domain = await repo.domainBy(db, domainRef(requested.domain, 'scope.domain'));
      if (!domain?.enabled) throw unauthorized('domain not found or disabled');
      scope = { kind: 'domain', domainId: domain.id };
      target = { type: 'domain', id: domain.id };
    } else if (isObject(requested.system)) {
      scope = { kind: 'system' };
      target = { type: 'system', id: 'all' };
    } else {
      throw validation("Invalid input for field 'scope': expected project, domain, system or unscoped.");
    }
    const roles = await repo.effectiveRoles(db, user.id, target);
    if (roles.length === 0) throw unauthorized(`user ${user.id} has no role on the requested scope`);
    return scope;
  }

  const subject = async (request: FastifyRequest): Promise<TokenContext> => {
    const token = request.headers['x-subject-token'];
    if (typeof token !== 'string' || token === '')
      throw validation('Expecting to find X-Subject-Token in request headers.');
    const query = request.query as Json;
    return tokens.validate(token, {
      allowExpired:
        'allow_expired' in query && query.allow_expired !== '0' && query.allow_expired !== 'false',
    });
  };

  const validateToken = async (
    request: FastifyRequest,
    reply: FastifyReply,
    action: 'identity:validate_token' | 'identity:check_token',
  ) => {
    const who = await caller(request, tokens);
    const target = await subject(request);
    enforce(action, who, { token: { user_id: target.user.id } });
    reply.header('x-subject-token', request.headers['x-subject-token'] as string);
    const withCatalog = !('nocatalog' in (request.query as Json));
    return renderToken(
      target,
      withCatalog && target.payload.scope.kind !== 'unscoped' ? await catalog() : null,
    );
  };
  app.get('/v3/auth/tokens', { exposeHeadRoute: false }, (request, reply) =>
    validateToken(request, reply, 'identity:validate_token'),
  );
  app.head('/v3/auth/tokens', async (request, reply) => {
    await validateToken(request, reply, 'identity:check_token');
    reply.code(200).send();
  });
  app.delete('/v3/auth/tokens', async (request, reply) => {
    const who = await caller(request, tokens);
    const target = await subject(request);
    enforce('identity:revoke_token', who, { token: { user_id: target.user.id } });
    await tokens.revoke(target);
    reply.code(204).send();
  });

  app.get('/v3/auth/catalog', async (request) => {
    const who = await caller(request, tokens);
    if (who.payload.scope.kind === 'unscoped') throw forbidden();
    return {
      catalog: await catalog(),
      links: { self: `${baseUrl(request, publicEndpoint)}/v3/auth/catalog` },
    };
  });
  app.get('/v3/auth/projects', async (request) => {
    const who = await caller(request, tokens);
    const base = baseUrl(request, publicEndpoint);
    const projects = await repo.projectsWithRoles(db, who.user.id);
    return {
      projects: projects.map((p) => renderProject(p, base)),
      links: { self: `${base}/v3/auth/projects`, previous: null, next: null },
    };
  });
  app.get('/v3/auth/domains', async (request) => {
    const who = await caller(request, tokens);
    const base = baseUrl(request, publicEndpoint);
    const domains = await repo.domainsWithRoles(db, who.user.id);
    return {
      domains: domains.map((d) => ({
        ...d,
        tags: [],
        options: {},
        links: { self: `${base}/v3/domains/${d.id}` },
      })),
      links: { self: `${base}/v3/auth/domains`, previous: null, next: null },
    };
  });
  app.get('/v3/auth/system', async (request) => {
    const who = await caller(request, tokens);
    const base = baseUrl(request, publicEndpoint);
    const system = (await repo.hasSystemRole(db, who.user.id)) ? [{ all: true }] : [];
    return { system, links: { self: `${base}/v3/auth/system`, previous: null, next: null } };
  });
}
