/**
 * /v3/credentials: ec2, totp, cert … credentials, CRUD. The blob travels as a string and is
 * stored encrypted (credential/service.ts). An owner sees and manages their own; a list shows
 * only the credentials the caller may get.
 */
import type { FastifyInstance } from 'fastify';
import type { Credential } from '../credential/service.js';
import { expectedAttribute, forbiddenAction } from '../errors.js';
import { credentialsOf } from '../token/service.js';
import { id64, param } from './collection.js';
import type { PluginOptions } from './context.js';
import { delegated } from './delegation.js';
import { type Of, pathParams, type Req, route } from './resource.js';

const props = {
  user_id: id64,
  project_id: { type: ['string', 'null'], maxLength: 64 },
  type: { type: 'string', minLength: 1, maxLength: 255 },
  blob: { type: 'string', minLength: 1 },
} as const;
const params = pathParams('credential_id');
const createBody = {
  type: 'object',
  required: ['credential'],
  properties: { credential: { type: 'object', required: ['user_id', 'type', 'blob'], properties: props } },
} as const;
// Only the blob changes: owner, project and type stay as created (Keystone's fix for
// CVE-2026-90460 narrowed PATCH to `blob`; re-typing, re-scoping or handing a credential to
// another user in place was a repeated source of holes).
const updateBody = {
  type: 'object',
  required: ['credential'],
  properties: {
    credential: {
      type: 'object',
      required: ['blob'],
      properties: { blob: props.blob },
      additionalProperties: false,
    },
  },
} as const;
const listQuery = {
  type: 'object',
  properties: { user_id: { type: 'string' }, type: { type: 'string' } },
} as const;

function render(c: Credential, base: string) {
  return {
    id: c.id,
    user_id: c.user_id,
    project_id: c.project_id,
    type: c.type,
    blob: c.blob,
    links: { self: `${base}/v3/credentials/${c.id}` },
  };
}

/**
 * A delegated token (a trust's, an application credential's, an OAuth1 access token's) never
 * touches credentials: they hold the secrets (EC2 keys, TOTP seeds) from which fresh, undelegated
 * logins are made. Keystone's fix for CVE-2026-90460 refuses them on every credential call.
 */
const delegatedRefused = () =>
  forbiddenAction(
    'You are not authorized to perform the requested action: Delegated tokens cannot access credentials directly.',
  );

export async function credentialRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  const { credential } = services;
  /** The policy target of the member routes: the stored credential's owner, before the 404. */
  const stored = async (request: Req) => {
    const row = await credential.credentialOwner(param(request, 'credential_id'));
    return { credential: row ? { user_id: row.user_id } : {} };
  };
  const primaryOnly = (request: Req) => {
    if (delegated(request.caller)) throw delegatedRefused();
  };

  route(app, services, {
    method: 'GET',
    path: '/v3/credentials',
    action: 'identity:list_credentials',
    query: listQuery,
    target: (request) => ({
      credential: { user_id: (request.query as Of<typeof listQuery>).user_id ?? request.caller.user.id },
    }),
    handle: async (request) => {
      const query = request.query as Of<typeof listQuery>;
      const who = credentialsOf(request.caller);
      // A caller who may not read another user's credentials lists their own: the filter goes
      // to SQL, so that a plain user never makes the service read and decrypt everyone's. A
      // delegated token is allowed none of them: its list is empty, as Keystone's filter leaves it.
      const anyOwner = services.policy.allowed('identity:get_credential', who, {
        credential: { user_id: '' },
      });
      const filter = anyOwner ? query : { ...query, user_id: who.user_id };
      const { credentials, truncated } = delegated(request.caller)
        ? { credentials: [], truncated: false }
        : await credential.listCredentials(filter, config.listLimit);
      return {
        credentials: credentials
          .filter((c) =>
            services.policy.allowed('identity:get_credential', who, { credential: { user_id: c.user_id } }),
          )
          .map((c) => render(c, request.baseUrl)),
        links: { self: `${request.baseUrl}${request.url}`, previous: null, next: null },
        ...(truncated ? { truncated: true } : {}),
      };
    },
  });

  route(app, services, {
    method: 'POST',
    path: '/v3/credentials',
    action: 'identity:create_credential',
    body: createBody,
    target: (request) => ({
      credential: { user_id: (request.body as Of<typeof createBody>).credential.user_id },
    }),
    status: 201,
    handle: async (request) => {
      primaryOnly(request);
      const c = (request.body as Of<typeof createBody>).credential;
      // Keystone's schema: an ec2 credential needs its project.
      if (c.type.toLowerCase() === 'ec2' && !c.project_id)
        throw expectedAttribute('project_id', 'credential');
      const created = await credential.createCredential({
        user_id: c.user_id,
        project_id: c.project_id ?? null,
        type: c.type,
        blob: c.blob,
      });
      return { credential: render(created, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'GET',
    path: '/v3/credentials/:credential_id',
    action: 'identity:get_credential',
    params,
    target: stored,
    handle: async (request) => {
      primaryOnly(request);
      return {
        credential: render(await credential.credential(request.params.credential_id), request.baseUrl),
      };
    },
  });

  route(app, services, {
    method: 'PATCH',
    path: '/v3/credentials/:credential_id',
    action: 'identity:update_credential',
    params,
    body: updateBody,
    target: stored,
    handle: async (request) => {
      primaryOnly(request);
      const updated = await credential.updateCredential(
        request.params.credential_id,
        (request.body as Of<typeof updateBody>).credential.blob,
      );
      return { credential: render(updated, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'DELETE',
    path: '/v3/credentials/:credential_id',
    action: 'identity:delete_credential',
    params,
    target: stored,
    status: 204,
    handle: async (request) => {
      primaryOnly(request);
      await credential.deleteCredential(request.params.credential_id);
    },
  });
}
