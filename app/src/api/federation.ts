/**
 * OS-FEDERATION (Keystone 22's api/os_federation.py): identity providers, their protocols,
 * mappings and service providers. Keystone creates each with PUT at the id the client chose;
 * the create bodies' envelope may be absent (`{}` then, as Keystone's `.get(key, {})` reads it).
 * Renderers follow Keystone's, links included: a protocol's own links are Keystone 22's
 * (`/v3/protocols/{id}` and `/v3/{idp_id}`), and the protocol list shows every column.
 */
import type { FastifyInstance } from 'fastify';
import { validation } from '../errors.js';
import type {
  IdpRow,
  MappingRow,
  ProtocolFields,
  ProtocolRow,
  ServiceProviderRow,
} from '../federation/service.js';
import { id64, nullableId, renderedCollection } from './collection.js';
import type { PluginOptions } from './context.js';
import { crud, noTarget, type Of, route } from './resource.js';

const PREFIX = '/v3/OS-FEDERATION';

const remoteIds = {
  type: ['array', 'null'],
  items: { type: 'string', maxLength: 255 },
  uniqueItems: true,
} as const;
const nullableDescription = { type: ['string', 'null'] } as const;
const ttl = { type: ['integer', 'null'], minimum: 0, maximum: 2147483647 } as const;
/** Keystone's parameter_types.url: lenient, rfc1738 2.1's scheme then anything. */
const url = { type: 'string', minLength: 0, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' } as const;

const idpCreate = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    description: nullableDescription,
    domain_id: nullableId,
    authorization_ttl: ttl,
    remote_ids: remoteIds,
  },
} as const;
const idpUpdate = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    enabled: { type: 'boolean' },
    description: nullableDescription,
    authorization_ttl: ttl,
    remote_ids: remoteIds,
  },
} as const;
type IdpCreate = Of<typeof idpCreate>;

const protocolProperties = {
  mapping_id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-_]+$' },
  remote_id_attribute: { type: 'string', maxLength: 64 },
} as const;
const protocolCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['mapping_id'],
  properties: protocolProperties,
} as const;
const protocolUpdate = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: protocolProperties,
} as const;

const spProperties = {
  auth_url: url,
  sp_url: url,
  description: nullableDescription,
  enabled: { type: 'boolean' },
  relay_state_prefix: nullableDescription,
} as const;
const spCreate = {
  type: 'object',
  additionalProperties: false,
  required: ['auth_url', 'sp_url'],
  properties: spProperties,
} as const;
const spUpdate = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: spProperties,
} as const;
type SpFields = Of<typeof spUpdate>;

/** A PUT body whose envelope may be missing. */
const optionalEnvelope = (key: string, member: object) =>
  ({ type: 'object', properties: { [key]: member } }) as const;

export function renderIdp(idp: IdpRow, base: string) {
  const self = `${base}${PREFIX}/identity_providers/${idp.id}`;
  return {
    id: idp.id,
    domain_id: idp.domain_id,
    enabled: idp.enabled,
    description: idp.description,
    remote_ids: idp.remote_ids,
    authorization_ttl: idp.authorization_ttl,
    links: { self, protocols: `${self}/protocols` },
  };
}

const protocolLinks = (p: ProtocolRow, base: string) => ({
  self: `${base}/v3/protocols/${p.id}`,
  identity_provider: `${base}/v3/${p.idp_id}`,
});

export function renderProtocol(p: ProtocolRow, base: string) {
  return { id: p.id, mapping_id: p.mapping_id, links: protocolLinks(p, base) };
}

/** Keystone's protocol list does not filter its members: every column shows. */
function renderListedProtocol(p: ProtocolRow, base: string) {
  return {
    id: p.id,
    idp_id: p.idp_id,
    mapping_id: p.mapping_id,
    remote_id_attribute: p.remote_id_attribute,
    links: protocolLinks(p, base),
  };
}

export function renderMapping(m: MappingRow, base: string) {
  return { id: m.id, rules: m.rules, links: { self: `${base}${PREFIX}/mappings/${m.id}` } };
}

export function renderServiceProvider(sp: ServiceProviderRow, base: string) {
  return {
    auth_url: sp.auth_url,
    id: sp.id,
    enabled: sp.enabled,
    description: sp.description,
    relay_state_prefix: sp.relay_state_prefix,
    sp_url: sp.sp_url,
    links: { self: `${base}${PREFIX}/service_providers/${sp.id}` },
  };
}

