/**
 * /v3/policies (Keystone's policy API: a blob and its type, any other attribute kept) and
 * OS-ENDPOINT-POLICY: a policy's associations with an endpoint, a service, or a service in a
 * region; the endpoints a policy reaches; the policy in effect for an endpoint.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AssociationTarget, PolicyRow } from '../policies/service.js';
import type { Action } from '../policy/rules.js';
import { renderEndpoint } from './catalog.js';
import { param, renderedCollection } from './collection.js';
import type { PluginOptions } from './context.js';
import { crud, noTarget, object, pathParams, relation, route } from './resource.js';

const properties = { blob: { type: 'string' }, type: { type: 'string', maxLength: 255 } } as const;
const createSchema = { ...object(properties, ['blob', 'type']), additionalProperties: true } as const;
const updateSchema = { ...object(properties), minProperties: 1, additionalProperties: true } as const;
type PolicyFields = Record<string, unknown>;

/** The stored attributes, the extra ones first as Keystone's to_dict() gives them; `links` merged. */
export function renderPolicy(p: PolicyRow, base: string, collectionPath = '/v3/policies') {
  const links = p.extra.links;
  return {
    ...p.extra,
    id: p.id,
    blob: p.blob,
    type: p.type,
    links: {
      ...(typeof links === 'object' && links !== null && !Array.isArray(links) ? links : {}),
      self: `${base}${collectionPath}/${p.id}`,
    },
  };
}

const PREFIX = '/v3/policies/:policy_id/OS-ENDPOINT-POLICY';
const none: AssociationTarget = { endpoint_id: null, service_id: null, region_id: null };

export async function policyRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { policies } = services;

  crud<PolicyRow, PolicyFields>(app, services, {
    path: '/v3/policies',
    member: 'policy',
    collection: 'policies',
    body: { schema: createSchema },
    updateSchema,
    // No target: every rule is about the caller's roles and scope.
    memberTarget: noTarget,
    createTarget: noTarget,
    require: (id) => policies.policy(id),
    render: (p, base) => renderPolicy(p, base),
    filters: { exact: ['type'], inexact: ['type'] },
    rows: (_request, hints) => policies.listPolicies(hints),
    create: (fields) => policies.createPolicy(fields),
    update: (current, fields) => policies.updatePolicy(current.id, fields),
    remove: (id) => policies.deletePolicy(id),
  });

  // The three kinds of association, each with its own actions.
  const kinds: {
    path: string;
    params: string[];
    noun: string;
    target: (r: FastifyRequest) => AssociationTarget;
  }[] = [
    {
      path: `${PREFIX}/endpoints/:endpoint_id`,
      params: ['policy_id', 'endpoint_id'],
      noun: 'endpoint',
      target: (r) => ({ ...none, endpoint_id: param(r, 'endpoint_id') }),
    },
    {
      path: `${PREFIX}/services/:service_id`,
      params: ['policy_id', 'service_id'],
      noun: 'service',
      target: (r) => ({ ...none, service_id: param(r, 'service_id') }),
    },
    {
      path: `${PREFIX}/services/:service_id/regions/:region_id`,
      params: ['policy_id', 'service_id', 'region_id'],
      noun: 'region_and_service',
      target: (r) => ({ ...none, service_id: param(r, 'service_id'), region_id: param(r, 'region_id') }),
    },
  ];
  for (const kind of kinds) {
    const action = (verb: string) => `identity:${verb}_policy_association_for_${kind.noun}` as Action;
    const policyId = (r: FastifyRequest) => param(r, 'policy_id');
    relation(app, services, {
      path: kind.path,
      actions: {
        put: action('create'),
        check: action('check'),
        get: action('check'),
        delete: action('delete'),
      },
      params: pathParams(...kind.params),
      target: noTarget,
      put: async (r) => policies.associate(policyId(r), kind.target(r)),
      check: async (r) => policies.checkAssociation(policyId(r), kind.target(r)),
      remove: async (r) => policies.dissociate(policyId(r), kind.target(r)),
    });
  }

  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/endpoints`,
    action: 'identity:list_endpoints_for_policy',
    params: pathParams('policy_id'),
    handle: async (request) =>
      renderedCollection(
        'endpoints',
        await policies.endpointsForPolicy(request.params.policy_id),
        renderEndpoint,
        request,
      ),
  });

  // Keystone wraps the policy with the endpoints collection's name, so its self link reads
  // /v3/endpoints/{policy_id}; kept as Keystone 22 answers it.
  route(app, services, {
    method: 'GET',
    path: '/v3/endpoints/:endpoint_id/OS-ENDPOINT-POLICY/policy',
    action: 'identity:get_policy_for_endpoint',
    params: pathParams('endpoint_id'),
    handle: async (request) => ({
      policy: renderPolicy(
        await policies.policyForEndpoint(request.params.endpoint_id),
        request.baseUrl,
        '/v3/endpoints',
      ),
    }),
  });
}
