/**
 * /v3/groups: create, list (name, domain_id), show, update, delete; membership with
 * PUT/HEAD/DELETE /v3/groups/{g}/users/{u} and GET /v3/groups/{g}/users.
 */
import type { FastifyInstance } from 'fastify';
import { validation } from '../errors.js';
import { buildHints } from '../hints.js';
import type { GroupRow } from '../identity/service.js';
import {
  bodyId,
  callerDomain,
  defaultDomain,
  description,
  domainListTarget,
  extraOf,
  name,
  param,
  renderedCollection,
} from './collection.js';
import type { PluginOptions } from './context.js';
import { renderGroup, renderUser } from './render.js';
import { crud, type Of, object, pathParams, type Req, relation, route } from './resource.js';
import { USER_LIST_FILTERS } from './users.js';

const KNOWN = ['name', 'domain_id', 'description'];
const groupSchema = object({ name: name(64), domain_id: bodyId, description }, ['name']);
type GroupMember = Of<typeof groupSchema>;

export async function groupRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { identity } = services;
  const load = (id: string) => identity.requireGroup(id).catch(() => null);
  const groupTarget = async (request: Req) => ({ group: (await load(param(request, 'group_id'))) ?? {} });

  crud<GroupRow, GroupMember>(app, services, {
    path: '/v3/groups',
    member: 'group',
    collection: 'groups',
    body: { schema: groupSchema },
    load,
    render: renderGroup,
    // As Keystone: a domain-scoped caller's groups are those of its domain.
    listTarget: (request) => {
      const scoped = callerDomain(request);
      return { ...domainListTarget(request), ...(scoped ? { group: { domain_id: scoped } } : {}) };
    },
    filters: { exact: ['name', 'domain_id'], inexact: ['name'] },
    rows: (request, hints) => {
      const scoped = callerDomain(request);
      return identity.listGroups(
        scoped ? [...hints, { kind: 'exact', field: 'domain_id', value: scoped }] : hints,
      );
    },
    createTarget: (group, request) => ({
      group: { ...group, domain_id: group.domain_id ?? defaultDomain(request.caller) },
    }),
    create: (group, request) =>
      identity.createGroup({
        name: group.name,
        domainId: group.domain_id ?? defaultDomain(request.caller),
        description: group.description ?? '',
        extra: extraOf(group, KNOWN),
      }),
    update: (current, group) => {
      if (group.domain_id !== undefined && group.domain_id !== current.domain_id)
        throw validation('Cannot change Domain ID');
      return identity.updateGroup(current.id, {
        ...(group.name === undefined ? {} : { name: group.name }),
        ...(group.description === undefined ? {} : { description: group.description ?? '' }),
        extra: extraOf(group, KNOWN),
      });
    },
    remove: (id) => identity.deleteGroup(id),
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/groups/:group_id/users',
    action: 'identity:list_users_in_group',
    params: pathParams('group_id'),
    target: groupTarget,
    handle: async (request) => {
      const group = await identity.requireGroup(request.params.group_id);
      const hints = buildHints(request.query as Record<string, unknown>, USER_LIST_FILTERS);
      return renderedCollection('users', await identity.listUsers(hints, group.id), renderUser, request);
    },
  });

  const membership = (request: Req) => [param(request, 'group_id'), param(request, 'user_id')] as const;
  relation(app, services, {
    path: '/v3/groups/:group_id/users/:user_id',
    actions: {
      put: 'identity:add_user_to_group',
      check: 'identity:check_user_in_group',
      delete: 'identity:remove_user_from_group',
    },
    params: pathParams('group_id', 'user_id'),
    target: async (request) => {
      const [groupId, userId] = membership(request);
      const [group, user] = await Promise.all([load(groupId), identity.getUser(userId)]);
      return { group: group ?? {}, user: user ?? {} };
    },
    put: (request) => identity.addMember(...membership(request)),
    check: (request) => identity.checkMember(...membership(request)),
    remove: (request) => identity.removeMember(...membership(request)),
  });
}
