/**
 * OS-TRUST (keystone/api/trusts.py): create, list, show and delete trusts, and the roles a trust
 * delegates. The trust's rules live in trust/service.ts; trust-scoped tokens in token/.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RoleRow } from '../assignment/service.js';
import { notFound } from '../errors.js';
import type { TokenContext } from '../token/service.js';
import { refused, type TrustRequest, type TrustRow } from '../trust/service.js';
import { collection, id64, nullableId, roleRefs } from './collection.js';
import type { PluginOptions } from './context.js';
import { delegatedMethod } from './delegation.js';
import { keystoneTime } from './render.js';
import { envelope, pathParams, type Req, route } from './resource.js';
import { renderRole } from './roles.js';

const PREFIX = '/v3/OS-TRUST/trusts';

/** keystone/trust/schema.py trust_create (extra properties are kept, as Keystone does). */
const trustSchema = {
  type: 'object',
  properties: {
    trustor_user_id: id64,
    trustee_user_id: id64,
    impersonation: { type: 'boolean' },
    project_id: nullableId,
    remaining_uses: { type: ['integer', 'null'], minimum: 1 },
    expires_at: { type: ['null', 'string'] },
    allow_redelegation: { type: ['boolean', 'null'] },
    redelegation_count: { type: ['integer', 'null'], minimum: 0 },
    roles: roleRefs,
  },
  required: ['trustor_user_id', 'trustee_user_id', 'impersonation'],
} as const;

/** _check_delegated_token: application credential (and OAuth1, EC2) tokens never manage trusts. */
function checkDelegated(caller: TokenContext): void {
  if (delegatedMethod(caller)) throw refused('Delegated tokens cannot manage trusts.');
}

/** Keystone's TrustModel.to_dict(): the extra attributes, then the columns. */
function renderTrust(t: TrustRow) {
  return {
    ...t.extra,
    id: t.id,
    trustor_user_id: t.trustor_user_id,
    trustee_user_id: t.trustee_user_id,
    project_id: t.project_id,
    impersonation: t.impersonation,
    expires_at: t.expires_text ? `${t.expires_text}Z` : null,
    remaining_uses: t.remaining_uses,
    deleted_at: t.deleted_at ? keystoneTime(t.deleted_at.getTime()) : null,
    redelegated_trust_id: t.redelegated_trust_id,
    redelegation_count: t.redelegation_count,
  };
}

/** A trust with its roles, as show and create answer (roles_links as Keystone builds it). */
function renderFull(t: TrustRow, roles: RoleRow[], base: string) {
  return {
    ...renderTrust(t),
    roles: roles.map((r) => renderRole(r, base)),
    // Keystone's base_url(path='/<id>/roles'): the link leaves out /OS-TRUST/trusts.
    roles_links: { self: `${base}/v3/${t.id}/roles`, next: null, previous: null },
    links: { self: `${base}${PREFIX}/${t.id}` },
  };
}

export async function trustRoutes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { trusts } = services;
  const trustId = (request: FastifyRequest) => (request.params as { trust_id: string }).trust_id;
  // The trust is found before the policy runs: a missing one is 404, not 403 (lp#1840288).
  const loaded = new WeakMap<FastifyRequest, TrustRow>();
  const target = async (request: Req) => {
    const trust = await trusts.getTrust(trustId(request));
    loaded.set(request, trust);
    return { trust };
  };
  const trustOf = (request: FastifyRequest) => loaded.get(request) as TrustRow;

  route(app, services, {
    method: 'POST',
    path: PREFIX,
    action: 'identity:create_trust',
    body: envelope('trust', trustSchema),
    target: (request) => ({ trust: (request.body as { trust: TrustRequest }).trust }),
    status: 201,
    handle: async (request) => {
      const caller = request.caller;
      checkDelegated(caller);
      const fields = (request.body as { trust: TrustRequest }).trust;
      const trust = await trusts.create(fields, caller.user.id, caller.trust?.trust.id ?? null);
      return { trust: renderFull(trust, await trusts.roles(trust), request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'GET',
    path: PREFIX,
    // list_trusts_for_trustor / _for_trustee when filtered (the trustor first), list_trusts otherwise.
    action: (request) => {
      const q = request.query as Record<string, string | undefined>;
      if (q.trustor_user_id) return 'identity:list_trusts_for_trustor';
      if (q.trustee_user_id) return 'identity:list_trusts_for_trustee';
      return 'identity:list_trusts';
    },
    target: (request) => {
      const q = request.query as Record<string, string | undefined>;
      if (q.trustor_user_id) return { trust: { trustor_user_id: q.trustor_user_id } };
      if (q.trustee_user_id) return { trust: { trustee_user_id: q.trustee_user_id } };
      return {};
    },
    handle: async (request) => {
      checkDelegated(request.caller);
      const q = request.query as Record<string, string | undefined>;
      // Any other query parameter alone lists nothing (Keystone's _list_trusts).
      const rows = q.trustor_user_id
        ? await trusts.list({ trustorUserId: q.trustor_user_id })
        : q.trustee_user_id
          ? await trusts.list({ trusteeUserId: q.trustee_user_id })
          : Object.keys(q).length === 0
            ? await trusts.list({})
            : [];
      const base = request.baseUrl;
      return collection(
        'trusts',
        rows.map((t) => ({ ...renderTrust(t), links: { self: `${base}${PREFIX}/${t.id}` } })),
        request,
        base,
      );
    },
  });

  const params = pathParams('trust_id');
  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/:trust_id`,
    action: 'identity:get_trust',
    params,
    target,
    handle: async (request) => {
      checkDelegated(request.caller);
      const trust = trustOf(request);
      return { trust: renderFull(trust, await trusts.roles(trust), request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'DELETE',
    path: `${PREFIX}/:trust_id`,
    action: 'identity:delete_trust',
    params,
    target,
    status: 204,
    handle: async (request) => {
      checkDelegated(request.caller);
      await trusts.delete(request.params.trust_id);
    },
  });

  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/:trust_id/roles`,
    action: 'identity:list_roles_for_trust',
    params,
    target,
    handle: async (request) => {
      checkDelegated(request.caller);
      const trust = trustOf(request);
      const base = request.baseUrl;
      return {
        roles: (await trusts.roles(trust)).map((r) => renderRole(r, base)),
        links: { self: `${base}/v3/${trust.id}/roles`, next: null, previous: null },
      };
    },
  });

  route(app, services, {
    method: 'GET',
    path: `${PREFIX}/:trust_id/roles/:role_id`,
    action: 'identity:get_role_for_trust',
    params: pathParams('trust_id', 'role_id'),
    target,
    handle: async (request) => {
      checkDelegated(request.caller);
      const trust = trustOf(request);
      const roleId = request.params.role_id;
      const role = trust.role_ids.includes(roleId) ? await services.assignment.role(roleId) : null;
      if (!role) throw notFound('role', roleId);
      return { role: renderRole(role, request.baseUrl) };
    },
  });
}
