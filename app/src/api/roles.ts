/**
 * Roles (global and domain-specific) and implied roles: /v3/roles, /v3/roles/{prior}/implies,
 * /v3/role_inferences. A route naming a domain-specific role is enforced with the domain role
 * actions (identity:get_domain_role …), as Keystone's do.
 */
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { RoleRow } from '../assignment/service.js';
import { validation } from '../errors.js';
import type { PolicyTarget } from '../policy/enforcer.js';
import type { Action } from '../policy/rules.js';
import type { Services } from '../services.js';
import { credentialsOf } from '../token/service.js';
import { authenticateCaller, enforce, type PluginOptions } from './context.js';
import { baseUrl } from './render.js';

const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;
const nullableId = { type: ['string', 'null'], minLength: 1, maxLength: 64 } as const;
const roleOptions = {
  type: 'object',
  properties: { immutable: { type: ['boolean', 'null'] } },
  additionalProperties: false,
} as const;
const roleName = { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } as const;
const description = { type: ['string', 'null'], maxLength: 255 } as const;

const roleParams = { type: 'object', properties: { role_id: id64 } } as const;
const inferenceParams = {
  type: 'object',
  properties: { prior_role_id: id64, implied_role_id: id64 },
} as const;

export function renderRole(r: RoleRow, base: string) {
  return {
    id: r.id,
    name: r.name,
    domain_id: r.domain_id,
    description: r.description === '' ? null : r.description,
    options: r.options,
    links: { self: `${base}/v3/roles/${r.id}` },
  };
}

const roleRef = (r: RoleRow, base: string) => ({
  id: r.id,
  name: r.name,
  links: { self: `${base}/v3/roles/${r.id}` },
});

/** Enforces `global` or `domain` depending on the role the route names (loaded once, 404 after). */
function enforceRole(
  services: Services,
  global: Action,
  domain: Action,
  roleId: (request: FastifyRequest) => string,
): preHandlerAsyncHookHandler {
  return async (request) => {
    const caller = await authenticateCaller(request, services);
    const role = await services.assignment.role(roleId(request));
    const target: PolicyTarget = { role: role ?? {} };
    services.policy.enforce(role?.domain_id ? domain : global, credentialsOf(caller), target);
  };
}

type RoleBody = {
  role: {
    name?: string;
    domain_id?: string | null;
    description?: string | null;
    options?: { immutable?: boolean | null };
  };
};

