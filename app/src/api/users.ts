/**
 * /v3/users: create, list (name, domain_id, enabled, password_expires_at and the name__*
 * filters), show, update, delete; /v3/users/{id}/projects and /v3/users/{id}/groups. The
 * password is write-only. POST /v3/users/{id}/password lives in password.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validation } from '../errors.js';
import { buildHints } from '../hints.js';
import type { UserOptions, UserPatch } from '../identity/service.js';
import type { TokenContext } from '../token/service.js';
import {
  bodyId,
  callerDomain,
  collection,
  defaultDomain,
  description,
  extraOf,
  id64,
  ListCache,
  nullableId,
  param,
} from './collection.js';
import { enforce, type PluginOptions } from './context.js';
import { baseUrl, renderGroup, renderProject, renderUser } from './render.js';

const KNOWN = ['name', 'domain_id', 'password', 'enabled', 'default_project_id', 'description', 'options'];
const nullableBool = { type: ['boolean', 'null'] } as const;
/** Keystone's user options (identity/backends/resource_options.py), null to remove one. */
export const userOptions = {
  type: 'object',
  properties: {
    ignore_change_password_upon_first_use: nullableBool,
    ignore_password_expiry: nullableBool,
    ignore_lockout_failure_attempts: nullableBool,
    ignore_user_inactivity: nullableBool,
    lock_password: nullableBool,
    multi_factor_auth_enabled: nullableBool,
    multi_factor_auth_rules: {
      type: ['array', 'null'],
      items: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 }, minItems: 1 },
    },
  },
  additionalProperties: false,
} as const;
const userBody = (required: string[]) =>
  ({
    type: 'object',
    required: ['user'],
    properties: {
      user: {
        type: 'object',
        required,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' },
          domain_id: bodyId,
          password: { type: ['string', 'null'] },
          enabled: { type: 'boolean' },
          default_project_id: nullableId,
          description,
          options: userOptions,
        },
      },
    },
  }) as const;
const params = { type: 'object', properties: { user_id: id64 } } as const;

interface UserBody {
  user: {
    name?: string;
    domain_id?: string;
    password?: string | null;
    enabled?: boolean;
    default_project_id?: string | null;
    description?: string | null;
    options?: Record<string, unknown>;
    [key: string]: unknown;
  };
}

const LIST_FILTERS = {
  exact: ['name', 'domain_id'],
  bool: ['enabled'],
  inexact: ['name'],
  time: ['password_expires_at'],
};

/** Options with the nulls (removals) dropped, for a new user. */
function newOptions(options: Record<string, unknown> | undefined): UserOptions {
  return Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== null)) as UserOptions;
}

export async function userRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const { identity, resource } = services;
  const userTarget = async (request: FastifyRequest) => {
    const id = param(request, 'user_id');
    return { user: (await identity.getUser(id)) ?? {}, user_id: id };
  };

  const lists = new ListCache(services.invalidation);
  app.get(
    '/v3/users',
    {
      preHandler: enforce(services, 'identity:list_users', (request) => ({
        domain_id: callerDomain(request) ?? (request.query as Record<string, unknown>).domain_id,
      })),
    },
    async (request, reply) => {
      const base = baseUrl(request, config.publicEndpoint);
      const scoped = callerDomain(request);
      const body = await lists.body(`${base} ${scoped ?? ''} ${request.url}`, async () => {
        const hints = buildHints(request.query as Record<string, unknown>, LIST_FILTERS);
        const rows = await identity.listUsers(
          scoped ? [...hints, { kind: 'exact', field: 'domain_id', value: scoped }] : hints,
        );
        return collection(
          'users',
          rows.map((u) => renderUser(u, base)),
          request,
          base,
        );
      });
      reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.post<{ Body: UserBody }>(
    '/v3/users',
    {
      schema: { body: userBody(['name']) },
      preHandler: enforce(services, 'identity:create_user', (request, caller) => {
        const body = (request.body as UserBody).user;
        return { user: { ...body, domain_id: body.domain_id ?? defaultDomain(caller) } };
      }),
    },
    async (request, reply) => {
      const body = request.body.user;
      const user = await identity.createUser(
        {
          name: body.name as string,
          domainId: body.domain_id ?? defaultDomain(request.caller as TokenContext),
          enabled: body.enabled ?? true,
          defaultProjectId: body.default_project_id ?? null,
          description: body.description ?? '',
          options: newOptions(body.options),
          extra: extraOf(body, KNOWN),
        },
        body.password ?? null,
      );
      reply.code(201);
      return { user: renderUser(user, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.get<{ Params: { user_id: string } }>(
    '/v3/users/:user_id',
    { schema: { params }, preHandler: enforce(services, 'identity:get_user', userTarget) },
    async (request) => ({
      user: renderUser(
        await identity.requireUser(request.params.user_id),
        baseUrl(request, config.publicEndpoint),
      ),
    }),
  );

  app.patch<{ Params: { user_id: string }; Body: UserBody }>(
    '/v3/users/:user_id',
    {
      schema: { params, body: userBody([]) },
      preHandler: enforce(services, 'identity:update_user', userTarget),
    },
    async (request) => {
      const body = request.body.user;
      const current = await identity.requireUser(request.params.user_id);
      if (body.id !== undefined && body.id !== current.id) throw validation('Cannot change user ID');
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw validation('Cannot change Domain ID');
      const patch: UserPatch = { extra: extraOf(body, KNOWN) };
      if (body.name !== undefined) patch.name = body.name;
      if (body.enabled !== undefined) patch.enabled = body.enabled;
      if (body.default_project_id !== undefined) patch.defaultProjectId = body.default_project_id;
      if (body.description !== undefined) patch.description = body.description ?? '';
      if (body.options !== undefined) patch.options = body.options as UserOptions;
      if (typeof body.password === 'string') patch.password = body.password;
      const user = await identity.updateUser(current.id, patch);
      return { user: renderUser(user, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.delete<{ Params: { user_id: string } }>(
    '/v3/users/:user_id',
    { schema: { params }, preHandler: enforce(services, 'identity:delete_user', userTarget) },
    async (request, reply) => {
      await identity.deleteUser(request.params.user_id);
      reply.code(204).send();
    },
  );

  app.get<{ Params: { user_id: string } }>(
    '/v3/users/:user_id/projects',
    { schema: { params }, preHandler: enforce(services, 'identity:list_user_projects', userTarget) },
    async (request, reply) => {
      const base = baseUrl(request, config.publicEndpoint);
      const body = await lists.body(`${base} ${request.url}`, async () => {
        const user = await identity.requireUser(request.params.user_id);
        const hints = buildHints(request.query as Record<string, unknown>, {
          exact: ['name', 'domain_id'],
          bool: ['enabled'],
          inexact: ['name'],
        });
        const rows = await resource.projectsForUser(user.id, hints);
        return collection(
          'projects',
          rows.map((p) => renderProject(p, base)),
          request,
          base,
        );
      });
      reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.get<{ Params: { user_id: string } }>(
    '/v3/users/:user_id/groups',
    { schema: { params }, preHandler: enforce(services, 'identity:list_groups_for_user', userTarget) },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const user = await identity.requireUser(request.params.user_id);
      const hints = buildHints(request.query as Record<string, unknown>, {
        exact: ['name', 'domain_id'],
        inexact: ['name'],
      });
      const rows = await identity.listGroups(hints, user.id);
      return collection(
        'groups',
        rows.map((g) => renderGroup(g, base)),
        request,
        base,
      );
    },
  );
}

export { LIST_FILTERS as USER_LIST_FILTERS };
