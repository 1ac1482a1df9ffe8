/**
 * Grants — a user's or group's role on a project, a domain or the system, and the OS-INHERIT
 * grants that flow down to projects — and GET /v3/role_assignments, stored or effective.
 *
 *   PUT|HEAD|GET|DELETE /v3/{projects|domains}/{id}/{users|groups}/{id}/roles/{role}   (204)
 *   GET                 /v3/{projects|domains}/{id}/{users|groups}/{id}/roles
 *   PUT|HEAD|GET|DELETE /v3/system/{users|groups}/{id}/roles/{role}                   (204)
 *   GET                 /v3/system/{users|groups}/{id}/roles
 *   PUT|HEAD|GET|DELETE /v3/OS-INHERIT/{domains|projects}/{id}/{users|groups}/{id}/roles/{role}/inherited_to_projects
 *   GET                 /v3/OS-INHERIT/{domains|projects}/{id}/{users|groups}/{id}/roles/inherited_to_projects
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Actor, AssignmentQuery, Grant, RoleAssignment, Target } from '../assignment/service.js';
import { validation } from '../errors.js';
import type { PolicyTarget } from '../policy/enforcer.js';
import type { Action } from '../policy/rules.js';
import type { Services } from '../services.js';
import { credentialsOf } from '../token/service.js';
import { authenticateCaller, type PluginOptions } from './context.js';
import { baseUrl } from './render.js';
import { renderRole } from './roles.js';

const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;

type GrantParams = { target_id?: string; actor_id: string; role_id?: string };
type Verb = 'create' | 'check' | 'revoke' | 'list';

/** The policy action of each grant route: projects and domains (inherited or not), and the system. */
const ACTIONS = {
  target: {
    create: 'identity:create_grant',
    check: 'identity:check_grant',
    revoke: 'identity:revoke_grant',
    list: 'identity:list_grants',
  },
  user: {
    create: 'identity:create_system_grant_for_user',
    check: 'identity:check_system_grant_for_user',
    revoke: 'identity:revoke_system_grant_for_user',
    list: 'identity:list_system_grants_for_user',
  },
  group: {
    create: 'identity:create_system_grant_for_group',
    check: 'identity:check_system_grant_for_group',
    revoke: 'identity:revoke_system_grant_for_group',
    list: 'identity:list_system_grants_for_group',
  },
} as const satisfies Record<string, Record<Verb, Action>>;

/** What Keystone's grant policies read: the role, the actor and the target, as far as they exist. */
async function grantTarget(services: Services, actor: Actor, target: Target, roleId?: string) {
  const t: PolicyTarget = {};
  if (roleId) {
    const role = await services.assignment.role(roleId);
    t.role = role ? { id: role.id, name: role.name, domain_id: role.domain_id } : {};
  }
  t[actor.type] = { id: actor.id, domain_id: await services.assignment.actorDomain(actor) };
  if (target.type === 'project')
    t.project = { id: target.id, domain_id: await services.assignment.targetDomain(target) };
  else if (target.type === 'domain') t.domain = { id: target.id };
  return t;
}

/** The stored grant's own URL (links.assignment). */
export function grantPath(g: { actor: Actor; target: Target; roleId: string; inherited: boolean }): string {
  const actor = `${g.actor.type}s/${g.actor.id}`;
  if (g.target.type === 'system') return `/v3/system/${actor}/roles/${g.roleId}`;
  const target = `${g.target.type}s/${g.target.id}`;
  return g.inherited
    ? `/v3/OS-INHERIT/${target}/${actor}/roles/${g.roleId}/inherited_to_projects`
    : `/v3/${target}/${actor}/roles/${g.roleId}`;
}

