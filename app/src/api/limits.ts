/**
 * Unified limits: /v3/registered_limits and /v3/limits (created as lists, all or none; shown,
 * updated and deleted one by one) and /v3/limits/model, as Keystone 22's api/registered_limits.py
 * and api/limits.py serve them. A limit list is narrowed to what the caller's token reaches.
 */
import type { FastifyInstance } from 'fastify';
import type { LimitFields, LimitRow, RegisteredLimitFields, RegisteredLimitRow } from '../limit/service.js';
import type { PolicyTarget } from '../policy/enforcer.js';
import { description } from './collection.js';
import type { PluginOptions } from './context.js';
import { crud, noTarget, type Of, object, type Req, route } from './resource.js';

/** Keystone's id_string: the service and the project or domain a limit names. */
const idString = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' } as const;
/** A signed 32-bit integer, -1 for no limit. */
const limitValue = { type: 'integer', minimum: -1, maximum: 0x7fffffff } as const;
const resourceName = { type: 'string', minLength: 1, maxLength: 255 } as const;

const registeredLimitProperties = {
  service_id: idString,
  region_id: { type: ['null', 'string'] },
  resource_name: resourceName,
  default_limit: limitValue,
  description,
} as const;
const registeredLimitSchema = {
  ...object(registeredLimitProperties, ['service_id', 'resource_name', 'default_limit']),
  additionalProperties: false,
} as const;
const registeredLimitUpdate = { ...object(registeredLimitProperties), additionalProperties: false } as const;
type RegisteredLimitBody = Of<typeof registeredLimitSchema>;

const limitItem = (owner: 'project_id' | 'domain_id') =>
  ({
    type: 'object',
    properties: {
      [owner]: idString,
      service_id: idString,
      region_id: { type: 'string' },
      resource_name: resourceName,
      resource_limit: limitValue,
      description,
    },
    required: [owner, 'service_id', 'resource_name', 'resource_limit'],
    additionalProperties: false,
  }) as const;
/** A project limit or a domain limit, never both. */
const limitSchema = { type: 'object', oneOf: [limitItem('project_id'), limitItem('domain_id')] } as const;
const limitUpdate = {
  type: 'object',
  properties: { resource_limit: limitValue, description },
  additionalProperties: false,
} as const;

const list = <S extends object>(key: string, item: S) =>
  ({
    type: 'object',
    required: [key],
    properties: { [key]: { type: 'array', minItems: 1, items: item } },
  }) as const;

export function renderRegisteredLimit(r: RegisteredLimitRow, base: string) {
  return { ...r, links: { self: `${base}/v3/registered_limits/${r.id}` } };
}

export function renderLimit(l: LimitRow, base: string) {
  return { ...l, links: { self: `${base}/v3/limits/${l.id}` } };
}

export async function limitRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { limit, resource } = services;

  // --- registered limits ---------------------------------------------------------------------
  route(app, services, {
    method: 'POST',
    path: '/v3/registered_limits',
    action: 'identity:create_registered_limits',
    body: list('registered_limits', registeredLimitSchema),
    status: 201,
    handle: async (request) => {
      const items = (request.body as { registered_limits: RegisteredLimitFields[] }).registered_limits;
      const rows = await limit.createRegisteredLimits(items);
      return { registered_limits: rows.map((r) => renderRegisteredLimit(r, request.baseUrl)) };
    },
  });
  crud<RegisteredLimitRow, RegisteredLimitBody>(app, services, {
    path: '/v3/registered_limits',
    member: 'registered_limit',
    collection: 'registered_limits',
    actions: { create: 'identity:create_registered_limits' },
    body: { schema: registeredLimitSchema },
    updateSchema: registeredLimitUpdate,
    require: (id) => limit.registeredLimit(id),
    memberTarget: noTarget,
    render: renderRegisteredLimit,
    filters: { exact: ['service_id', 'region_id', 'resource_name'] },
    rows: (_request, hints) => limit.listRegisteredLimits(hints),
    update: (current, fields) => limit.updateRegisteredLimit(current.id, fields),
    remove: (id) => limit.deleteRegisteredLimit(id),
  });

  // --- limits --------------------------------------------------------------------------------
  route(app, services, {
    method: 'GET',
    path: '/v3/limits/model',
    action: 'identity:get_limit_model',
    handle: () => ({ model: { name: limit.model.name, description: limit.model.description } }),
  });
  route(app, services, {
    method: 'POST',
    path: '/v3/limits',
    action: 'identity:create_limits',
    body: list('limits', limitSchema),
    status: 201,
    handle: async (request) => {
      const items = (request.body as { limits: LimitFields[] }).limits;
      const rows = await limit.createLimits(items);
      return { limits: rows.map((l) => renderLimit(l, request.baseUrl)) };
    },
  });

  /** Keystone's _build_limit_enforcement_target: the limit with its project or its domain. */
  const limitPolicyTarget = async (request: Req): Promise<PolicyTarget> => {
    const id = (request.params as Record<string, string>).limit_id as string;
    const row = await limit.getLimit(id);
    if (!row) return {};
    if (row.project_id) {
      const project = await resource.project({ id: row.project_id });
      return { limit: { ...row, ...(project ? { project: { ...project } } : {}) } };
    }
    const domain = row.domain_id ? await resource.getDomain(row.domain_id) : null;
    return { limit: { ...row, ...(domain ? { domain: { ...domain } } : {}) } };
  };
  crud<LimitRow, LimitFields>(app, services, {
    path: '/v3/limits',
    member: 'limit',
    collection: 'limits',
    actions: { create: 'identity:create_limits' },
    body: { schema: limitSchema },
    updateSchema: limitUpdate,
    require: (id) => limit.limit(id),
    memberTarget: limitPolicyTarget,
    render: renderLimit,
    filters: { exact: ['service_id', 'region_id', 'resource_name', 'project_id', 'domain_id'] },
    rows: (request, hints) => {
      const { caller } = request;
      const scope = caller.payload.scope;
      return limit.listLimits(
        hints,
        scope.kind === 'system'
          ? { system: true }
          : caller.domain && scope.kind === 'domain'
            ? { domainId: caller.domain.id }
            : caller.project
              ? { projectId: caller.project.id }
              : null,
      );
    },
    update: (current, fields) => limit.updateLimit(current.id, fields),
    remove: (id) => limit.deleteLimit(id),
  });
}
