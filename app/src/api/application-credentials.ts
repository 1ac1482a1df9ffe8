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
import { enforce, type PluginOptions } from './context.js';
import { baseUrl, keystoneTime } from './render.js';

const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;
const userParams = { type: 'object', properties: { user_id: id64 } } as const;
const credParams = {
  type: 'object',
  properties: { user_id: id64, application_credential_id: id64 },
} as const;
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
const createSchema = {
  params: userParams,
  body: {
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
  },
} as const;

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
 * Keystone's _block_delegated_token_app_creds: a token issued through an OAuth1 access token
 * cannot make, see or delete application credentials (one would outlive the delegation).
 */
function refuseOAuth(caller: TokenContext | null): void {
  if (caller?.oauth1)
    throw new IdentityError('IDN_ERR_FORBIDDEN', 'You are not authorized to perform the requested action.', {
      detail: 'Cannot manage application credentials with a token issued via delegation.',
    });
}

export async function applicationCredentialRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  const base = (request: FastifyRequest) => baseUrl(request, config.publicEndpoint);
  const owner = (request: FastifyRequest) => ({ user_id: (request.params as { user_id: string }).user_id });
  const path = '/v3/users/:user_id/application_credentials';
  // Access rule policies read the user as `target.user.id`.
  const ruleOwner = (request: FastifyRequest) => ({
    user: { id: (request.params as { user_id: string }).user_id },
  });

  app.post<{ Params: { user_id: string }; Body: CreateBody }>(
    path,
    { schema: createSchema, preHandler: enforce(services, 'identity:create_application_credential', owner) },
    async (request, reply) => {
      const caller = request.caller as TokenContext;
      refuseOAuth(caller);
      refuseRestricted(caller);
      const project = caller.project;
      if (!project) throw validation('Application credentials must be created with a project-scoped token.');
      const a = request.body.application_credential;
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
      reply.code(201);
      return { application_credential: { ...render(created, base(request)), secret: created.secret } };
    },
  );

  app.get<{ Params: { user_id: string }; Querystring: { name?: string } }>(
    path,
    {
      schema: {
        params: userParams,
        querystring: { type: 'object', properties: { name: { type: 'string' } } },
      },
      preHandler: enforce(services, 'identity:list_application_credentials', owner),
    },
    async (request) => {
      refuseOAuth(request.caller);
      return {
        application_credentials: (
          await services.credential.list(request.params.user_id, request.query.name)
        ).map((c) => render(c, base(request))),
        links: { self: `${base(request)}${request.url}`, previous: null, next: null },
      };
    },
  );

  type One = { Params: { user_id: string; application_credential_id: string } };
  app.get<One>(
    `${path}/:application_credential_id`,
    {
      schema: { params: credParams },
      preHandler: enforce(services, 'identity:get_application_credential', owner),
    },
    async (request) => {
      refuseOAuth(request.caller);
      return {
        application_credential: render(
          await services.credential.show(request.params.user_id, request.params.application_credential_id),
          base(request),
        ),
      };
    },
  );
  app.delete<One>(
    `${path}/:application_credential_id`,
    {
      schema: { params: credParams },
      preHandler: enforce(services, 'identity:delete_application_credential', owner),
    },
    async (request, reply) => {
      refuseOAuth(request.caller);
      refuseRestricted(request.caller);
      await services.credential.delete(request.params.user_id, request.params.application_credential_id);
      reply.code(204).send();
    },
  );

  // --- access rules --------------------------------------------------------------------------
  const renderRule = (
    request: FastifyRequest,
    r: { id: string; path: string; method: string; service: string },
  ) => ({
    id: r.id,
    path: r.path,
    method: r.method,
    service: r.service,
    links: { self: `${base(request)}/v3/access_rules/${r.id}` },
  });
  app.get<{ Params: { user_id: string } }>(
    '/v3/users/:user_id/access_rules',
    {
      schema: { params: userParams },
      preHandler: enforce(services, 'identity:list_access_rules', ruleOwner),
    },
    async (request) => ({
      access_rules: (await services.credential.accessRules(request.params.user_id)).map((r) =>
        renderRule(request, r),
      ),
      links: { self: `${base(request)}${request.url}`, previous: null, next: null },
    }),
  );
  app.get<{ Params: { user_id: string; access_rule_id: string } }>(
    '/v3/users/:user_id/access_rules/:access_rule_id',
    {
      schema: { params: { type: 'object', properties: { user_id: id64, access_rule_id: id64 } } },
      preHandler: enforce(services, 'identity:get_access_rule', ruleOwner),
    },
    async (request) => ({
      access_rule: renderRule(
        request,
        await services.credential.accessRule(request.params.user_id, request.params.access_rule_id),
      ),
    }),
  );
  // A rule outlives the credentials that use it; it can be deleted once none does.
  app.delete<{ Params: { user_id: string; access_rule_id: string } }>(
    '/v3/users/:user_id/access_rules/:access_rule_id',
    {
      schema: { params: { type: 'object', properties: { user_id: id64, access_rule_id: id64 } } },
      preHandler: enforce(services, 'identity:delete_access_rule', ruleOwner),
    },
    async (request, reply) => {
      await services.credential.deleteAccessRule(request.params.user_id, request.params.access_rule_id);
      reply.code(204).send();
    },
  );
}