export async function grantRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const routes: Array<{
    prefix: string;
    suffix: string;
    target: Target['type'] | 'system';
    inherited: boolean;
  }> = [];
  for (const t of ['project', 'domain'] as const) {
    routes.push({ prefix: `/v3/${t}s/:target_id`, suffix: '', target: t, inherited: false });
    routes.push({
      prefix: `/v3/OS-INHERIT/${t}s/:target_id`,
      suffix: '/inherited_to_projects',
      target: t,
      inherited: true,
    });
  }
  routes.push({ prefix: '/v3/system', suffix: '', target: 'system', inherited: false });

  for (const route of routes)
    for (const actorType of ['user', 'group'] as const) {
      const system = route.target === 'system';
      const targetOf = (p: GrantParams): Target =>
        system
          ? { type: 'system', id: 'all' }
          : { type: route.target as 'project', id: p.target_id as string };
      const grantOf = (p: GrantParams): Grant => ({
        actor: { type: actorType, id: p.actor_id },
        target: targetOf(p),
        roleId: p.role_id as string,
        inherited: route.inherited,
      });
      const params = {
        type: 'object',
        properties: { target_id: id64, actor_id: id64, role_id: id64 },
      } as const;
      const guard = (verb: Verb) => async (request: FastifyRequest) => {
        const caller = await authenticateCaller(request, services);
        const p = request.params as GrantParams;
        const target = await grantTarget(
          services,
          { type: actorType, id: p.actor_id },
          targetOf(p),
          p.role_id,
        );
        services.policy.enforce(ACTIONS[system ? actorType : 'target'][verb], credentialsOf(caller), target);
      };
      const one = `${route.prefix}/${actorType}s/:actor_id/roles/:role_id${route.suffix}`;
      const list = `${route.prefix}/${actorType}s/:actor_id/roles${route.suffix}`;
      type R = { Params: GrantParams };

      app.put<R>(one, { schema: { params }, preHandler: guard('create') }, async (request, reply) => {
        await services.assignment.createGrant(grantOf(request.params));
        reply.code(204).send();
      });
      for (const method of ['head', 'get'] as const)
        app[method]<R>(one, { schema: { params }, preHandler: guard('check') }, async (request, reply) => {
          await services.assignment.checkGrant(grantOf(request.params));
          reply.code(204).send();
        });
      app.delete<R>(one, { schema: { params }, preHandler: guard('revoke') }, async (request, reply) => {
        await services.assignment.deleteGrant(grantOf(request.params));
        reply.code(204).send();
      });
      app.get<R>(list, { schema: { params }, preHandler: guard('list') }, async (request) => {
        const base = baseUrl(request, config.publicEndpoint);
        const roles = await services.assignment.listGrants(
          { type: actorType, id: request.params.actor_id },
          targetOf(request.params),
          route.inherited,
        );
        return {
          roles: roles.map((r) => renderRole(r, base)),
          links: { self: `${base}${request.url}`, previous: null, next: null },
        };
      });
    }

  // The query, parsed and narrowed by the preHandler that enforces it.
  const queries = new WeakMap<FastifyRequest, AssignmentQuery>();
  app.get(
    '/v3/role_assignments',
    {
      preHandler: async (request) => {
        const who = credentialsOf(await authenticateCaller(request, services));
        const q = parseAssignmentQuery(request.query as Record<string, unknown>);
        // The target is the caller's own domain: a domain reader passes, then sees that domain
        // only (another domain's filter gives an empty list, as Keystone 22 answers).
        const action = q.includeSubtree
          ? 'identity:list_role_assignments_for_tree'
          : 'identity:list_role_assignments';
        services.policy.enforce(action, who, { domain_id: who.domain_id });
        if (!services.policy.allowed(action, who, { domain_id: null }) && who.domain_id)
          q.withinDomain = who.domain_id;
        queries.set(request, q);
      },
    },
    async (request) => {
      const all = await services.assignment.roleAssignments(queries.get(request) as AssignmentQuery);
      // Keystone's list_limit: the first entries, and "truncated" when there were more.
      const limit = config.listLimit;
      const truncated = limit !== null && all.length > limit;
      const entries = truncated ? all.slice(0, limit) : all;
      const base = baseUrl(request, config.publicEndpoint);
      const include = truthyFilter(request.query as Record<string, unknown>, 'include_names');
      const names = include ? await namesFor(services, entries) : null;
      return {
        role_assignments: entries.map((e) => renderAssignment(e, base, names)),
        links: { self: `${base}${request.url}`, previous: null, next: null },
        ...(truncated ? { truncated: true } : {}),
      };
    },
  );
}

/** Keystone's query_filter_is_true: present without a value, or a true string. */
function truthyFilter(query: Record<string, unknown>, name: string): boolean {
  if (!(name in query)) return false;
  const v = query[name];
  if (typeof v !== 'string') return false;
  return v === '' || ['1', 't', 'true', 'on', 'y', 'yes'].includes(v.toLowerCase());
}

