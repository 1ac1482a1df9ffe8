/**
 * /v3/users: create, list (name, domain_id, enabled, password_expires_at and the name__*
 * filters), show, update, delete; /v3/users/{id}/projects and /v3/users/{id}/groups. The
 * password is write-only. POST /v3/users/{id}/password lives in password.ts.
 */
import type { FastifyInstance } from 'fastify';
import { validation } from '../errors.js';
import { buildHints } from '../hints.js';
import type { UserOptions, UserPatch, UserRow } from '../identity/service.js';
import { validateRulesOption } from '../mfa/rules.js';
import {
  bodyId,
  callerDomain,
  collection,
  defaultDomain,
  description,
  domainListTarget,
  extraOf,
  ListCache,
  nullableId,
  param,
} from './collection.js';
import type { PluginOptions } from './context.js';
import { renderGroup, renderProject, renderUser } from './render.js';
import { crud, type Of, object, pathParams, type Req, rawJson, route } from './resource.js';

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
    // Checked by validateRulesOption, which words its failures as Keystone does.
    multi_factor_auth_rules: {},
  },
  additionalProperties: false,
} as const;
const userSchema = object(
  {
    name: { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' },
    domain_id: bodyId,
    password: { type: ['string', 'null'] },
    enabled: { type: 'boolean' },
    default_project_id: nullableId,
    description,
    options: userOptions,
  },
  ['name'],
);
type UserMember = Of<typeof userSchema>;

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

export async function userRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { identity, resource } = services;
  const userTarget = async (request: Req) => {
    const id = param(request, 'user_id');
    return { user: (await identity.getUser(id)) ?? {}, user_id: id };
  };

  const lists = new ListCache(services.invalidation);
  crud<UserRow, UserMember>(app, services, {
    path: '/v3/users',
    member: 'user',
    collection: 'users',
    body: { schema: userSchema },
    // Keystone's get_user adds the user's federated objects (a shadow user's providers and ids).
    load: async (id) => {
      const user = await identity.getUser(id);
      if (!user) return null;
      const federated = await services.federation.federatedObjects(id);
      return federated.length > 0 ? { ...user, federated } : user;
    },
    render: renderUser,
    memberTarget: userTarget,
    listTarget: domainListTarget,
    list: async (request) => {
      const base = request.baseUrl;
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
      return rawJson(body);
    },
    createTarget: (user, request) => ({
      user: { ...user, domain_id: user.domain_id ?? defaultDomain(request.caller) },
    }),
    create: (user, request) => {
      validateRulesOption(user.options?.multi_factor_auth_rules ?? null);
      return identity.createUser(
        {
          name: user.name,
          domainId: user.domain_id ?? defaultDomain(request.caller),
          enabled: user.enabled ?? true,
          defaultProjectId: user.default_project_id ?? null,
          description: user.description ?? '',
          options: newOptions(user.options),
          extra: extraOf(user, KNOWN),
        },
        user.password ?? null,
      );
    },
    update: (current, user) => {
      validateRulesOption(user.options?.multi_factor_auth_rules ?? null);
      if (user.id !== undefined && user.id !== current.id) throw validation('Cannot change user ID');
      if (user.domain_id !== undefined && user.domain_id !== current.domain_id)
        throw validation('Cannot change Domain ID');
      const patch: UserPatch = { extra: extraOf(user, KNOWN) };
      if (user.name !== undefined) patch.name = user.name;
      if (user.enabled !== undefined) patch.enabled = user.enabled;
      if (user.default_project_id !== undefined) patch.defaultProjectId = user.default_project_id;
      if (user.description !== undefined) patch.description = user.description ?? '';
      if (user.options !== undefined) patch.options = user.options as unknown as UserOptions;
      if (typeof user.password === 'string') patch.password = user.password;
      return identity.updateUser(current.id, patch);
    },
    remove: (id) => identity.deleteUser(id),
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/users/:user_id/projects',
    action: 'identity:list_user_projects',
    params: pathParams('user_id'),
    target: userTarget,
    handle: async (request) => {
      const base = request.baseUrl;
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
      return rawJson(body);
    },
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/users/:user_id/groups',
    action: 'identity:list_groups_for_user',
    params: pathParams('user_id'),
    target: userTarget,
    handle: async (request) => {
      const user = await identity.requireUser(request.params.user_id);
      const hints = buildHints(request.query as Record<string, unknown>, {
        exact: ['name', 'domain_id'],
        inexact: ['name'],
      });
      const rows = await identity.listGroups(hints, user.id);
      return collection(
        'groups',
        rows.map((g) => renderGroup(g, request.baseUrl)),
        request,
        request.baseUrl,
      );
    },
  });
}

export { LIST_FILTERS as USER_LIST_FILTERS };
