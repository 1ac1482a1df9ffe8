/**
 * The catalog's collections, read side: GET /v3/services and GET /v3/endpoints (what
 * `openstack endpoint list` reads). Create, update and delete belong here too.
 */
import type { FastifyInstance } from 'fastify';
import { enforce, type PluginOptions } from './context.js';
import { baseUrl } from './render.js';

const filter = (properties: Record<string, unknown>) => ({
  querystring: { type: 'object', properties },
});
const str = { type: 'string', maxLength: 255 };

export async function catalogRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  app.get<{ Querystring: { type?: string; name?: string } }>(
    '/v3/services',
    { schema: filter({ type: str, name: str }), preHandler: enforce(services, 'identity:list_services') },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const rows = await services.catalog.listServices(request.query);
      return {
        services: rows.map((s) => ({
          id: s.id,
          type: s.type,
          name: s.name,
          enabled: s.enabled,
          ...(s.description === null ? {} : { description: s.description }),
          links: { self: `${base}/v3/services/${s.id}` },
        })),
        links: { self: `${base}/v3/services`, previous: null, next: null },
      };
    },
  );
  app.get<{ Querystring: { interface?: string; service_id?: string; region_id?: string } }>(
    '/v3/endpoints',
    {
      schema: filter({ interface: str, service_id: str, region_id: str }),
      preHandler: enforce(services, 'identity:list_endpoints'),
    },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const rows = await services.catalog.listEndpoints(request.query);
      return {
        endpoints: rows.map((e) => ({
          id: e.id,
          interface: e.interface,
          region_id: e.region_id,
          region: e.region_id,
          service_id: e.service_id,
          url: e.url,
          enabled: e.enabled,
          links: { self: `${base}/v3/endpoints/${e.id}` },
        })),
        links: { self: `${base}/v3/endpoints`, previous: null, next: null },
      };
    },
  );
}
