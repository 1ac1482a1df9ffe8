/** Version discovery: GET / (300, every version) and GET /v3 (the v3 document). */
import type { FastifyInstance } from 'fastify';
import type { PluginOptions } from './context.js';
import { baseUrl, versionDocument } from './render.js';

export async function discoveryRoutes(app: FastifyInstance, { config }: PluginOptions): Promise<void> {
  app.get('/', async (request, reply) => {
    const base = baseUrl(request, config.publicEndpoint);
    reply.code(300).header('location', `${base}/v3/`);
    return { versions: { values: [versionDocument(base)] } };
  });
  app.get('/v3', async (request) => ({ version: versionDocument(baseUrl(request, config.publicEndpoint)) }));
}