function parseAssignmentQuery(query: Record<string, unknown>): AssignmentQuery {
  const text = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > 64)
      throw validation(`Invalid input for field '${name}': expected an id.`);
    return v;
  };
  const q: AssignmentQuery = {};
  const userId = text('user.id');
  const groupId = text('group.id');
  const roleId = text('role.id');
  const projectId = text('scope.project.id');
  const domainId = text('scope.domain.id');
  if (userId) q.userId = userId;
  if (groupId) q.groupId = groupId;
  if (roleId) q.roleId = roleId;
  if (projectId) q.projectId = projectId;
  if (domainId) q.domainId = domainId;
  if (query['scope.system'] === 'all') q.system = true;
  // Keystone ignores any other value of these two.
  if (query['scope.OS-INHERIT:inherited_to'] === 'projects') q.inheritedToProjects = true;
  q.effective = truthyFilter(query, 'effective');
  q.includeSubtree = truthyFilter(query, 'include_subtree');
  // Keystone's 400s for filters that contradict each other.
  if (q.userId && q.groupId) throw validation('Specify a user or group, not both');
  if (q.projectId && q.domainId) throw validation('Specify a domain or project, not both');
  if (q.system && q.projectId) throw validation('Specify system or project, not both');
  if (q.system && q.domainId) throw validation('Specify system or domain, not both');
  if (q.effective && q.groupId)
    throw validation('Combining effective and group filter will always result in an empty list.');
  if (q.includeSubtree && !q.projectId)
    throw validation('scope.project.id must be specified if include_subtree is also specified');
  return q;
}

type Names = Map<string, { name: string; domain?: { id: string; name: string } }>;

async function namesFor(services: Services, entries: RoleAssignment[]): Promise<Names> {
  const names: Names = new Map();
  const kinds = {
    user: entries.filter((e) => e.actor.type === 'user').map((e) => e.actor.id),
    group: entries.filter((e) => e.actor.type === 'group').map((e) => e.actor.id),
    project: entries.filter((e) => e.target.type === 'project').map((e) => e.target.id),
    domain: entries.filter((e) => e.target.type === 'domain').map((e) => e.target.id),
    role: entries.map((e) => e.roleId),
  };
  const found = await Promise.all(
    Object.entries(kinds).map(async ([kind, ids]) =>
      ids.length === 0
        ? []
        : (await services.assignment.names(kind as keyof typeof kinds, ids)).map((n) => ({ kind, n })),
    ),
  );
  for (const { kind, n } of found.flat())
    names.set(`${kind}:${n.id}`, {
      name: n.name,
      ...(n.domain_id ? { domain: { id: n.domain_id, name: n.domain_name as string } } : {}),
    });
  return names;
}

function renderAssignment(e: RoleAssignment, base: string, names: Names | null) {
  const named = (kind: string, id: string) => ({ id, ...(names?.get(`${kind}:${id}`) ?? {}) });
  const scope: Record<string, unknown> =
    e.target.type === 'system'
      ? { system: { all: true } }
      : { [e.target.type]: named(e.target.type, e.target.id) };
  if (e.inherited) scope['OS-INHERIT:inherited_to'] = 'projects';
  const source = e.source;
  const links: Record<string, string> = {
    assignment: `${base}${grantPath({
      actor: { type: source.actor_type, id: source.actor_id },
      target:
        source.target_type === 'system'
          ? { type: 'system', id: 'all' }
          : { type: source.target_type, id: source.target_id },
      roleId: source.role_id,
      inherited: source.inherited,
    })}`,
  };
  if (e.viaGroup) links.membership = `${base}/v3/groups/${e.viaGroup}/users/${e.actor.id}`;
  // Keystone 22's own (odd) form: /v3/prior_role/{this role}/implies/{the role implying it}.
  if (e.priorRole) links.prior_role = `${base}/v3/prior_role/${e.roleId}/implies/${e.priorRole}`;
  // Key order as Keystone's.
  return {
    links,
    scope,
    [e.actor.type]: named(e.actor.type, e.actor.id),
    role: named('role', e.roleId),
  };
}
