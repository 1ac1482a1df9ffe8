/**
 * The catalog's collections: regions (with parent regions), services and endpoints, CRUD.
 * What is stored is what tokens carry (catalog/service.ts rebuilds the token catalog after any
 * change, through the invalidation triggers).
 */
import type { FastifyInstance } from 'fastify';
import type { EndpointRow, RegionRow, ServiceRow } from '../catalog/service.js';
import { id64 } from './collection.js';
import type { PluginOptions } from './context.js';
import { crud, envelope, noTarget, type Of, object, route } from './resource.js';

const str = { type: 'string', maxLength: 255 } as const;
const filter = <const P extends Record<string, typeof str>>(properties: P) =>
  ({ type: 'object', properties }) as const;
const regionId = { type: 'string', minLength: 1, maxLength: 255 } as const;
const description = { type: ['string', 'null'] } as const;
const iface = { type: 'string', enum: ['public', 'internal', 'admin'] } as const;
const url = { type: 'string', minLength: 1, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' } as const;
/** An update names at least one attribute. */
const atLeastOne = <const S extends object>(schema: S) => ({ ...schema, required: [], minProperties: 1 });

const parentRegionId = { type: ['string', 'null'], maxLength: 255 } as const;
const regionSchema = object({ id: regionId, description, parent_region_id: parentRegionId });
type RegionMember = Of<typeof regionSchema>;
const serviceSchema = object(
  {
    type: { type: 'string', minLength: 1, maxLength: 255 },
    name: str,
    enabled: { type: 'boolean' },
    description,
  },
  ['type'],
);
type ServiceMember = Of<typeof serviceSchema>;
const endpointSchema = object(
  {
    interface: iface,
    url,
    service_id: id64,
    region_id: { type: ['string', 'null'], maxLength: 255 },
    // The legacy name of region_id (v2-style clients).
    region: { type: ['string', 'null'], maxLength: 255 },
    enabled: { type: 'boolean' },
  },
  ['interface', 'url', 'service_id'],
);
type EndpointMember = Of<typeof endpointSchema>;

export function renderRegion(r: RegionRow, base: string) {
  return {
    id: r.id,
    description: r.description,
    parent_region_id: r.parent_region_id,
    links: { self: `${base}/v3/regions/${r.id}` },
  };
}

export function renderService(s: ServiceRow, base: string) {
  return {
    id: s.id,
    type: s.type,
    name: s.name,
    enabled: s.enabled,
    ...(s.description === null ? {} : { description: s.description }),
    links: { self: `${base}/v3/services/${s.id}` },
  };
}

export function renderEndpoint(e: EndpointRow, base: string) {
  return {
    id: e.id,
    interface: e.interface,
    region_id: e.region_id,
    region: e.region_id,
    service_id: e.service_id,
    url: e.url,
    enabled: e.enabled,
    links: { self: `${base}/v3/endpoints/${e.id}` },
  };
}

export async function catalogRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { catalog } = services;

  // --- regions -------------------------------------------------------------------------------
  crud<RegionRow, RegionMember>(app, services, {
    path: '/v3/regions',
    member: 'region',
    collection: 'regions',
    body: { schema: regionSchema },
    updateSchema: atLeastOne(object({ description, parent_region_id: parentRegionId })),
    idSchema: regionId,
    query: filter({ parent_region_id: str }),
    require: (id) => catalog.region(id),
    memberTarget: noTarget,
    createTarget: noTarget,
    render: renderRegion,
    rows: (request) => catalog.listRegions(request.query as { parent_region_id?: string }),
    create: (r) =>
      catalog.createRegion({
        ...(r.id === undefined ? {} : { id: r.id }),
        description: r.description ?? '',
        parentRegionId: r.parent_region_id ?? null,
      }),
    update: (current, r) =>
      catalog.updateRegion(current.id, {
        ...(r.description === undefined ? {} : { description: r.description ?? '' }),
        ...('parent_region_id' in r ? { parent_region_id: r.parent_region_id ?? null } : {}),
      }),
    remove: (id) => catalog.deleteRegion(id),
  });
  // Keystone also creates a region with the id in the path.
  route(app, services, {
    method: 'PUT',
    path: '/v3/regions/:region_id',
    action: 'identity:create_region',
    params: { type: 'object', properties: { region_id: regionId } },
    body: envelope('region', regionSchema),
    status: 201,
    handle: async (request) => {
      const r = (request.body as { region: RegionMember }).region;
      const created = await catalog.createRegion({
        id: request.params.region_id,
        description: r.description ?? '',
        parentRegionId: r.parent_region_id ?? null,
      });
      return { region: renderRegion(created, request.baseUrl) };
    },
  });

  // --- services ------------------------------------------------------------------------------
  crud<ServiceRow, ServiceMember>(app, services, {
    path: '/v3/services',
    member: 'service',
    collection: 'services',
    body: { schema: serviceSchema },
    updateSchema: atLeastOne(serviceSchema),
    query: filter({ type: str, name: str }),
    require: (id) => catalog.service(id),
    memberTarget: noTarget,
    createTarget: noTarget,
    render: renderService,
    rows: (request) => catalog.listServices(request.query as { type?: string; name?: string }),
    create: (s) =>
      catalog.createService({
        type: s.type,
        name: s.name ?? '',
        enabled: s.enabled ?? true,
        description: s.description ?? null,
      }),
    update: (current, s) => catalog.updateService(current.id, s),
    remove: (id) => catalog.deleteService(id),
  });

  // --- endpoints -----------------------------------------------------------------------------
  crud<EndpointRow, EndpointMember>(app, services, {
    path: '/v3/endpoints',
    member: 'endpoint',
    collection: 'endpoints',
    body: { schema: endpointSchema },
    updateSchema: atLeastOne(endpointSchema),
    query: filter({ interface: str, service_id: str, region_id: str }),
    require: (id) => catalog.endpoint(id),
    memberTarget: noTarget,
    createTarget: noTarget,
    render: renderEndpoint,
    rows: (request) =>
      catalog.listEndpoints(request.query as { interface?: string; service_id?: string; region_id?: string }),
    create: (e) =>
      catalog.createEndpoint(
        {
          interface: e.interface,
          url: e.url,
          service_id: e.service_id,
          region_id: e.region_id ?? null,
          enabled: e.enabled ?? true,
        },
        e.region,
      ),
    update: (current, { region, ...e }) => {
      const patch: Partial<Omit<EndpointRow, 'id'>> = {
        ...(e.interface === undefined ? {} : { interface: e.interface }),
        ...(e.url === undefined ? {} : { url: e.url }),
        ...(e.service_id === undefined ? {} : { service_id: e.service_id }),
        ...(e.enabled === undefined ? {} : { enabled: e.enabled }),
        ...('region_id' in e ? { region_id: e.region_id ?? null } : {}),
      };
      return catalog.updateEndpoint(current.id, patch, region);
    },
    remove: (id) => catalog.deleteEndpoint(id),
  });
}
