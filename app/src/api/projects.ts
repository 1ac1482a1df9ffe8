/**
 * /v3/projects: create (with a parent, or is_domain), list (domain_id, enabled, name, parent_id,
 * is_domain, tags, tags-any, not-tags, not-tags-any), show (parents_as_list, subtree_as_list,
 * parents_as_ids, subtree_as_ids), update, delete; /v3/projects/{id}/tags.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, validation } from '../errors.js';
import { boolFromString, buildHints } from '../hints.js';
import type { ProjectRow } from '../resource/service.js';
import {
  callerDomain,
  collection,
  defaultDomain,
  description,
  domainListTarget,
  extraOf,
  id64,
  ListCache,
  name,
  nullableId,
  param,
  renderedCollection,
  resourceOptions,
  tagList,
} from './collection.js';
import { type PluginOptions, present } from './context.js';
import { renderDomainAsProject, renderProject } from './render.js';
import { envelope, type Of, object, pathParams, rawJson, relation, route } from './resource.js';

const KNOWN = ['name', 'domain_id', 'parent_id', 'description', 'enabled', 'is_domain', 'tags', 'options'];
const projectSchema = object(
  {
    name: name(64),
    domain_id: nullableId,
    parent_id: nullableId,
    description,
    enabled: { type: 'boolean' },
    is_domain: { type: 'boolean' },
    tags: tagList,
    options: resourceOptions,
  },
  ['name'],
);
type ProjectMember = Of<typeof projectSchema>;
type Fields = Partial<ProjectMember>;
const projectParams = pathParams('project_id');
const tagParams = {
  type: 'object',
  properties: {
    project_id: id64,
    tag: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/,]+$' },
  },
} as const;

const tagsOf = (value: unknown): string[] | undefined =>
  typeof value === 'string' ? value.split(',').filter(Boolean) : undefined;

export async function projectRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { resource } = services;
  // A domain is also a project acting as a domain: /v3/projects/{id} reaches it too, as Keystone's
  // single table does (tempest creates one with is_domain, then disables and deletes it here).
  const asDomain = async (request: FastifyRequest) => {
    const id = param(request, 'project_id');
    return (await resource.project({ id })) ? null : resource.getDomain(id);
  };
  const projectTarget = async (request: FastifyRequest) => {
    const id = param(request, 'project_id');
    const row = await resource.project({ id });
    if (row) return { project: row };
    const domain = await resource.getDomain(id);
    return { project: domain ? { id: domain.id, domain_id: null, is_domain: true } : {} };
  };
  const project = (request: FastifyRequest) => resource.requireProject(param(request, 'project_id'));
  const fieldsOf = (body: Fields) => ({
    ...optional('name', body.name),
    ...optional('description', body.description === null ? '' : body.description),
    ...optional('enabled', body.enabled),
    ...optional('tags', body.tags),
    ...optional('options', body.options),
    extra: extraOf(body, KNOWN),
  });

  const lists = new ListCache(services.invalidation);
  const list = async (request: FastifyRequest, base: string, scoped: string | null) => {
    const query = request.query as Record<string, unknown>;
    const hints = buildHints(query, {
      exact: ['name', 'domain_id', 'parent_id'],
      bool: ['enabled'],
      inexact: ['name'],
    });
    // Keystone lists projects acting as domains only when asked (is_domain defaults to false).
    if (typeof query.is_domain === 'string' && boolFromString(query.is_domain)) {
      const domains = await resource.listDomains(
        hints.filter((h) => h.field !== 'domain_id' && h.field !== 'parent_id'),
      );
      return collection(
        'projects',
        domains.filter((d) => !scoped || d.id === scoped).map((d) => renderDomainAsProject(d, base)),
        request,
        base,
      );
    }
    const rows = await resource.listProjects({
      hints: scoped ? [...hints, { kind: 'exact', field: 'domain_id', value: scoped }] : hints,
      ...optional('tags', tagsOf(query.tags)),
      ...optional('tagsAny', tagsOf(query['tags-any'])),
      ...optional('notTags', tagsOf(query['not-tags'])),
      ...optional('notTagsAny', tagsOf(query['not-tags-any'])),
    });
    return renderedCollection('projects', rows, renderProject, request);
  };

  route(app, services, {
    method: 'GET',
    path: '/v3/projects',
    action: 'identity:list_projects',
    target: domainListTarget,
    handle: async (request) => {
      const base = request.baseUrl;
      const scoped = callerDomain(request);
      return rawJson(
        await lists.body(`${base} ${scoped ?? ''} ${request.url}`, () => list(request, base, scoped)),
      );
    },
  });

  route(app, services, {
    method: 'POST',
    path: '/v3/projects',
    action: 'identity:create_project',
    body: envelope('project', projectSchema),
    target: (request) => {
      const body = (request.body as { project: ProjectMember }).project;
      return { project: { ...body, domain_id: body.domain_id ?? defaultDomain(request.caller) } };
    },
    status: 201,
    handle: async (request) => {
      const body = (request.body as { project: ProjectMember }).project;
      if (body.is_domain) {
        if (body.domain_id || body.parent_id)
          throw validation('A project acting as a domain has neither a domain_id nor a parent_id.');
        const domain = await resource.createDomain({
          name: body.name,
          description: body.description ?? '',
          enabled: body.enabled ?? true,
          tags: body.tags ?? [],
          options: body.options ?? {},
          extra: extraOf(body, KNOWN),
        });
        return { project: renderDomainAsProject(domain, request.baseUrl) };
      }
      const created = await resource.createProject(
        {
          name: body.name,
          domainId: body.domain_id ?? null,
          parentId: body.parent_id ?? null,
          description: body.description ?? '',
          enabled: body.enabled ?? true,
          tags: body.tags ?? [],
          options: body.options ?? {},
          extra: extraOf(body, KNOWN),
        },
        defaultDomain(request.caller),
      );
      return { project: renderProject(created, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/projects/:project_id',
    action: 'identity:get_project',
    params: projectParams,
    target: projectTarget,
    handle: async (request) => {
      const base = request.baseUrl;
      const domain = await asDomain(request);
      if (domain) return { project: renderDomainAsProject(domain, base) };
      const row = await project(request);
      const body: Record<string, unknown> = renderProject(row, base);
      // The lists show only the projects the caller has a role on, as Keystone's do; the ids
      // show the whole chain (up to the domain) or subtree.
      const mine = async () =>
        new Set((await resource.projectsForUser(request.caller.user.id, [])).map((x) => x.id));
      if (present(request, 'parents_as_list')) {
        const visible = await mine();
        body.parents = (await resource.parents(row.id))
          .filter((x) => visible.has(x.id))
          .map((x) => ({ project: renderProject(x, base) }));
      }
      if (present(request, 'subtree_as_list')) {
        const visible = await mine();
        body.subtree = (await resource.subtree(row.id))
          .filter((x) => visible.has(x.id))
          .map((x) => ({ project: renderProject(x, base) }));
      }
      if (present(request, 'parents_as_ids'))
        body.parents = parentIds(await resource.parents(row.id), row.domain_id);
      if (present(request, 'subtree_as_ids'))
        body.subtree = subtreeIds(row.id, await resource.subtree(row.id));
      return { project: body };
    },
  });

  route(app, services, {
    method: 'PATCH',
    path: '/v3/projects/:project_id',
    action: 'identity:update_project',
    params: projectParams,
    body: envelope('project', { ...projectSchema, required: [] }),
    target: projectTarget,
    handle: async (request) => {
      const body = (request.body as { project: Fields }).project;
      const domain = await asDomain(request);
      if (domain) {
        if (body.is_domain === false) throw validation('Update of `is_domain` is not allowed.');
        if (body.domain_id || body.parent_id)
          throw validation('Update of `domain_id` or `parent_id` is not allowed.');
        const updated = await resource.updateDomain(domain.id, fieldsOf(body));
        return { project: renderDomainAsProject(updated, request.baseUrl) };
      }
      const current = await project(request);
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw validation('Update of `domain_id` is not allowed.');
      if (body.parent_id !== undefined && body.parent_id !== (current.parent_id ?? current.domain_id))
        throw validation('Update of `parent_id` is not allowed.');
      if (body.is_domain !== undefined && body.is_domain !== current.is_domain)
        throw validation('Update of `is_domain` is not allowed.');
      const updated = await resource.updateProject(current.id, fieldsOf(body));
      return { project: renderProject(updated, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'DELETE',
    path: '/v3/projects/:project_id',
    action: 'identity:delete_project',
    params: projectParams,
    target: projectTarget,
    status: 204,
    handle: async (request) => {
      const domain = await asDomain(request);
      if (domain) await resource.deleteDomain(domain.id);
      else await resource.deleteProject(request.params.project_id);
    },
  });

  // --- tags ----------------------------------------------------------------------------------
  const tags = (tagList: string[]) => (request: FastifyRequest) => ({
    links: { self: `${request.baseUrl}/v3` },
    tags: tagList,
  });
  route(app, services, {
    method: 'GET',
    path: '/v3/projects/:project_id/tags',
    action: 'identity:list_project_tags',
    params: projectParams,
    target: projectTarget,
    handle: async (request) => tags((await project(request)).tags)(request),
  });
  route(app, services, {
    method: 'PUT',
    path: '/v3/projects/:project_id/tags',
    action: 'identity:update_project_tags',
    params: projectParams,
    body: { type: 'object', required: ['tags'], properties: { tags: tagList } },
    target: projectTarget,
    handle: async (request) =>
      tags(await resource.setTags(request.params.project_id, (request.body as { tags: string[] }).tags))(
        request,
      ),
  });
  route(app, services, {
    method: 'DELETE',
    path: '/v3/projects/:project_id/tags',
    action: 'identity:delete_project_tags',
    params: projectParams,
    target: projectTarget,
    status: 204,
    handle: async (request) => {
      await resource.setTags(request.params.project_id, []);
    },
  });

  const tagOf = (request: FastifyRequest) => [param(request, 'project_id'), param(request, 'tag')] as const;
  relation(app, services, {
    path: '/v3/projects/:project_id/tags/:tag',
    actions: {
      put: 'identity:create_project_tag',
      check: 'identity:get_project_tag',
      get: 'identity:get_project_tag',
      delete: 'identity:delete_project_tag',
    },
    params: tagParams,
    target: projectTarget,
    // Keystone answers a new tag with 201, no body, and its location.
    putStatus: 201,
    put: async (request, reply) => {
      const [projectId, tag] = tagOf(request);
      await resource.addTag(projectId, tag);
      reply.header('location', `${request.baseUrl}/v3/projects/${projectId}/tags/${tag}`);
    },
    check: async (request) => {
      const [, tag] = tagOf(request);
      if (!(await project(request)).tags.includes(tag)) throw notFound('project tag', tag);
    },
    remove: (request) => resource.removeTag(...tagOf(request)),
  });
}

/** `{key: value}` when value is defined, else nothing (for exactOptionalPropertyTypes-safe spreads). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/** parents_as_ids: `{parent: {grandparent: {domain: null}}}`, nearest parent outermost. */
function parentIds(parents: ProjectRow[], domainId: string): Record<string, unknown> {
  let nested: Record<string, unknown> = { [domainId]: null };
  for (const p of [...parents].reverse()) nested = { [p.id]: nested };
  return nested;
}

/** subtree_as_ids: `{child: {grandchild: null}, other: null}`. */
function subtreeIds(root: string, subtree: ProjectRow[]): Record<string, unknown> | null {
  const children = (id: string): Record<string, unknown> | null => {
    const kids = subtree.filter((p) => p.parent_id === id);
    if (kids.length === 0) return null;
    return Object.fromEntries(kids.map((k) => [k.id, children(k.id)]));
  };
  return children(root);
}
