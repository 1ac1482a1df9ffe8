/**
 * /v3/users/{user_id}/application_credentials (create, list, show, delete; no update, as in
 * Keystone) and /v3/users/{user_id}/access_rules (list, show). A credential is made from a
 * project-scoped token of its own user, for that project, with a subset of the user's roles
 * there; its secret is shown in the create response only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApplicationCredential } from '../credential/service.js';
import { forbiddenAction, IdentityError, validation } from '../errors.js';
import type { TokenContext } from '../token/service.js';
import { id64, param } from './collection.js';
import type { PluginOptions } from './context.js';
import { delegated } from './delegation.js';
import { type Of, pathParams, type Req, route } from './resource.js';

const userParams = pathParams('user_id');
const credParams = pathParams('user_id', 'application_credential_id');
const ruleParams = pathParams('user_id', 'access_rule_id');
const roleRef = {
  type: 'object',
  minProperties: 1,
  properties: { id: id64, name: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;
// A rule is given by its parts, or by the id of one of the user's rules (shared, not copied).
const accessRule = {
  type: 'object',
  anyOf: [{ required: ['id'] }, { required: ['path', 'method', 'service'] }],
  properties: {
    path: { type: 'string', minLength: 1, maxLength: 225 },
    method: { type: 'string', enum: ['POST', 'GET', 'HEAD', 'PATCH', 'PUT', 'DELETE'] },
    service: { type: 'string', minLength: 1, maxLength: 225 },
    id: id64,
  },
  additionalProperties: false,
} as const;
const createBody = {
  type: 'object',
  required: ['application_credential'],
  properties: {
    application_credential: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' },
        description: { type: ['string', 'null'], maxLength: 255 },
        secret: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
        expires_at: { type: ['string', 'null'] },
        roles: { type: 'array', items: roleRef },
        unrestricted: { type: ['boolean', 'null'] },
        access_rules: { type: 'array', items: accessRule },
      },
      additionalProperties: false,
    },
  },
} as const;
const listQuery = { type: 'object', properties: { name: { type: 'string' } } } as const;

type CreateBody = {
  application_credential: {
    name: string;
    description?: string | null;
    secret?: string | null;
    expires_at?: string | null;
    roles?: Array<{ id?: string; name?: string }>;
    unrestricted?: boolean | null;
    access_rules?: Array<{ path?: string; method?: string; service?: string; id?: string }>;
  };
};

/** Keys in Keystone 22's order; `access_rules` only when the credential has some, as Keystone shows it. */
function render(c: ApplicationCredential, base: string) {
  return {
    id: c.id,
    name: c.name,
    description: c.description === '' ? null : c.description,
    user_id: c.user_id,
    project_id: c.project_id,
    system: null,
    // As Keystone's JSON encoder writes a datetime: microseconds, no zone designator.
    expires_at: c.expires_text,
    unrestricted: c.unrestricted,
    roles: c.roles.map((r) => ({ ...r, description: r.description === '' ? null : r.description })),
    ...(c.access_rules.length === 0
      ? {}
      : {
          access_rules: c.access_rules.map((r) => ({
            id: r.id,
            service: r.service,
            path: r.path,
            method: r.method,
          })),
        }),
    links: { self: `${base}/v3/application_credentials/${c.id}` },
  };
}

/** Keystone's rule: a restricted application credential cannot manage application credentials. */
function refuseRestricted(caller: TokenContext | null): void {
  const via = caller?.applicationCredential;
  if (via && !via.unrestricted)
    throw forbiddenAction(
      "Using method 'application_credential' is not allowed for managing additional application credentials.",
    );
}

/**
 * Keystone's _block_delegated_token_app_creds: a token from a trust, an OAuth1 access token or an
 * EC2 key cannot make, see or delete application credentials (one would outlive the delegation).
 * Application credential tokens are left to refuseRestricted.
 */
function refuseDelegated(caller: TokenContext | null): void {
  if (caller && caller.applicationCredential === null && delegated(caller))
    throw new IdentityError('IDN_ERR_FORBIDDEN', 'You are not authorized to perform the requested action.', {
      detail: 'Cannot manage application credentials with a token issued via delegation.',
    });
}

