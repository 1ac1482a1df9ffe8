/**
 * /v3/credentials: ec2, totp, cert … credentials, CRUD. The blob travels as a string and is
 * stored encrypted (credential/service.ts). An owner sees and manages their own; a list shows
 * only the credentials the caller may get.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Credential } from '../credential/service.js';
import { expectedAttribute, forbiddenAction } from '../errors.js';
import type { Action } from '../policy/rules.js';
import type { Services } from '../services.js';
import { credentialsOf, type TokenContext } from '../token/service.js';
import { authenticateCaller, type PluginOptions } from './context.js';
import { baseUrl } from './render.js';

const id64 = { type: 'string', minLength: 1, maxLength: 64 } as const;
const props = {
  user_id: id64,
  project_id: { type: ['string', 'null'], maxLength: 64 },
  type: { type: 'string', minLength: 1, maxLength: 255 },
  blob: { type: 'string', minLength: 1 },
} as const;
const params = { type: 'object', properties: { credential_id: id64 } } as const;

type Body = { credential: { user_id?: string; project_id?: string | null; type?: string; blob?: string } };

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
 * A delegated token (one from an application credential or an OAuth1 access token) never touches credentials: they hold
 * the secrets (EC2 keys, TOTP seeds) from which fresh, undelegated logins are made. Keystone's
 * fix for CVE-2026-90460 refuses them on every credential call.
 */
const delegated = (caller: TokenContext) => caller.applicationCredential !== null || Boolean(caller.oauth1);
const delegatedRefused = () =>
  forbiddenAction(
    'You are not authorized to perform the requested action: Delegated tokens cannot access credentials directly.',
  );

/** The policy check against the stored credential (its owner), before the 404. */
function guard(services: Services, action: Action) {
  return async (request: FastifyRequest) => {
    const caller = await authenticateCaller(request, services);
    const stored = await services.credential.credentialOwner(
      (request.params as { credential_id: string }).credential_id,
    );
    services.policy.enforce(action, credentialsOf(caller), {
      credential: stored ? { user_id: stored.user_id } : {},
    });
    if (delegated(caller)) throw delegatedRefused();
  };
}

export async function credentialRoutes(
  app: FastifyInstance,
  { services, config }: PluginOptions,
): Promise<void> {
  const base = (request: FastifyRequest) => baseUrl(request, config.publicEndpoint);

  app.get<{ Querystring: { user_id?: string; type?: string } }>(
    '/v3/credentials',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { user_id: { type: 'string' }, type: { type: 'string' } },
        },
      },
    },
    async (request) => {
      const caller = await authenticateCaller(request, services);
      const who = credentialsOf(caller);
      services.policy.enforce('identity:list_credentials', who, {
        credential: { user_id: request.query.user_id ?? who.user_id },
      });
      // A caller who may not read another user's credentials lists their own: the filter goes
      // to SQL, so that a plain user never makes the service read and decrypt everyone's. A
      // delegated token is allowed none of them: its list is empty, as Keystone's filter leaves it.
      const anyOwner = services.policy.allowed('identity:get_credential', who, {
        credential: { user_id: '' },
      });
      const filter = anyOwner ? request.query : { ...request.query, user_id: who.user_id };
      const { credentials, truncated } = delegated(caller)
        ? { credentials: [], truncated: false }
        : await services.credential.listCredentials(filter, config.listLimit);
      return {
        credentials: credentials
          .filter((c) =>
            services.policy.allowed('identity:get_credential', who, { credential: { user_id: c.user_id } }),
          )
          .map((c) => render(c, base(request))),
        links: { self: `${base(request)}${request.url}`, previous: null, next: null },
        ...(truncated ? { truncated: true } : {}),
      };
    },
  );

  app.post<{ Body: Body }>(
    '/v3/credentials',
    {
      schema: {
        body: {
          type: 'object',
          required: ['credential'],
          properties: {
            credential: { type: 'object', required: ['user_id', 'type', 'blob'], properties: props },
          },
        },
      },
      preHandler: async (request) => {
        const caller = await authenticateCaller(request, services);
        services.policy.enforce('identity:create_credential', credentialsOf(caller), {
          credential: { user_id: request.body.credential.user_id },
        });
        if (delegated(caller)) throw delegatedRefused();
      },
    },
    async (request, reply) => {
      const c = request.body.credential;
      const type = c.type as string;
      // Keystone's schema: an ec2 credential needs its project.
      if (type.toLowerCase() === 'ec2' && !c.project_id) throw expectedAttribute('project_id', 'credential');
      const created = await services.credential.createCredential({
        user_id: c.user_id as string,
        project_id: c.project_id ?? null,
        type,
        blob: c.blob as string,
      });
      reply.code(201);
      return { credential: render(created, base(request)) };
    },
  );

  app.get<{ Params: { credential_id: string } }>(
    '/v3/credentials/:credential_id',
    { schema: { params }, preHandler: guard(services, 'identity:get_credential') },
    async (request) => ({
      credential: render(await services.credential.credential(request.params.credential_id), base(request)),
    }),
  );

  // Only the blob changes: owner, project and type stay as created (Keystone's fix for
  // CVE-2026-90460 narrowed PATCH to `blob`; re-typing, re-scoping or handing a credential to
  // another user in place was a repeated source of holes).
  app.patch<{ Params: { credential_id: string }; Body: { credential: { blob: string } } }>(
    '/v3/credentials/:credential_id',
    {
      schema: {
        params,
        body: {
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
        },
      },
      preHandler: guard(services, 'identity:update_credential'),
    },
    async (request) => {
      const updated = await services.credential.updateCredential(
        request.params.credential_id,
        request.body.credential.blob,
      );
      return { credential: render(updated, base(request)) };
    },
  );

  app.delete<{ Params: { credential_id: string } }>(
    '/v3/credentials/:credential_id',
    { schema: { params }, preHandler: guard(services, 'identity:delete_credential') },
    async (request, reply) => {
      await services.credential.deleteCredential(request.params.credential_id);
      reply.code(204).send();
    },
  );
}
