/**
 * Domain-specific configuration (/v3/domains/{domain_id}/config[/{group}[/{option}]]) and the
 * defaults of the options a domain may set (/v3/domains/config[/{group}[/{option}]]/default), as
 * keystone/api/domains.py serves them. The rules are in domain-config/service.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { id64 } from './collection.js';
import type { PluginOptions } from './context.js';
import { type Req, route } from './resource.js';

const BASE = '/v3/domains/:domain_id/config';
const part = { type: 'string', minLength: 1, maxLength: 255 } as const;
const paramsOf = (names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, n === 'domain_id' ? id64 : part])),
  required: names,
});
const GROUP = 'security_compliance';

/** `config` of the request body (Keystone reads a missing one as {}). */
const configOf = (request: FastifyRequest): unknown => {
  const body = request.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as { config?: unknown }).config
    : undefined;
};

export async function domainConfigRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { domainConfig, resource } = services;
  const p = (request: Req) => request.params as Record<string, string | undefined>;
  const groupOf = (request: Req) => p(request).group ?? null;
  const optionOf = (request: Req) => p(request).option ?? null;

  for (const path of [BASE, `${BASE}/:group`, `${BASE}/:group/:option`]) {
    const params = paramsOf([
      'domain_id',
      ...[...path.matchAll(/:(group|option)/g)].map((m) => m[1] as string),
    ]);
    route(app, services, {
      method: 'GET',
      path,
      // The security compliance group has its own rule: any member of the domain may read it.
      action: (request) =>
        groupOf(request) === GROUP
          ? 'identity:get_security_compliance_domain_config'
          : 'identity:get_domain_config',
      params,
      handle: async (request) => {
        const domainId = p(request).domain_id as string;
        if (groupOf(request) === GROUP)
          return { config: domainConfig.securityCompliance(domainId, optionOf(request)) };
        return { config: await domainConfig.getConfig(domainId, groupOf(request), optionOf(request)) };
      },
    });
    route(app, services, {
      method: 'PATCH',
      path,
      action: 'identity:update_domain_config',
      params,
      handle: async (request) => {
        const domain = await resource.requireDomain(p(request).domain_id as string);
        return {
          config: await domainConfig.updateConfig(
            domain.id,
            configOf(request),
            groupOf(request),
            optionOf(request),
          ),
        };
      },
    });
    route(app, services, {
      method: 'DELETE',
      path,
      action: 'identity:delete_domain_config',
      params,
      status: 204,
      handle: async (request) => {
        const domain = await resource.requireDomain(p(request).domain_id as string);
        await domainConfig.deleteConfig(domain.id, groupOf(request), optionOf(request));
      },
    });
  }

  // A new configuration is 201; replacing one that existed (sensitive options count) is 200.
  route(app, services, {
    method: 'PUT',
    path: BASE,
    action: 'identity:create_domain_config',
    params: paramsOf(['domain_id']),
    handle: async (request, reply) => {
      const domain = await resource.requireDomain(p(request).domain_id as string);
      const existed = await domainConfig.hasConfig(domain.id);
      const config = await domainConfig.createConfig(domain.id, configOf(request));
      reply.code(existed ? 200 : 201);
      return reply.send({ config });
    },
  });

  for (const path of [
    '/v3/domains/config/default',
    '/v3/domains/config/:group/default',
    '/v3/domains/config/:group/:option/default',
  ]) {
    const names = [...path.matchAll(/:(group|option)/g)].map((m) => m[1] as string);
    route(app, services, {
      method: 'GET',
      path,
      action: 'identity:get_domain_config_default',
      ...(names.length ? { params: paramsOf(names) } : {}),
      handle: async (request) => ({
        config: domainConfig.defaultConfig(groupOf(request), optionOf(request)),
      }),
    });
  }
}