export async function applicationCredentialRoutes(
  app: FastifyInstance,
  { services }: PluginOptions,
): Promise<void> {
  const owner = (request: Req) => ({ user_id: param(request, 'user_id') });
  const path = '/v3/users/:user_id/application_credentials';
  // Access rule policies read the user as `target.user.id`.
  const ruleOwner = (request: Req) => ({ user: { id: param(request, 'user_id') } });

  route(app, services, {
    method: 'POST',
    path,
    action: 'identity:create_application_credential',
    params: userParams,
    body: createBody,
    target: owner,
    status: 201,
    handle: async (request) => {
      const caller = request.caller;
      refuseDelegated(caller);
      refuseRestricted(caller);
      const project = caller.project;
      if (!project) throw validation('Application credentials must be created with a project-scoped token.');
      const a = (request.body as CreateBody).application_credential;
      // Keystone's parse_expiration_date: UTC unless a zone is given, microseconds kept (the
      // text goes to PostgreSQL as it is), and not in the past.
      let expiresAt: string | null = null;
      if (a.expires_at) {
        const text = /(Z|[+-]\d\d:?\d\d)$/.test(a.expires_at) ? a.expires_at : `${a.expires_at}Z`;
        const ms = Date.parse(text);
        if (Number.isNaN(ms))
          throw validation(
            'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
          );
        if (ms <= Date.now())
          throw validation(
            "The 'expires_at' must not be before now. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
          );
        expiresAt = text;
      }
      // The roles asked for, each one the user holds on the project; all of the token's by default.
      const held = await services.assignment.effectiveRoles(caller.user.id, {
        type: 'project',
        id: project.id,
      });
      const roleIds: string[] = [];
      for (const wanted of a.roles ?? held) {
        const found = held.find((r) => (wanted.id ? r.id === wanted.id : r.name === wanted.name));
        if (!found) {
          // Keystone: an unknown role name is 404, a role the user lacks there 400.
          if (
            !wanted.id &&
            wanted.name &&
            (await services.assignment.listRoles({ name: wanted.name })).length === 0
          )
            throw new IdentityError('IDN_ERR_NOT_FOUND', `Role ${wanted.name} is not defined`);
          throw validation(
            'Invalid application credential: Cannot create an application credential with unassigned role',
          );
        }
        if (!roleIds.includes(found.id)) roleIds.push(found.id);
      }
      const created = await services.credential.create({
        name: a.name,
        userId: request.params.user_id,
        projectId: project.id,
        description: a.description ?? '',
        ...(a.secret ? { secret: a.secret } : {}),
        roleIds,
        expiresAt,
        unrestricted: a.unrestricted ?? false,
        accessRules: a.access_rules ?? [],
      });
      return { application_credential: { ...render(created, request.baseUrl), secret: created.secret } };
    },
  });

  route(app, services, {
    method: 'GET',
    path,
    action: 'identity:list_application_credentials',
    params: userParams,
    query: listQuery,
    target: owner,
    handle: async (request) => {
      refuseDelegated(request.caller);
      return {
        application_credentials: (
          await services.credential.list(request.params.user_id, (request.query as Of<typeof listQuery>).name)
        ).map((c) => render(c, request.baseUrl)),
        links: { self: `${request.baseUrl}${request.url}`, previous: null, next: null },
      };
    },
  });

  route(app, services, {
    method: 'GET',
    path: `${path}/:application_credential_id`,
    action: 'identity:get_application_credential',
    params: credParams,
    target: owner,
    handle: async (request) => {
      refuseDelegated(request.caller);
      return {
        application_credential: render(
          await services.credential.show(request.params.user_id, request.params.application_credential_id),
          request.baseUrl,
        ),
      };
    },
  });
  route(app, services, {
    method: 'DELETE',
    path: `${path}/:application_credential_id`,
    action: 'identity:delete_application_credential',
    params: credParams,
    target: owner,
    status: 204,
    handle: async (request) => {
      refuseDelegated(request.caller);
      refuseRestricted(request.caller);
      await services.credential.delete(request.params.user_id, request.params.application_credential_id);
    },
  });

  // --- access rules --------------------------------------------------------------------------
  const renderRule = (
    request: FastifyRequest,
    r: { id: string; path: string; method: string; service: string },
  ) => ({
    id: r.id,
    path: r.path,
    method: r.method,
    service: r.service,
    links: { self: `${request.baseUrl}/v3/access_rules/${r.id}` },
  });
  route(app, services, {
    method: 'GET',
    path: '/v3/users/:user_id/access_rules',
    action: 'identity:list_access_rules',
    params: userParams,
    target: ruleOwner,
    handle: async (request) => ({
      access_rules: (await services.credential.accessRules(request.params.user_id)).map((r) =>
        renderRule(request, r),
      ),
      links: { self: `${request.baseUrl}${request.url}`, previous: null, next: null },
    }),
  });
  route(app, services, {
    method: 'GET',
    path: '/v3/users/:user_id/access_rules/:access_rule_id',
    action: 'identity:get_access_rule',
    params: ruleParams,
    target: ruleOwner,
    handle: async (request) => ({
      access_rule: renderRule(
        request,
        await services.credential.accessRule(request.params.user_id, request.params.access_rule_id),
      ),
    }),
  });
  // A rule outlives the credentials that use it; it can be deleted once none does.
  route(app, services, {
    method: 'DELETE',
    path: '/v3/users/:user_id/access_rules/:access_rule_id',
    action: 'identity:delete_access_rule',
    params: ruleParams,
    target: ruleOwner,
    status: 204,
    handle: async (request) => {
      await services.credential.deleteAccessRule(request.params.user_id, request.params.access_rule_id);
    },
  });
}
