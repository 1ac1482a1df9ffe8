/**
 * Roles (global and domain-specific) and implied roles: /v3/roles, /v3/roles/{prior}/implies,
 * /v3/role_inferences. A route naming a domain-specific role is enforced with the domain role
 * actions (identity:get_domain_role …), as Keystone's do.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RoleRow } from '../assignment/service.js';
import { validation } from '../errors.js';
import type { Action } from '../policy/rules.js';
import { param } from './collection.js';
import type { PluginOptions } from './context.js';
import { envelope, noTarget, type Of, object, pathParams, relation, route } from './resource.js';

const nullableId = { type: ['string', 'null'], minLength: 1, maxLength: 64 } as const;
const roleOptions = {
  type: 'object',
  properties: { immutable: { type: ['boolean', 'null'] } },
  additionalProperties: false,
} as const;
const roleName = { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' } as const;
const description = { type: ['string', 'null'], maxLength: 255 } as const;

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

const roleSchema = object({ name: roleName, domain_id: nullableId, description, options: roleOptions }, [
  'name',
]);
type RoleMember = Of<typeof roleSchema>;
const roleParams = pathParams('role_id');
const pairParams = pathParams('prior_role_id', 'implied_role_id');

export async function roleRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { assignment } = services;
  // A route naming a role is enforced with the global or the domain-role action, by the role
  // (loaded once per request: the action and the target both need it).
  const loaded = new WeakMap<FastifyRequest, Promise<RoleRow | null>>();
  const roleOf = (request: FastifyRequest) => {
    let role = loaded.get(request);
    if (!role) {
      role = assignment.role(param(request, 'role_id'));
      loaded.set(request, role);
    }
    return role;
  };
  const byRole = (global: Action, domain: Action) => async (request: FastifyRequest) =>
    (await roleOf(request))?.domain_id ? domain : global;
  const roleTarget = async (request: FastifyRequest) => ({ role: (await roleOf(request)) ?? {} });

  route(app, services, {
    method: 'GET',
    path: '/v3/roles',
    action: (request) =>
      (request.query as { domain_id?: string }).domain_id
        ? 'identity:list_domain_roles'
        : 'identity:list_roles',
    query: { type: 'object', properties: { name: { type: 'string' }, domain_id: { type: 'string' } } },
    target: (request) => ({ domain_id: (request.query as { domain_id?: string }).domain_id }),
    handle: async (request) => {
      const { name, domain_id } = request.query as { name?: string; domain_id?: string };
      const rows = await assignment.listRoles({
        ...(name === undefined ? {} : { name }),
        domainId: domain_id ?? null,
      });
      return {
        roles: rows.map((r) => renderRole(r, request.baseUrl)),
        links: { self: `${request.baseUrl}${request.url}`, previous: null, next: null },
      };
    },
  });

  route(app, services, {
    method: 'POST',
    path: '/v3/roles',
    action: (request) =>
      (request.body as { role: RoleMember }).role.domain_id
        ? 'identity:create_domain_role'
        : 'identity:create_role',
    body: envelope('role', roleSchema),
    target: (request) => ({ role: (request.body as { role: RoleMember }).role }),
    status: 201,
    handle: async (request) => {
      const r = (request.body as { role: RoleMember }).role;
      const options = Object.fromEntries(Object.entries(r.options ?? {}).filter(([, v]) => v !== null));
      const created = await assignment.createRole({
        name: r.name,
        domainId: r.domain_id ?? null,
        description: r.description ?? '',
        options,
      });
      return { role: renderRole(created, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/roles/:role_id',
    action: byRole('identity:get_role', 'identity:get_domain_role'),
    params: roleParams,
    target: roleTarget,
    handle: async (request) => ({
      role: renderRole(await assignment.requireRole(request.params.role_id), request.baseUrl),
    }),
  });

  route(app, services, {
    method: 'PATCH',
    path: '/v3/roles/:role_id',
    action: byRole('identity:update_role', 'identity:update_domain_role'),
    params: roleParams,
    body: envelope('role', { ...roleSchema, required: [], minProperties: 1 }),
    target: roleTarget,
    handle: async (request) => {
      const r = (request.body as { role: Partial<RoleMember> }).role;
      const current = await assignment.requireRole(request.params.role_id);
      if ('domain_id' in r && (r.domain_id ?? null) !== current.domain_id)
        throw validation('Update of `domain_id` is not allowed.');
      const updated = await assignment.updateRole(request.params.role_id, {
        ...(r.name === undefined ? {} : { name: r.name }),
        ...(r.description === undefined ? {} : { description: r.description ?? '' }),
        ...(r.options === undefined ? {} : { options: r.options as RoleRow['options'] }),
      });
      return { role: renderRole(updated, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'DELETE',
    path: '/v3/roles/:role_id',
    action: byRole('identity:delete_role', 'identity:delete_domain_role'),
    params: roleParams,
    target: roleTarget,
    status: 204,
    handle: (request) => assignment.deleteRole(request.params.role_id),
  });

  // --- implied roles -------------------------------------------------------------------------

  const inferenceBody = (base: string, [prior, implied]: [RoleRow, RoleRow]) => ({
    role_inference: { prior_role: roleRef(prior, base), implies: roleRef(implied, base) },
    links: { self: `${base}/v3/roles/${prior.id}/implies/${implied.id}` },
  });
  const pairOf = (request: FastifyRequest) =>
    [param(request, 'prior_role_id'), param(request, 'implied_role_id')] as const;
  const pairPath = '/v3/roles/:prior_role_id/implies/:implied_role_id';

  relation(app, services, {
    path: pairPath,
    actions: {
      put: 'identity:create_implied_role',
      check: 'identity:check_implied_role',
      delete: 'identity:delete_implied_role',
    },
    params: pairParams,
    target: noTarget,
    putStatus: 201,
    put: async (request) =>
      inferenceBody(request.baseUrl, await assignment.createInference(...pairOf(request))),
    check: async (request) => {
      await assignment.inference(...pairOf(request));
    },
    remove: (request) => assignment.deleteInference(...pairOf(request)),
  });
  route(app, services, {
    method: 'GET',
    path: pairPath,
    action: 'identity:get_implied_role',
    params: pairParams,
    handle: async (request) => inferenceBody(request.baseUrl, await assignment.inference(...pairOf(request))),
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/roles/:prior_role_id/implies',
    action: 'identity:list_implied_roles',
    params: pathParams('prior_role_id'),
    handle: async (request) => {
      const base = request.baseUrl;
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
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/role_inferences',
    action: 'identity:list_role_inference_rules',
    handle: async (request) => {
      const base = request.baseUrl;
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
  });
}