export async function roleRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const { assignment } = services;
  const byParam = (r: FastifyRequest) => (r.params as { role_id: string }).role_id;

  app.get<{ Querystring: { name?: string; domain_id?: string } }>(
    '/v3/roles',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { name: { type: 'string' }, domain_id: { type: 'string' } },
        },
      },
      preHandler: async (request) => {
        const caller = await authenticateCaller(request, services);
        const action = request.query.domain_id ? 'identity:list_domain_roles' : 'identity:list_roles';
        services.policy.enforce(action, credentialsOf(caller), { domain_id: request.query.domain_id });
      },
    },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const { name, domain_id } = request.query;
      const rows = await assignment.listRoles({
        ...(name === undefined ? {} : { name }),
        domainId: domain_id ?? null,
      });
      return {
        roles: rows.map((r) => renderRole(r, base)),
        links: { self: `${base}${request.url}`, previous: null, next: null },
      };
    },
  );

  app.post<{ Body: RoleBody }>(
    '/v3/roles',
    {
      schema: {
        body: {
          type: 'object',
          required: ['role'],
          properties: {
            role: {
              type: 'object',
              required: ['name'],
              properties: { name: roleName, domain_id: nullableId, description, options: roleOptions },
            },
          },
        },
      },
      preHandler: async (request) => {
        const caller = await authenticateCaller(request, services);
        const role = request.body.role;
        const action = role.domain_id ? 'identity:create_domain_role' : 'identity:create_role';
        services.policy.enforce(action, credentialsOf(caller), { role });
      },
    },
    async (request, reply) => {
      const r = request.body.role;
      const options = Object.fromEntries(Object.entries(r.options ?? {}).filter(([, v]) => v !== null));
      const created = await assignment.createRole({
        name: r.name as string,
        domainId: r.domain_id ?? null,
        description: r.description ?? '',
        options,
      });
      reply.code(201);
      return { role: renderRole(created, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.get<{ Params: { role_id: string } }>(
    '/v3/roles/:role_id',
    {
      schema: { params: roleParams },
      preHandler: enforceRole(services, 'identity:get_role', 'identity:get_domain_role', byParam),
    },
    async (request) => ({
      role: renderRole(
        await assignment.requireRole(request.params.role_id),
        baseUrl(request, config.publicEndpoint),
      ),
    }),
  );

  app.patch<{ Params: { role_id: string }; Body: RoleBody }>(
    '/v3/roles/:role_id',
    {
      schema: {
        params: roleParams,
        body: {
          type: 'object',
          required: ['role'],
          properties: {
            role: {
              type: 'object',
              minProperties: 1,
              properties: { name: roleName, domain_id: nullableId, description, options: roleOptions },
            },
          },
        },
      },
      preHandler: enforceRole(services, 'identity:update_role', 'identity:update_domain_role', byParam),
    },
    async (request) => {
      const r = request.body.role;
      const current = await assignment.requireRole(request.params.role_id);
      if ('domain_id' in r && (r.domain_id ?? null) !== current.domain_id)
        throw validation('Update of `domain_id` is not allowed.');
      const updated = await assignment.updateRole(request.params.role_id, {
        ...(r.name === undefined ? {} : { name: r.name }),
        ...(r.description === undefined ? {} : { description: r.description ?? '' }),
        ...(r.options === undefined ? {} : { options: r.options as RoleRow['options'] }),
      });
      return { role: renderRole(updated, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.delete<{ Params: { role_id: string } }>(
    '/v3/roles/:role_id',
    {
      schema: { params: roleParams },
      preHandler: enforceRole(services, 'identity:delete_role', 'identity:delete_domain_role', byParam),
    },
    async (request, reply) => {
      await assignment.deleteRole(request.params.role_id);
      reply.code(204).send();
    },
  );

  // --- implied roles -------------------------------------------------------------------------

  type Pair = { Params: { prior_role_id: string; implied_role_id: string } };
  const inferenceBody = (request: FastifyRequest, [prior, implied]: [RoleRow, RoleRow]) => {
    const base = baseUrl(request, config.publicEndpoint);
    return {
      role_inference: { prior_role: roleRef(prior, base), implies: roleRef(implied, base) },
      links: { self: `${base}/v3/roles/${prior.id}/implies/${implied.id}` },
    };
  };
  const pairPath = '/v3/roles/:prior_role_id/implies/:implied_role_id';

  app.put<Pair>(
    pairPath,
    { schema: { params: inferenceParams }, preHandler: enforce(services, 'identity:create_implied_role') },
    async (request, reply) => {
      const { prior_role_id, implied_role_id } = request.params;
      const pair = await assignment.createInference(prior_role_id, implied_role_id);
      reply.code(201);
      return inferenceBody(request, pair);
    },
  );
  app.head<Pair>(
    pairPath,
    { schema: { params: inferenceParams }, preHandler: enforce(services, 'identity:check_implied_role') },
    async (request, reply) => {
      await assignment.inference(request.params.prior_role_id, request.params.implied_role_id);
      reply.code(204).send();
    },
  );
  app.get<Pair>(
    pairPath,
    { schema: { params: inferenceParams }, preHandler: enforce(services, 'identity:get_implied_role') },
    async (request) =>
      inferenceBody(
        request,
        await assignment.inference(request.params.prior_role_id, request.params.implied_role_id),
      ),
  );
  app.delete<Pair>(
    pairPath,
    { schema: { params: inferenceParams }, preHandler: enforce(services, 'identity:delete_implied_role') },
    async (request, reply) => {
      await assignment.deleteInference(request.params.prior_role_id, request.params.implied_role_id);
      reply.code(204).send();
    },
  );

  app.get<{ Params: { prior_role_id: string } }>(
    '/v3/roles/:prior_role_id/implies',
    {
      schema: { params: { type: 'object', properties: { prior_role_id: id64 } } },
      preHandler: enforce(services, 'identity:list_implied_roles'),
    },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const { rules, roles } = await assignment.inferences(request.params.prior_role_id);
      const prior = await assignment.requireRole(request.params.prior_role_id);
      return {
        role_inference: {
          prior_role: roleRef(prior, base),
          implies: rules.map((r) => roleRef(roles.get(r.implied_role_id) as RoleRow, base)),
        },
        links: { self: `${base}/v3/roles/${prior.id}/implies` },
      };
    },
  );

  app.get(
    '/v3/role_inferences',
    { preHandler: enforce(services, 'identity:list_role_inference_rules') },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const { rules, roles } = await assignment.inferences();
      const byPrior = new Map<string, string[]>();
      for (const r of rules)
        byPrior.set(r.prior_role_id, [...(byPrior.get(r.prior_role_id) ?? []), r.implied_role_id]);
      return {
        role_inferences: [...byPrior].map(([prior, implied]) => ({
          prior_role: roleRef(roles.get(prior) as RoleRow, base),
          implies: implied.map((id) => roleRef(roles.get(id) as RoleRow, base)),
        })),
      };
    },
  );
}
