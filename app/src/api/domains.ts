/** /v3/domains: create, list (name, enabled and the name__* filters), show, update, delete. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validation as validationError } from '../errors.js';
import { buildHints } from '../hints.js';
import type { DomainFields } from '../resource/service.js';
import {
  collection,
  description,
  extraOf,
  id64,
  name,
  param,
  resourceOptions,
  tagList,
} from './collection.js';
import { enforce, type PluginOptions } from './context.js';
import { baseUrl, renderDomain } from './render.js';

const KNOWN = ['name', 'description', 'enabled', 'tags', 'options'] as const;
const domainBody = (required: string[]) =>
  ({
    type: 'object',
    required: ['domain'],
    properties: {
      domain: {
        type: 'object',
        required,
        properties: {
          name: name(64),
          description,
          enabled: { type: 'boolean' },
          tags: tagList,
          options: resourceOptions,
        },
      },
    },
  }) as const;
const params = { type: 'object', properties: { domain_id: id64 } } as const;

type DomainBody = { domain: Partial<DomainFields> & Record<string, unknown> };

function fieldsOf(body: DomainBody['domain']): Partial<DomainFields> {
  return {
    ...(body.name === undefined ? {} : { name: body.name }),
    ...(body.description === undefined ? {} : { description: body.description ?? '' }),
    ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
    ...(body.tags === undefined ? {} : { tags: body.tags }),
    ...(body.options === undefined ? {} : { options: body.options }),
    extra: extraOf(body, KNOWN),
  };
}

export async function domainRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const { resource } = services;
  const domainTarget = async (request: FastifyRequest) => ({
    domain: (await resource.getDomain(param(request, 'domain_id'))) ?? {},
  });

  app.get('/v3/domains', { preHandler: enforce(services, 'identity:list_domains') }, async (request) => {
    const base = baseUrl(request, config.publicEndpoint);
    const hints = buildHints(request.query as Record<string, unknown>, {
      exact: ['name'],
      bool: ['enabled'],
      inexact: ['name'],
    });
    const rows = await resource.listDomains(hints);
    return collection(
      'domains',
      rows.map((d) => renderDomain(d, base)),
      request,
      base,
    );
  });

  app.post<{ Body: DomainBody }>(
    '/v3/domains',
    {
      schema: { body: domainBody(['name']) },
      preHandler: enforce(services, 'identity:create_domain', (request) => ({
        domain: (request.body as DomainBody).domain,
      })),
    },
    async (request, reply) => {
      const fields = fieldsOf(request.body.domain);
      const domain = await resource.createDomain({ ...fields, name: fields.name as string });
      reply.code(201);
      return { domain: renderDomain(domain, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.get<{ Params: { domain_id: string } }>(
    '/v3/domains/:domain_id',
    { schema: { params }, preHandler: enforce(services, 'identity:get_domain', domainTarget) },
    async (request) => ({
      domain: renderDomain(
        await resource.requireDomain(request.params.domain_id),
        baseUrl(request, config.publicEndpoint),
      ),
    }),
  );

  app.patch<{ Params: { domain_id: string }; Body: DomainBody }>(
    '/v3/domains/:domain_id',
    {
      schema: { params, body: domainBody([]) },
      preHandler: enforce(services, 'identity:update_domain', domainTarget),
    },
    async (request) => {
      const body = request.body.domain;
      if (body.id !== undefined && body.id !== request.params.domain_id)
        throw validationError('Cannot change the domain ID.');
      const domain = await resource.updateDomain(request.params.domain_id, fieldsOf(body));
      return { domain: renderDomain(domain, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.delete<{ Params: { domain_id: string } }>(
    '/v3/domains/:domain_id',
    { schema: { params }, preHandler: enforce(services, 'identity:delete_domain', domainTarget) },
    async (request, reply) => {
      await resource.deleteDomain(request.params.domain_id);
      reply.code(204).send();
    },
  );
}
