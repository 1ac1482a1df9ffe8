/**
 * The catalog's collections: regions (with parent regions), services and endpoints, CRUD.
 * What is stored is what tokens carry (catalog/service.ts rebuilds the token catalog after any
 * change, through the invalidation triggers).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EndpointRow, RegionRow, ServiceRow } from '../catalog/service.js';
import { enforce, type PluginOptions } from './context.js';
import { baseUrl } from './render.js';

const filter = (properties: Record<string, unknown>) => ({
  querystring: { type: 'object', properties },
});
const str = { type: 'string', maxLength: 255 };
const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;
const regionId = { type: 'string', minLength: 1, maxLength: 255 } as const;
const description = { type: ['string', 'null'] } as const;
const iface = { type: 'string', enum: ['public', 'internal', 'admin'] } as const;
const url = { type: 'string', minLength: 1, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' } as const;
const body = (key: string, properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  required: [key],
  properties: {
    [key]: { type: 'object', ...(required.length ? { required } : { minProperties: 1 }), properties },
  },
});
const params = (name: string, schema: unknown = id64) => ({
  type: 'object',
  properties: { [name]: schema },
});

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

const collection = (base: string, path: string) => ({
  self: `${base}${path}`,
  previous: null,
  next: null,
});

type RegionBody = { region: { id?: string; description?: string | null; parent_region_id?: string | null } };
type ServiceBody = {
  service: { type?: string; name?: string; enabled?: boolean; description?: string | null };
};
type EndpointBody = {
  endpoint: {
    interface?: string;
    url?: string;
    service_id?: string;
    region_id?: string | null;
    region?: string | null;
    enabled?: boolean;
  };
};

export async function catalogRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  const { catalog } = services;
  const base = (request: FastifyRequest) => baseUrl(request, config.publicEndpoint);

  // --- regions -------------------------------------------------------------------------------
  const regionProps = {
    id: regionId,
    description,
    parent_region_id: { type: ['string', 'null'], maxLength: 255 },
  };
  app.get<{ Querystring: { parent_region_id?: string } }>(
    '/v3/regions',
    { schema: filter({ parent_region_id: str }), preHandler: enforce(services, 'identity:list_regions') },
    async (request) => ({
      regions: (await catalog.listRegions(request.query)).map((r) => renderRegion(r, base(request))),
      links: collection(base(request), request.url),
    }),
  );
  app.get<{ Params: { region_id: string } }>(
    '/v3/regions/:region_id',
    {
      schema: { params: params('region_id', regionId) },
      preHandler: enforce(services, 'identity:get_region'),
    },
    async (request) => ({
      region: renderRegion(await catalog.region(request.params.region_id), base(request)),
    }),
  );
  app.post<{ Body: RegionBody }>(
    '/v3/regions',
    {
      schema: {
        body: {
          type: 'object',
          required: ['region'],
          properties: { region: { type: 'object', properties: regionProps } },
        },
      },
      preHandler: enforce(services, 'identity:create_region'),
    },
    async (request, reply) => {
      const r = request.body.region;
      const created = await catalog.createRegion({
        ...(r.id === undefined ? {} : { id: r.id }),
        description: r.description ?? '',
        parentRegionId: r.parent_region_id ?? null,
      });
      reply.code(201);
      return { region: renderRegion(created, base(request)) };
    },
  );
  // Keystone also creates a region with the id in the path.
  app.put<{ Params: { region_id: string }; Body: RegionBody }>(
    '/v3/regions/:region_id',
    {
      schema: {
        params: params('region_id', regionId),
        body: {
          type: 'object',
          required: ['region'],
          properties: { region: { type: 'object', properties: regionProps } },
        },
      },
      preHandler: enforce(services, 'identity:create_region'),
    },
    async (request, reply) => {
      const r = request.body.region;
      const created = await catalog.createRegion({
        id: request.params.region_id,
        description: r.description ?? '',
        parentRegionId: r.parent_region_id ?? null,
      });
      reply.code(201);
      return { region: renderRegion(created, base(request)) };
    },
  );
  app.patch<{ Params: { region_id: string }; Body: RegionBody }>(
    '/v3/regions/:region_id',
    {
      schema: {
        params: params('region_id', regionId),
        body: body('region', { description, parent_region_id: regionProps.parent_region_id }),
      },
      preHandler: enforce(services, 'identity:update_region'),
    },
    async (request) => {
      const r = request.body.region;
      const updated = await catalog.updateRegion(request.params.region_id, {
        ...(r.description === undefined ? {} : { description: r.description ?? '' }),
        ...('parent_region_id' in r ? { parent_region_id: r.parent_region_id ?? null } : {}),
      });
      return { region: renderRegion(updated, base(request)) };
    },
  );
  app.delete<{ Params: { region_id: string } }>(
    '/v3/regions/:region_id',
    {
      schema: { params: params('region_id', regionId) },
      preHandler: enforce(services, 'identity:delete_region'),
    },
    async (request, reply) => {
      await catalog.deleteRegion(request.params.region_id);
      reply.code(204).send();
    },
  );

  // --- services ------------------------------------------------------------------------------
  const serviceProps = {
    type: { type: 'string', minLength: 1, maxLength: 255 },
    name: { type: 'string', maxLength: 255 },
    enabled: { type: 'boolean' },
    description,
  };
  app.get<{ Querystring: { type?: string; name?: string } }>(
    '/v3/services',
    { schema: filter({ type: str, name: str }), preHandler: enforce(services, 'identity:list_services') },
    async (request) => ({
      services: (await catalog.listServices(request.query)).map((s) => renderService(s, base(request))),
      links: collection(base(request), request.url),
    }),
  );
  app.get<{ Params: { service_id: string } }>(
    '/v3/services/:service_id',
    { schema: { params: params('service_id') }, preHandler: enforce(services, 'identity:get_service') },
    async (request) => ({
      service: renderService(await catalog.service(request.params.service_id), base(request)),
    }),
  );
  app.post<{ Body: ServiceBody }>(
    '/v3/services',
    {
      schema: { body: body('service', serviceProps, ['type']) },
      preHandler: enforce(services, 'identity:create_service'),
    },
    async (request, reply) => {
      const s = request.body.service;
      const created = await catalog.createService({
        type: s.type as string,
        name: s.name ?? '',
        enabled: s.enabled ?? true,
        description: s.description ?? null,
      });
      reply.code(201);
      return { service: renderService(created, base(request)) };
    },
  );
  app.patch<{ Params: { service_id: string }; Body: ServiceBody }>(
    '/v3/services/:service_id',
    {
      schema: { params: params('service_id'), body: body('service', serviceProps) },
      preHandler: enforce(services, 'identity:update_service'),
    },
    async (request) => ({
      service: renderService(
        await catalog.updateService(request.params.service_id, request.body.service),
        base(request),
      ),
    }),
  );
  app.delete<{ Params: { service_id: string } }>(
    '/v3/services/:service_id',
    { schema: { params: params('service_id') }, preHandler: enforce(services, 'identity:delete_service') },
    async (request, reply) => {
      await catalog.deleteService(request.params.service_id);
      reply.code(204).send();
    },
  );

  // --- endpoints -----------------------------------------------------------------------------
  const endpointProps = {
    interface: iface,
    url,
    service_id: id64,
    region_id: { type: ['string', 'null'], maxLength: 255 },
    region: { type: ['string', 'null'], maxLength: 255 },
    enabled: { type: 'boolean' },
  };
  app.get<{ Querystring: { interface?: string; service_id?: string; region_id?: string } }>(
    '/v3/endpoints',
    {
      schema: filter({ interface: str, service_id: str, region_id: str }),
      preHandler: enforce(services, 'identity:list_endpoints'),
    },
    async (request) => ({
      endpoints: (await catalog.listEndpoints(request.query)).map((e) => renderEndpoint(e, base(request))),
      links: collection(base(request), request.url),
    }),
  );
  app.get<{ Params: { endpoint_id: string } }>(
    '/v3/endpoints/:endpoint_id',
    { schema: { params: params('endpoint_id') }, preHandler: enforce(services, 'identity:get_endpoint') },
    async (request) => ({
      endpoint: renderEndpoint(await catalog.endpoint(request.params.endpoint_id), base(request)),
    }),
  );
  app.post<{ Body: EndpointBody }>(
    '/v3/endpoints',
    {
      schema: { body: body('endpoint', endpointProps, ['interface', 'url', 'service_id']) },
      preHandler: enforce(services, 'identity:create_endpoint'),
    },
    async (request, reply) => {
      const e = request.body.endpoint;
      const created = await catalog.createEndpoint(
        {
          interface: e.interface as string,
          url: e.url as string,
          service_id: e.service_id as string,
          region_id: e.region_id ?? null,
          enabled: e.enabled ?? true,
        },
        e.region, // the legacy name of region_id
      );
      reply.code(201);
      return { endpoint: renderEndpoint(created, base(request)) };
    },
  );
  app.patch<{ Params: { endpoint_id: string }; Body: EndpointBody }>(
    '/v3/endpoints/:endpoint_id',
    {
      schema: { params: params('endpoint_id'), body: body('endpoint', endpointProps) },
      preHandler: enforce(services, 'identity:update_endpoint'),
    },
    async (request) => {
      const { region, ...e } = request.body.endpoint;
      const patch: Partial<Omit<EndpointRow, 'id'>> = {
        ...(e.interface === undefined ? {} : { interface: e.interface }),
        ...(e.url === undefined ? {} : { url: e.url }),
        ...(e.service_id === undefined ? {} : { service_id: e.service_id }),
        ...(e.enabled === undefined ? {} : { enabled: e.enabled }),
        ...('region_id' in e ? { region_id: e.region_id ?? null } : {}),
      };
      return {
        endpoint: renderEndpoint(
          await catalog.updateEndpoint(request.params.endpoint_id, patch, region),
          base(request),
        ),
      };
    },
  );
  app.delete<{ Params: { endpoint_id: string } }>(
    '/v3/endpoints/:endpoint_id',
    { schema: { params: params('endpoint_id') }, preHandler: enforce(services, 'identity:delete_endpoint') },
    async (request, reply) => {
      await catalog.deleteEndpoint(request.params.endpoint_id);
      reply.code(204).send();
    },
  );
}
