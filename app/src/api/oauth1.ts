/**
 * OS-OAUTH1 (Keystone's api/os_oauth1.py and the access token routes of api/users.py):
 * /v3/OS-OAUTH1/consumers (CRUD; the secret shown once, at create), request_token and
 * access_token (unenforced: the consumer's signature is the proof; form-encoded answers),
 * authorize/{request_token_id}, and /v3/users/{user_id}/OS-OAUTH1/access_tokens (list, show,
 * delete, and the delegated roles).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { IdentityError, notFound, unauthorized } from '../errors.js';
import type { AccessTokenRow, ConsumerFields, ConsumerRow, SignedRequest } from '../oauth1/service.js';
import type { TokenContext } from '../token/service.js';
import { collection, description, id64, renderedCollection, roleRefs } from './collection.js';
import type { PluginOptions } from './context.js';
import { delegated } from './delegation.js';
import { crud, noTarget, pathParams, route } from './resource.js';

const consumerSchema = {
  type: 'object',
  properties: { description },
  additionalProperties: true,
} as const;
const consumerUpdateSchema = {
  ...consumerSchema,
  not: { required: ['secret'] },
  minProperties: 1,
} as const;
/** Keystone's request_token_authorize: roles by id or by name, one key each. */
const authorizeSchema = {
  type: 'object',
  properties: {
    roles: roleRefs,
  },
} as const;

/** Keystone's exception.Forbidden: its detail stays in the log, the answer is the generic 403. */
const forbidden = (detail: string) =>
  new IdentityError('IDN_ERR_FORBIDDEN', 'You are not authorized to perform the requested action.', {
    detail,
  });

type ConsumerOut = ConsumerRow & { reveal?: boolean };

function renderConsumer(c: ConsumerOut, base: string) {
  return {
    ...c.extra,
    id: c.id,
    description: c.description,
    ...(c.reveal ? { secret: c.secret } : {}),
    links: { self: `${base}/v3/OS-OAUTH1/consumers/${c.id}` },
  };
}

function renderAccessToken(t: AccessTokenRow, base: string) {
  const self = `${base}/v3/users/${t.authorizing_user_id}/OS-OAUTH1/access_tokens/${t.id}`;
  return {
    id: t.id,
    authorizing_user_id: t.authorizing_user_id,
    project_id: t.project_id,
    consumer_id: t.consumer_id,
    expires_at: t.expires_at,
    links: { self, roles: `${self}/roles` },
  };
}

/** A form-encoded 201, as Keystone answers the two token requests. */
function formReply(reply: FastifyReply, fields: Array<[string, string | null]>): FastifyReply {
  // Keystone writes the values as they are (the expiry's colons unescaped); tempest splits on & and =.
  const body = fields
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return reply.code(201).type('application/x-www-form-urlencoded').send(body);
}

