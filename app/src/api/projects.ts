/**
 * /v3/projects: create (with a parent, or is_domain), list (domain_id, enabled, name, parent_id,
 * is_domain, tags, tags-any, not-tags, not-tags-any), show (parents_as_list, subtree_as_list,
 * parents_as_ids, subtree_as_ids), update, delete; /v3/projects/{id}/tags.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound, validation } from '../errors.js';
import { boolFromString, buildHints } from '../hints.js';
import type { ProjectRow } from '../resource/service.js';
import type { TokenContext } from '../token/service.js';
import {
  callerDomain,
  collection,
  defaultDomain,
  description,
  extraOf,
  id64,
  ListCache,
  name,
  nullableId,
  param,
  resourceOptions,
  tagList,
} from './collection.js';
import { enforce, type PluginOptions, present } from './context.js';
import { baseUrl, renderDomainAsProject, renderProject } from './render.js';

const KNOWN = ['name', 'domain_id', 'parent_id', 'description', 'enabled', 'is_domain', 'tags', 'options'];
const projectBody = (required: string[]) =>
  ({
    type: 'object',
    required: ['project'],
    properties: {
      project: {
        type: 'object',
        required,
        properties: {
          name: name(64),
          domain_id: nullableId,
          parent_id: nullableId,
          description,
          enabled: { type: 'boolean' },
          is_domain: { type: 'boolean' },
          tags: tagList,
          options: resourceOptions,
        },
      },
    },
  }) as const;
const params = { type: 'object', properties: { project_id: id64 } } as const;
const tagParams = {
  type: 'object',
  properties: {
    project_id: id64,
    tag: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^/,]+$' },
  },
} as const;

interface ProjectBody {
  project: {
    name?: string;
    domain_id?: string | null;
    parent_id?: string | null;
    description?: string | null;
    enabled?: boolean;
    is_domain?: boolean;
    tags?: string[];
    options?: Record<string, unknown>;
    [key: string]: unknown;
  };
}

const tagsOf = (value: unknown): string[] | undefined =>
  typeof value === 'string' ? value.split(',').filter(Boolean) : undefined;

export async function projectRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  const { resource } = services;
  const projectTarget = async (request: FastifyRequest) => ({
    project: (await resource.project({ id: param(request, 'project_id') })) ?? {},
  });
  const project = (request: FastifyRequest) => resource.requireProject(param(request, 'project_id'));

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
    return collection(
      'projects',
      rows.map((p) => renderProject(p, base)),
      request,
      base,
    );
  };

  app.get(
    '/v3/projects',
    {
      preHandler: enforce(services, 'identity:list_projects', (request) => {
        const query = request.query as Record<string, unknown>;
        return { domain_id: callerDomain(request) ?? query.domain_id };
      }),
    },
    async (request, reply) => {
      const base = baseUrl(request, config.publicEndpoint);
      const scoped = callerDomain(request);
      const body = await lists.body(`${base} ${scoped ?? ''} ${request.url}`, () =>
        list(request, base, scoped),
      );
      reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.post<{ Body: ProjectBody }>(
    '/v3/projects',
    {
      schema: { body: projectBody(['name']) },
      preHandler: enforce(services, 'identity:create_project', (request, caller) => {
        const body = (request.body as ProjectBody).project;
        return { project: { ...body, domain_id: body.domain_id ?? defaultDomain(caller) } };
      }),
    },
    async (request, reply) => {
      const body = request.body.project;
      const base = baseUrl(request, config.publicEndpoint);
      reply.code(201);
      if (body.is_domain) {
        if (body.domain_id || body.parent_id)
          throw validation('A project acting as a domain has neither a domain_id nor a parent_id.');
        const domain = await resource.createDomain({
          name: body.name as string,
          description: body.description ?? '',
          enabled: body.enabled ?? true,
          tags: body.tags ?? [],
          options: body.options ?? {},
          extra: extraOf(body, KNOWN),
        });
        return { project: renderDomainAsProject(domain, base) };
      }
      const created = await resource.createProject(
        {
          name: body.name as string,
          domainId: body.domain_id ?? null,
          parentId: body.parent_id ?? null,
          description: body.description ?? '',
          enabled: body.enabled ?? true,
          tags: body.tags ?? [],
          options: body.options ?? {},
          extra: extraOf(body, KNOWN),
        },
        defaultDomain(request.caller as TokenContext),
      );
      return { project: renderProject(created, base) };
    },
  );

  app.get<{ Params: { project_id: string } }>(
    '/v3/projects/:project_id',
    { schema: { params }, preHandler: enforce(services, 'identity:get_project', projectTarget) },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const row = await project(request);
      const body: Record<string, unknown> = renderProject(row, base);
      // The lists show only the projects the caller has a role on, as Keystone's do; the ids
      // show the whole chain (up to the domain) or subtree.
      const mine = async () =>
        new Set(
          (await resource.projectsForUser((request.caller as TokenContext).user.id, [])).map((x) => x.id),
        );
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
  );

  app.patch<{ Params: { project_id: string }; Body: ProjectBody }>(
    '/v3/projects/:project_id',
    {
      schema: { params, body: projectBody([]) },
      preHandler: enforce(services, 'identity:update_project', projectTarget),
    },
    async (request) => {
      const body = request.body.project;
      const current = await project(request);
      if (body.domain_id !== undefined && body.domain_id !== current.domain_id)
        throw validation('Update of `domain_id` is not allowed.');
      if (body.parent_id !== undefined && body.parent_id !== (current.parent_id ?? current.domain_id))
        throw validation('Update of `parent_id` is not allowed.');
      if (body.is_domain !== undefined && body.is_domain !== current.is_domain)
        throw validation('Update of `is_domain` is not allowed.');
      const updated = await resource.updateProject(current.id, {
        ...optional('name', body.name),
        ...optional('description', body.description === null ? '' : body.description),
        ...optional('enabled', body.enabled),
        ...optional('tags', body.tags),
        ...optional('options', body.options),
        extra: extraOf(body, KNOWN),
      });
      return { project: renderProject(updated, baseUrl(request, config.publicEndpoint)) };
    },
  );

  app.delete<{ Params: { project_id: string } }>(
    '/v3/projects/:project_id',
    { schema: { params }, preHandler: enforce(services, 'identity:delete_project', projectTarget) },
    async (request, reply) => {
      await resource.deleteProject(param(request, 'project_id'));
      reply.code(204).send();
    },
  );

  // --- tags ----------------------------------------------------------------------------------
  app.get<{ Params: { project_id: string } }>(
    '/v3/projects/:project_id/tags',
    { schema: { params }, preHandler: enforce(services, 'identity:list_project_tags', projectTarget) },
    async (request) => ({
      links: { self: `${baseUrl(request, config.publicEndpoint)}/v3` },
      tags: (await project(request)).tags,
    }),
  );

  app.put<{ Params: { project_id: string }; Body: { tags: string[] } }>(
    '/v3/projects/:project_id/tags',
    {
      schema: {
        params,
        body: { type: 'object', required: ['tags'], properties: { tags: tagList } },
      },
      preHandler: enforce(services, 'identity:update_project_tags', projectTarget),
    },
    async (request) => ({
      links: { self: `${baseUrl(request, config.publicEndpoint)}/v3` },
      tags: await resource.setTags(param(request, 'project_id'), request.body.tags),
    }),
  );

  app.delete<{ Params: { project_id: string } }>(
    '/v3/projects/:project_id/tags',
    { schema: { params }, preHandler: enforce(services, 'identity:delete_project_tags', projectTarget) },
    async (request, reply) => {
      await resource.setTags(param(request, 'project_id'), []);
      reply.code(204).send();
    },
  );

  app.get<{ Params: { project_id: string; tag: string } }>(
    '/v3/projects/:project_id/tags/:tag',
    {
      schema: { params: tagParams },
      preHandler: enforce(services, 'identity:get_project_tag', projectTarget),
    },
    async (request, reply) => {
      if (!(await project(request)).tags.includes(request.params.tag))
        throw notFound('project tag', request.params.tag);
      reply.code(204).send();
    },
  );

  app.put<{ Params: { project_id: string; tag: string } }>(
    '/v3/projects/:project_id/tags/:tag',
    {
      schema: { params: tagParams },
      preHandler: enforce(services, 'identity:create_project_tag', projectTarget),
    },
    async (request, reply) => {
      await resource.addTag(request.params.project_id, request.params.tag);
      const base = baseUrl(request, config.publicEndpoint);
      // Keystone answers 201 with no body.
      reply
        .code(201)
        .header('location', `${base}/v3/projects/${request.params.project_id}/tags/${request.params.tag}`)
        .send();
    },
  );

  app.delete<{ Params: { project_id: string; tag: string } }>(
    '/v3/projects/:project_id/tags/:tag',
    {
      schema: { params: tagParams },
      preHandler: enforce(services, 'identity:delete_project_tag', projectTarget),
    },
    async (request, reply) => {
      await resource.removeTag(request.params.project_id, request.params.tag);
      reply.code(204).send();
    },
  );
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
