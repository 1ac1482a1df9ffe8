/**
 * OS-EP-FILTER: endpoint groups (CRUD; filters over service_id, region_id and interface), the
 * endpoints a group selects, projects associated with endpoints and with endpoint groups, and
 * the listings both ways. A project-scoped catalog follows the associations (catalog/service.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EndpointGroupRow } from '../catalog/service.js';
import { renderEndpoint } from './catalog.js';
import { collection, description, name, param, renderedCollection } from './collection.js';
import type { PluginOptions } from './context.js';
import { renderProject } from './render.js';
import { crud, noTarget, type Of, object, pathParams, relation, route } from './resource.js';

const PREFIX = '/v3/OS-EP-FILTER';
const groupSchema = object({ name: name(255), description, filters: { type: 'object' } }, [
  'name',
  'filters',
]);
type GroupMember = Of<typeof groupSchema>;

export function renderEndpointGroup(g: EndpointGroupRow, base: string) {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    filters: g.filters,
    links: { self: `${base}${PREFIX}/endpoint_groups/${g.id}` },
  };
}

export async function endpointFilterRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { catalog, resource } = services;
  const projects = async (request: FastifyRequest, ids: string[]) => {
    const rows = await Promise.all(ids.map((id) => resource.project({ id })));
    const rendered = rows.flatMap((p) => (p ? [renderProject(p, request.baseUrl)] : []));
    return collection('projects', rendered, request, request.baseUrl);
  };

  crud<EndpointGroupRow, GroupMember>(app, services, {
    path: `${PREFIX}/endpoint_groups`,
    member: 'endpoint_group',
    collection: 'endpoint_groups',
    body: { schema: groupSchema },
    updateSchema: { ...groupSchema, required: [], minProperties: 1 },
    query: { type: 'object', properties: { name: { type: 'string' } } },
    require: (id) => catalog.endpointGroup(id),
    memberTarget: noTarget,
    createTarget: noTarget,
    render: renderEndpointGroup,
    rows: (request) => catalog.listEndpointGroups((request.query as { name?: string }).name),
    create: (g) =>
      catalog.createEndpointGroup({ name: g.name, description: g.description ?? null, filters: g.filters }),
    update: (current, g) =>
      catalog.updateEndpointGroup(current.id, {
        ...(g.name === undefined ? {} : { name: g.name }),
        ...(g.description === undefined ? {} : { description: g.description }),
        ...(g.filters === undefined ? {} : { filters: g.filters }),
      }),
    remove: (id) => catalog.deleteEndpointGroup(id),
  });

  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/endpoint_groups/:endpoint_group_id/endpoints`,
    action: 'identity:list_endpoints_associated_with_endpoint_group',
    params: pathParams('endpoint_group_id'),
    handle: async (request) =>
      renderedCollection(
        'endpoints',
        await catalog.endpointsInGroup(request.params.endpoint_group_id),
        renderEndpoint,
        request,
      ),
  });
  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/endpoint_groups/:endpoint_group_id/projects`,
    action: 'identity:list_projects_associated_with_endpoint_group',
    params: pathParams('endpoint_group_id'),
    handle: async (request) =>
      projects(request, await catalog.projectIdsOfEndpointGroup(request.params.endpoint_group_id)),
  });

  // A project's association with an endpoint group; GET shows it as Keystone's
  // project_endpoint_group object.
  const groupInProject = async (request: FastifyRequest) => {
    const project = await resource.requireProject(param(request, 'project_id'));
    return [project.id, param(request, 'endpoint_group_id')] as const;
  };
  const groupPath = `${PREFIX}/endpoint_groups/:endpoint_group_id/projects/:project_id`;
  const groupParams = pathParams('endpoint_group_id', 'project_id');
  relation(app, services, {
    path: groupPath,
    actions: {
      put: 'identity:add_endpoint_group_to_project',
      check: 'identity:get_endpoint_group_in_project',
      delete: 'identity:remove_endpoint_group_from_project',
    },
    params: groupParams,
    target: noTarget,
    put: async (request) => {
      await catalog.addProjectEndpointGroup(...(await groupInProject(request)));
    },
    check: async (request) => catalog.checkProjectEndpointGroup(...(await groupInProject(request))),
    remove: async (request) => catalog.removeProjectEndpointGroup(...(await groupInProject(request))),
  });
  route(app, services, {
    method: 'GET',
    path: groupPath,
    action: 'identity:get_endpoint_group_in_project',
    params: groupParams,
    handle: async (request) => {
      const [projectId, groupId] = await groupInProject(request);
      await catalog.checkProjectEndpointGroup(projectId, groupId);
      return {
        project_endpoint_group: {
          endpoint_group_id: groupId,
          project_id: projectId,
          links: { self: `${request.baseUrl}${PREFIX}/endpoint_groups/${groupId}/projects/${projectId}` },
        },
      };
    },
  });

  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/projects/:project_id/endpoint_groups`,
    action: 'identity:list_endpoint_groups_for_project',
    params: pathParams('project_id'),
    handle: async (request) => {
      const project = await resource.requireProject(request.params.project_id);
      return renderedCollection(
        'endpoint_groups',
        await catalog.endpointGroupsOfProject(project.id),
        renderEndpointGroup,
        request,
      );
    },
  });

  // A project's direct association with an endpoint.
  const endpointInProject = async (request: FastifyRequest) => {
    const project = await resource.requireProject(param(request, 'project_id'));
    return [project.id, param(request, 'endpoint_id')] as const;
  };
  relation(app, services, {
    path: `${PREFIX}/projects/:project_id/endpoints/:endpoint_id`,
    actions: {
      put: 'identity:add_endpoint_to_project',
      check: 'identity:check_endpoint_in_project',
      get: 'identity:check_endpoint_in_project',
      delete: 'identity:remove_endpoint_from_project',
    },
    params: pathParams('project_id', 'endpoint_id'),
    target: noTarget,
    put: async (request) => {
      await catalog.addProjectEndpoint(...(await endpointInProject(request)));
    },
    check: async (request) => catalog.checkProjectEndpoint(...(await endpointInProject(request))),
    remove: async (request) =>
      catalog.removeProjectEndpoint(param(request, 'project_id'), param(request, 'endpoint_id')),
  });
  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/projects/:project_id/endpoints`,
    action: 'identity:list_endpoints_for_project',
    params: pathParams('project_id'),
    handle: async (request) => {
      const project = await resource.requireProject(request.params.project_id);
      return renderedCollection(
        'endpoints',
        await catalog.endpointsOfProject(project.id),
        renderEndpoint,
        request,
      );
    },
  });
  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/endpoints/:endpoint_id/projects`,
    action: 'identity:list_projects_for_endpoint',
    params: pathParams('endpoint_id'),
    handle: async (request) =>
      projects(request, await catalog.projectIdsOfEndpoint(request.params.endpoint_id)),
  });
}