export async function oauth1Routes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { oauth1 } = services;

  crud<ConsumerOut, ConsumerFields>(app, services, {
    path: '/v3/OS-OAUTH1/consumers',
    member: 'consumer',
    collection: 'consumers',
    body: { schema: consumerSchema },
    updateSchema: consumerUpdateSchema,
    // The rules look at nothing of the consumer.
    memberTarget: noTarget,
    require: (id) => oauth1.consumer(id),
    render: renderConsumer,
    rows: () => oauth1.listConsumers(),
    create: async (fields) => ({ ...(await oauth1.createConsumer(fields ?? {})), reveal: true }),
    update: (current, fields) => oauth1.updateConsumer(current.id, fields),
    remove: (id) => oauth1.deleteConsumer(id),
  });

  /**
   * The request as the consumer signed it: Keystone's _update_url_scheme, the request's own URL
   * (Host, path, query) with the scheme of the service's base URL.
   */
  const signed = (request: FastifyRequest): SignedRequest => {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(request.baseUrl)?.[1] ?? request.protocol;
    return {
      method: request.method,
      uri: `${scheme}://${request.headers.host ?? 'localhost'}${request.url}`,
      authorization: request.headers.authorization,
    };
  };

  app.post('/v3/OS-OAUTH1/request_token', async (request, reply) => {
    const project = request.headers['requested-project-id'];
    const token = await oauth1.createRequestToken(
      signed(request),
      typeof project === 'string' ? project : undefined,
    );
    return formReply(reply, [
      ['oauth_token', token.id],
      ['oauth_token_secret', token.request_secret],
      ['oauth_expires_at', token.expires_at],
    ]);
  });

  app.post('/v3/OS-OAUTH1/access_token', async (request, reply) => {
    const token = await oauth1.createAccessToken(signed(request));
    return formReply(reply, [
      ['oauth_token', token.id],
      ['oauth_token_secret', token.access_secret],
      ['oauth_expires_at', token.expires_at],
    ]);
  });

  route(app, services, {
    method: 'PUT',
    path: '/v3/OS-OAUTH1/authorize/:request_token_id',
    action: 'identity:authorize_request_token',
    params: pathParams('request_token_id'),
    body: authorizeSchema,
    handle: async (request) => {
      // A delegation cannot mint a new, independent one (Keystone's
      // _check_can_authorize_request_token).
      if (delegated(request.caller))
        throw forbidden('Cannot authorize a request token with a token issued via delegation.');
      const roles = (request.body as { roles?: Array<{ id?: string; name?: string }> }).roles ?? [];
      const verifier = await oauth1.authorizeRequestToken(
        request.params.request_token_id,
        request.caller.user.id,
        roles,
      );
      return { token: { oauth_verifier: verifier } };
    },
  });

  // --- /v3/users/{user_id}/OS-OAUTH1/access_tokens ------------------------------------------
  const base = '/v3/users/:user_id/OS-OAUTH1/access_tokens';
  const refuseDelegated = (caller: TokenContext) => {
    if (delegated(caller))
      throw forbidden('Cannot manage OAuth access tokens with a token issued via delegation.');
  };
  /**
   * The user's access token; someone else's is Keystone's bare NotFound (its message template
   * unfilled, as Keystone 22 sends it), or its 401 where Keystone says so.
   */
  const owned = async (
    userId: string,
    id: string,
    mismatch: () => IdentityError = () =>
      new IdentityError('IDN_ERR_NOT_FOUND', 'Could not find: %(target)s.'),
  ) => {
    const token = await oauth1.accessToken(id);
    if (token.authorizing_user_id !== userId) throw mismatch();
    return token;
  };
  const renderRole = async (id: string, baseUrl: string) => {
    const role = await services.assignment.requireRole(id);
    return {
      id: role.id,
      name: role.name,
      domain_id: role.domain_id,
      options: role.options,
      links: { self: `${baseUrl}/v3/roles/${role.id}` },
    };
  };

  route(app, services, {
    method: 'GET',
    path: base,
    action: 'identity:list_access_tokens',
    params: pathParams('user_id'),
    handle: async (request) => {
      refuseDelegated(request.caller);
      const tokens = await oauth1.accessTokensOf(request.params.user_id);
      return renderedCollection('access_tokens', tokens, renderAccessToken, request);
    },
  });
  route(app, services, {
    method: 'GET',
    path: `${base}/:access_token_id`,
    action: 'identity:get_access_token',
    params: pathParams('user_id', 'access_token_id'),
    handle: async (request) => {
      refuseDelegated(request.caller);
      const token = await owned(request.params.user_id, request.params.access_token_id);
      return { access_token: renderAccessToken(token, request.baseUrl) };
    },
  });
  route(app, services, {
    method: 'DELETE',
    path: `${base}/:access_token_id`,
    // Keystone 22 checks this route against identity:ec2_delete_credential, with no credential
    // in the target: an admin's call, as identity:delete_access_token's own default says.
    action: 'identity:ec2_delete_credential',
    params: pathParams('user_id', 'access_token_id'),
    status: 204,
    handle: async (request) => {
      refuseDelegated(request.caller);
      await oauth1.deleteAccessToken(request.params.user_id, request.params.access_token_id);
    },
  });
  route(app, services, {
    method: 'GET',
    path: `${base}/:access_token_id/roles`,
    action: 'identity:list_access_token_roles',
    params: pathParams('user_id', 'access_token_id'),
    handle: async (request) => {
      const token = await owned(request.params.user_id, request.params.access_token_id);
      return collection(
        'roles',
        await Promise.all(token.role_ids.map((id) => renderRole(id, request.baseUrl))),
        request,
        request.baseUrl,
      );
    },
  });
  route(app, services, {
    method: 'GET',
    path: `${base}/:access_token_id/roles/:role_id`,
    action: 'identity:get_access_token_role',
    params: {
      type: 'object',
      properties: { user_id: id64, access_token_id: id64, role_id: id64 },
      required: ['user_id', 'access_token_id', 'role_id'],
    },
    handle: async (request) => {
      const { user_id, access_token_id, role_id } = request.params;
      const token = await owned(user_id, access_token_id, () => unauthorized('User IDs do not match'));
      if (!token.role_ids.includes(role_id)) throw notFound('role', role_id);
      return { role: await renderRole(role_id, request.baseUrl) };
    },
  });
}
