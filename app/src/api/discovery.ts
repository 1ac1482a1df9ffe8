/**
 * Version discovery: GET / (300, every version) and GET /v3 (the v3 document); with
 * `Accept: application/json-home` preferred over JSON, the JSON-Home document instead, as Keystone.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PluginOptions } from './context.js';
import { type JsonHome, jsonHome } from './json-home.js';
import { baseUrl, versionDocument } from './render.js';

const JSON_HOME = 'application/json-home';

/**
 * Whether the client prefers JSON-Home to JSON (Keystone: werkzeug's best_match over
 * [application/json, application/json-home]; JSON wins a tie, and no Accept at all).
 */
export function prefersJsonHome(accept: string | undefined): boolean {
  if (!accept) return false;
  const quality = (type: string) => {
    let best = -1;
    let specificity = -1;
    for (const part of accept.split(',')) {
      const [range = '', ...params] = part.trim().toLowerCase().split(';');
      const q = Number(
        params
          .map((p) => p.trim())
          .find((p) => p.startsWith('q='))
          ?.slice(2) ?? '1',
      );
      const [major, minor] = range.trim().split('/');
      const [tMajor, tMinor] = type.split('/');
      const s =
        major === tMajor && minor === tMinor
          ? 2
          : major === tMajor && minor === '*'
            ? 1
            : range === '*/*'
              ? 0
              : -1;
      if (s > specificity) {
        specificity = s;
        best = Number.isNaN(q) ? 0 : q;
      }
    }
    return best;
  };
  const home = quality(JSON_HOME);
  return home > 0 && home > quality('application/json');
}

export async function discoveryRoutes(app: FastifyInstance, { config }: PluginOptions): Promise<void> {
  // Built on first use, once every plugin has registered its routes.
  const documents = new Map<string, string>();
  const home = (reply: FastifyReply, prefix: '' | '/v3') => {
    let body = documents.get(prefix);
    if (body === undefined) {
      const doc: JsonHome = jsonHome((url) => app.hasRoute({ method: 'GET', url }), prefix);
      body = JSON.stringify(doc);
      documents.set(prefix, body);
    }
    return reply.type(JSON_HOME).send(body);
  };
  const wantsHome = (request: FastifyRequest) => prefersJsonHome(request.headers.accept);

  app.get('/', async (request, reply) => {
    if (wantsHome(request)) return home(reply, '/v3');
    const base = baseUrl(request, config.publicEndpoint);
    reply.code(300).header('location', `${base}/v3/`);
    return { versions: { values: [versionDocument(base)] } };
  });
  app.get('/v3', async (request, reply) => {
    if (wantsHome(request)) return home(reply, '');
    return { version: versionDocument(baseUrl(request, config.publicEndpoint)) };
  });
}
