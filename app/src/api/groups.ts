/**
 * /v3/groups: create, list (name, domain_id), show, update, delete; membership with
 * PUT/HEAD/DELETE /v3/groups/{g}/users/{u} and GET /v3/groups/{g}/users.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validation } from '../errors.js';
import { buildHints } from '../hints.js';
import type { TokenContext } from '../token/service.js';
import {
  bodyId,
  callerDomain,
  collection,
  defaultDomain,
  description,
  extraOf,
  id64,
  name,
  param,
} from './collection.js';
import { enforce, type PluginOptions } from './context.js';
import { baseUrl, renderGroup, renderUser } from './render.js';
import { USER_LIST_FILTERS } from './users.js';

const KNOWN = ['name', 'domain_id', 'description'];
const groupBody = (required: string[]) =>
  ({
    type: 'object',
    required: ['group'],
    properties: {
      group: {
        type: 'object',
        required,
        properties: { name: name(64), domain_id: bodyId, description },
      },
    },
  }) as const;
const params = { type: 'object', properties: { group_id: id64 } } as const;
const memberParams = { type: 'object', properties: { group_id: id64, user_id: id64 } } as const;

interface GroupBody {
  group: { name?: string; domain_id?: string; description?: string | null; [key: string]: unknown };
}

export async function groupRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const { identity } = services;
  const groupTarget = async (request: FastifyRequest) => ({
    group: (await identity.requireGroup(param(request, 'group_id')).catch(() => null)) ?? {},
  });
  const memberTarget = async (request: FastifyRequest) => {
    const [group, user] = await Promise.all([
      identity.requireGroup(param(request, 'group_id')).catch(() => null),
      identity.getUser(param(request, 'user_id')),
    ]);
    return { group: group ?? {}, user: user ?? {} };
  };

  app.get(
    '/v3/groups',
    {
      // As Keystone: a domain-scoped caller's groups are those of its domain.
      preHandler: enforce(services, 'identity:list_groups', (request) => ({
        domain_id: callerDomain(request) ?? (request.query as Record<string, unknown>).domain_id,
        ...(callerDomain(request) ? { group: { domain_id: callerDomain(request) } } : {}),
      })),
    },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const hints = buildHints(request.query as Record<string, unknown>, {
        exact: ['name', 'domain_id'],
        inexact: ['name'],
      });
      const scoped = callerDomain(request);
      const rows = await identity.listGroups(
        scoped ? [...hints, { kind: 'exact', field: 'domain_id', value: scoped }] : hints,
      );
      return collection(
        'groups',
        rows.map((g) => renderGroup(g, base)),
        request,
        base,
      );
    },
  );

  app.post<{ Body: GroupBody }>(
    '/v3/groups',
    {
      schema: { body: groupBody(['name']) },
      preHandler: enforce(services, 'identity:create_group', (request, caller) => {
        const body = (request.body as GroupBody).group;
        return { group: { ...body, domain_id: body.domain_id ?? defaultDomain(caller) } };
      }),
    },
    async (request, reply) => {
      const body = request.body.group;
      const group = await identity.createGroup({
        name: body.name as string,
        domainId: body.domain_id ?? defaultDomain(request.caller as TokenContext),
        description: body.description ?? '',
        extra: extraOf(body, KNOWN),
      });
      reply.code(201);
      return { group: renderGroup(group, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.get<{ Params: { group_id: string } }>(
    '/v3/groups/:group_id',
    { schema: { params }, preHandler: enforce(services, 'identity:get_group', groupTarget) },
    async (request) => ({
      group: renderGroup(
        await identity.requireGroup(request.params.group_id),
        baseUrl(request, config.publicEndpoint),
      ),
    }),
  );

  app.patch<{ Params: { group_id: string }; Body: GroupBody }>(
    '/v3/groups/:group_id',
    {
      schema: { params, body: groupBody([]) },
      preHandler: enforce(services, 'identity:update_group', groupTarget),
    },
    async (request) => {
      const body = request.body.group;
      const current = await identity.requireGroup(request.params.group_id);
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw validation('Cannot change Domain ID');
      const group = await identity.updateGroup(current.id, {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.description === undefined ? {} : { description: body.description ?? '' }),
        extra: extraOf(body, KNOWN),
      });
      return { group: renderGroup(group, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.delete<{ Params: { group_id: string } }>(
    '/v3/groups/:group_id',
    { schema: { params }, preHandler: enforce(services, 'identity:delete_group', groupTarget) },
    async (request, reply) => {
      await identity.deleteGroup(request.params.group_id);
      reply.code(204).send();
    },
  );

  app.get<{ Params: { group_id: string } }>(
    '/v3/groups/:group_id/users',
    { schema: { params }, preHandler: enforce(services, 'identity:list_users_in_group', groupTarget) },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const group = await identity.requireGroup(request.params.group_id);
      const hints = buildHints(request.query as Record<string, unknown>, USER_LIST_FILTERS);
      const rows = await identity.listUsers(hints, group.id);
      return collection(
        'users',
        rows.map((u) => renderUser(u, base)),
        request,
        base,
      );
    },
  );

  app.put<{ Params: { group_id: string; user_id: string } }>(
    '/v3/groups/:group_id/users/:user_id',
    {
      schema: { params: memberParams },
      preHandler: enforce(services, 'identity:add_user_to_group', memberTarget),
    },
    async (request, reply) => {
      await identity.addMember(request.params.group_id, request.params.user_id);
      reply.code(204).send();
    },
  );

  app.head<{ Params: { group_id: string; user_id: string } }>(
    '/v3/groups/:group_id/users/:user_id',
    {
      schema: { params: memberParams },
      preHandler: enforce(services, 'identity:check_user_in_group', memberTarget),
    },
    async (request, reply) => {
      await identity.checkMember(request.params.group_id, request.params.user_id);
      reply.code(204).send();
    },
  );

  app.delete<{ Params: { group_id: string; user_id: string } }>(
    '/v3/groups/:group_id/users/:user_id',
    {
      schema: { params: memberParams },
      preHandler: enforce(services, 'identity:remove_user_from_group', memberTarget),
    },
    async (request, reply) => {
      await identity.removeMember(request.params.group_id, request.params.user_id);
      reply.code(204).send();
    },
  );
}