export async function federationRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { federation } = services;
  // Keystone reads a PUT without a body as {} (then checks what the envelope lacks); this
  // plugin's scope only.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {};
  });
  // Keystone's federation policies read nothing of the target (noTarget); providers are listed by
  // id and enabled.
  const filters = { exact: ['id'], bool: ['enabled'], inexact: ['id'] };

  // --- identity providers ---------------------------------------------------------------------
  crud<IdpRow, IdpCreate>(app, services, {
    path: `${PREFIX}/identity_providers`,
    member: 'identity_provider',
    collection: 'identity_providers',
    id: 'idp_id',
    body: { schema: idpCreate },
    updateSchema: idpUpdate,
    require: (id) => federation.requireIdp(id),
    memberTarget: noTarget,
    render: renderIdp,
    filters,
    rows: (_request, hints) => federation.listIdps(hints),
    update: (current, idp) => federation.updateIdp(current.id, idp),
    remove: (id) => federation.deleteIdp(id),
  });
  route(app, services, {
    method: 'PUT',
    path: `${PREFIX}/identity_providers/:idp_id`,
    action: 'identity:create_identity_provider',
    params: { type: 'object', properties: { idp_id: id64 }, required: ['idp_id'] },
    body: optionalEnvelope('identity_provider', idpCreate),
    status: 201,
    handle: async (request) => {
      const body = (request.body as { identity_provider?: IdpCreate }).identity_provider ?? {};
      const idp = await federation.createIdp(request.params.idp_id, body);
      return { identity_provider: renderIdp(idp, request.baseUrl) };
    },
  });

  // --- protocols ------------------------------------------------------------------------------
  const protocols = `${PREFIX}/identity_providers/:idp_id/protocols`;
  const protocolParams = {
    type: 'object',
    properties: { idp_id: id64, protocol_id: id64 },
    required: ['idp_id', 'protocol_id'],
  } as const;
  route(app, services, {
    method: 'GET',
    path: protocols,
    action: 'identity:list_protocols',
    params: { type: 'object', properties: { idp_id: id64 }, required: ['idp_id'] },
    handle: async (request) =>
      renderedCollection(
        'protocols',
        await federation.listProtocols(request.params.idp_id),
        renderListedProtocol,
        request,
      ),
  });
  route(app, services, {
    method: 'GET',
    path: `${protocols}/:protocol_id`,
    action: 'identity:get_protocol',
    params: protocolParams,
    handle: async (request) => ({
      protocol: renderProtocol(
        await federation.requireProtocol(request.params.idp_id, request.params.protocol_id),
        request.baseUrl,
      ),
    }),
  });
  route(app, services, {
    method: 'PUT',
    path: `${protocols}/:protocol_id`,
    action: 'identity:create_protocol',
    params: protocolParams,
    body: optionalEnvelope('protocol', protocolCreate),
    status: 201,
    handle: async (request) => {
      // Keystone validates the (possibly missing) envelope's content: {} lacks mapping_id.
      const fields = (request.body as { protocol?: ProtocolFields }).protocol ?? {};
      if (!('mapping_id' in fields)) throw missing('mapping_id');
      const { idp_id, protocol_id } = request.params;
      return {
        protocol: renderProtocol(
          await federation.createProtocol(idp_id, protocol_id, fields),
          request.baseUrl,
        ),
      };
    },
  });
  route(app, services, {
    method: 'PATCH',
    path: `${protocols}/:protocol_id`,
    action: 'identity:update_protocol',
    params: protocolParams,
    body: { type: 'object', required: ['protocol'], properties: { protocol: protocolUpdate } },
    handle: async (request) => {
      const fields = (request.body as { protocol: ProtocolFields }).protocol;
      const { idp_id, protocol_id } = request.params;
      return {
        protocol: renderProtocol(
          await federation.updateProtocol(idp_id, protocol_id, fields),
          request.baseUrl,
        ),
      };
    },
  });
  route(app, services, {
    method: 'DELETE',
    path: `${protocols}/:protocol_id`,
    action: 'identity:delete_protocol',
    params: protocolParams,
    status: 204,
    handle: (request) => federation.deleteProtocol(request.params.idp_id, request.params.protocol_id),
  });

  // --- mappings -------------------------------------------------------------------------------
  // The rules are checked by Keystone's own schema (federation/schema.ts), with its messages.
  const mappingBody = { type: 'object' } as const;
  crud<MappingRow, Record<string, unknown>>(app, services, {
    path: `${PREFIX}/mappings`,
    member: 'mapping',
    collection: 'mappings',
    body: { schema: mappingBody },
    require: (id) => federation.requireMapping(id),
    memberTarget: noTarget,
    render: renderMapping,
    rows: () => federation.listMappings(),
    update: (current, mapping) => federation.updateMapping(current.id, mapping),
    remove: (id) => federation.deleteMapping(id),
  });
  route(app, services, {
    method: 'PUT',
    path: `${PREFIX}/mappings/:mapping_id`,
    action: 'identity:create_mapping',
    params: { type: 'object', properties: { mapping_id: id64 }, required: ['mapping_id'] },
    body: optionalEnvelope('mapping', mappingBody),
    status: 201,
    handle: async (request) => {
      const body = (request.body as { mapping?: Record<string, unknown> }).mapping ?? {};
      const mapping = await federation.createMapping(request.params.mapping_id, body);
      return { mapping: renderMapping(mapping, request.baseUrl) };
    },
  });

  // --- service providers ----------------------------------------------------------------------
  crud<ServiceProviderRow, SpFields>(app, services, {
    path: `${PREFIX}/service_providers`,
    member: 'service_provider',
    collection: 'service_providers',
    id: 'sp_id',
    body: { schema: spCreate },
    updateSchema: spUpdate,
    require: (id) => federation.requireServiceProvider(id),
    memberTarget: noTarget,
    render: renderServiceProvider,
    filters,
    rows: (_request, hints) => federation.listServiceProviders(hints),
    update: (current, sp) => federation.updateServiceProvider(current.id, sp),
    remove: (id) => federation.deleteServiceProvider(id),
  });
  route(app, services, {
    method: 'PUT',
    path: `${PREFIX}/service_providers/:sp_id`,
    action: 'identity:create_service_provider',
    params: { type: 'object', properties: { sp_id: id64 }, required: ['sp_id'] },
    body: optionalEnvelope('service_provider', spCreate),
    status: 201,
    handle: async (request) => {
      const body = (request.body as { service_provider?: SpFields }).service_provider ?? {};
      for (const key of ['auth_url', 'sp_url'] as const) if (!(key in body)) throw missing(key);
      const sp = await federation.createServiceProvider(request.params.sp_id, body);
      return { service_provider: renderServiceProvider(sp, request.baseUrl) };
    },
  });
}

/** jsonschema's words for a required property the (absent) envelope did not give. */
const missing = (key: string) => validation(`'${key}' is a required property`);
