/**
 * /v3/credentials: ec2, totp, cert … credentials, CRUD. The blob travels as a string and is
 * stored encrypted (credential/service.ts). An owner sees and manages their own; a list shows
 * only the credentials the caller may get.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Credential } from '../credential/service.js';
import { expectedAttribute } from '../errors.js';
import { allowed, enforce as check } from '../policy/enforcer.js';
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

/** The policy check against the stored credential (its owner), before the 404. */
function guard(services: Services, action: Action) {
  return async (request: FastifyRequest) => {
    const caller = await authenticateCaller(request, services);
    const stored = await services.credential.credentialOwner(
      (request.params as { credential_id: string }).credential_id,
    );
    check(action, credentialsOf(caller), { credential: stored ? { user_id: stored.user_id } : {} });
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
      check('identity:list_credentials', who, {
        credential: { user_id: request.query.user_id ?? who.user_id },
      });
      // A caller who may not read another user's credentials lists their own: the filter goes
      // to SQL, so that a plain user never makes the service read and decrypt everyone's.
      const anyOwner = allowed('identity:get_credential', who, { credential: { user_id: '' } });
      const filter = anyOwner ? request.query : { ...request.query, user_id: who.user_id };
      const { credentials, truncated } = await services.credential.listCredentials(filter, config.listLimit);
      return {
        credentials: credentials
          .filter((c) => allowed('identity:get_credential', who, { credential: { user_id: c.user_id } }))
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
        check('identity:create_credential', credentialsOf(caller), {
          credential: { user_id: request.body.credential.user_id },
        });
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

  app.patch<{ Params: { credential_id: string }; Body: Body }>(
    '/v3/credentials/:credential_id',
    {
      schema: {
        params,
        body: {
          type: 'object',
          required: ['credential'],
          properties: { credential: { type: 'object', minProperties: 1, properties: props } },
        },
      },
      preHandler: [
        guard(services, 'identity:update_credential'),
        // Handing a credential to another user needs the right to create it for them.
        async (request) => {
          const to = (request.body as Body).credential.user_id;
          if (to !== undefined)
            check('identity:update_credential', credentialsOf(request.caller as TokenContext), {
              credential: { user_id: to },
            });
        },
      ],
    },
    async (request) => {
      const { user_id, project_id, type, blob } = request.body.credential;
      const updated = await services.credential.updateCredential(request.params.credential_id, {
        ...(user_id === undefined ? {} : { user_id }),
        ...(project_id === undefined ? {} : { project_id }),
        ...(type === undefined ? {} : { type }),
        ...(blob === undefined ? {} : { blob }),
      });
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
