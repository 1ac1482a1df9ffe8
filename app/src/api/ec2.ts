/**
 * OS-EC2: a user's EC2 key pairs (/v3/users/{user_id}/credentials/OS-EC2: create, list, show,
 * delete; stored as `ec2` credentials, so /v3/credentials shows them too) and the two endpoints
 * services call to turn a signed AWS request into a token: POST /v3/ec2tokens (EC2 signatures
 * v0-v2 and v4) and POST /v3/s3tokens (S3's string to sign), both for services and admins only.
 * Keystone's keystone/api/users.py (UserOSEC2Credentials*), ec2tokens.py and s3tokens.py.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Credential } from '../credential/service.js';
import { forbiddenAction, notFound, unauthorized } from '../errors.js';
import { authenticateEc2 } from '../token/ec2.js';
import type { TokenContext } from '../token/service.js';
import type { PluginOptions } from './context.js';
import { delegated } from './delegation.js';
import { renderToken } from './render.js';
import { pathParams, type Req, route } from './resource.js';

const PATH = '/v3/users/:user_id/credentials/OS-EC2';

/** Keystone's _convert_v3_to_ec2_credential, with the self link (keys in Keystone's order). */
function render(c: Credential, base: string) {
  let blob: Record<string, unknown> = {};
  try {
    blob = JSON.parse(c.blob) ?? {};
  } catch {
    // A blob that is no JSON shows no keys, as Keystone's .get() on it would.
  }
  const access = blob.access ?? null;
  return {
    user_id: c.user_id,
    tenant_id: c.project_id,
    access,
    secret: blob.secret ?? null,
    trust_id: blob.trust_id ?? null,
    links: { self: `${base}/v3/users/${c.user_id}/credentials/OS-EC2/${String(access)}` },
  };
}

/**
 * Keystone's _require_primary_auth_for_ec2: a token that came from a delegation (a trust, an
 * application credential, OAuth1, an EC2 key, any method that is not a primary login) may not
 * see or mint EC2 keys, from which fresh undelegated tokens are made.
 */
function requirePrimaryAuth(caller: TokenContext): void {
  if (delegated(caller))
    throw forbiddenAction(
      'You are not authorized to perform the requested action: Delegated tokens cannot access credentials directly.',
    );
}

export async function ec2Routes(app: FastifyInstance, { services }: PluginOptions): Promise<void> {
  const { credential, identity, resource } = services;
  const requireUser = async (id: string) => {
    if (!(await identity.getUser(id))) throw notFound('user', id);
  };
  const userParams = pathParams('user_id');
  const credParams = pathParams('user_id', 'credential_id');
  // The stored credential the access key in the path names: the policy's target.credential
  // (Keystone loads it before the rule, so an unknown key is 404 to everyone).
  const stored = async (request: Req) =>
    credential.ec2ByAccess((request.params as { credential_id: string }).credential_id);
  const memberTarget = async (request: Req) => {
    const c = await stored(request);
    return {
      user_id: (request.params as { user_id: string }).user_id,
      credential: { id: c.id, user_id: c.user_id, project_id: c.project_id, type: c.type },
    };
  };
  const ec2Only = (c: Credential) => {
    if (c.type !== 'ec2') throw unauthorized('EC2 access key not found.');
    return c;
  };

  route(app, services, {
    method: 'GET',
    path: PATH,
    action: 'identity:ec2_list_credentials',
    params: userParams,
    // The rules read the path's user (%(user_id)s) and no credential.
    target: (request) => ({ user_id: (request.params as { user_id: string }).user_id }),
    handle: async (request) => {
      requirePrimaryAuth(request.caller);
      await requireUser(request.params.user_id);
      return {
        credentials: (await credential.ec2Credentials(request.params.user_id)).map((c) =>
          render(c, request.baseUrl),
        ),
        links: { self: `${request.baseUrl}${request.url.split('?')[0]}`, previous: null, next: null },
      };
    },
  });

  route(app, services, {
    method: 'POST',
    path: PATH,
    action: 'identity:ec2_create_credential',
    params: userParams,
    target: (request) => ({
      user_id: (request.params as { user_id: string }).user_id,
      credential: { user_id: (request.params as { user_id: string }).user_id },
    }),
    status: 201,
    handle: async (request) => {
      await requireUser(request.params.user_id);
      // Keystone takes the project as it is: a project the user has no role on is accepted here,
      // and its key is refused at /v3/ec2tokens ("User not valid for project").
      const body = request.body as Record<string, unknown> | null;
      const tenant = body && typeof body === 'object' ? body.tenant_id : undefined;
      const project = typeof tenant === 'string' ? await resource.project({ id: tenant }) : null;
      if (!project)
        throw notFound('project', tenant === undefined || tenant === null ? 'None' : String(tenant));
      requirePrimaryAuth(request.caller);
      return {
        credential: render(await credential.createEc2(request.params.user_id, project.id), request.baseUrl),
      };
    },
  });

  route(app, services, {
    method: 'GET',
    path: `${PATH}/:credential_id`,
    action: 'identity:ec2_get_credential',
    params: credParams,
    target: memberTarget,
    handle: async (request) => {
      await requireUser(request.params.user_id);
      const c = ec2Only(await stored(request));
      requirePrimaryAuth(request.caller);
      return { credential: render(c, request.baseUrl) };
    },
  });

  route(app, services, {
    method: 'DELETE',
    path: `${PATH}/:credential_id`,
    action: 'identity:ec2_delete_credential',
    params: credParams,
    target: memberTarget,
    status: 204,
    handle: async (request) => {
      await requireUser(request.params.user_id);
      const c = ec2Only(await stored(request));
      requirePrimaryAuth(request.caller);
      await credential.deleteCredential(c.id);
    },
  });

  // The token endpoints: the caller is the service (or an admin) that received the signed
  // request; the token answered is the key owner's, on the key's project.
  const tokenFor = async (kind: 'ec2' | 's3', request: FastifyRequest) => {
    const issued = await authenticateEc2(services, kind, request.body);
    const catalog = await services.catalog.catalogFor(issued.context.project?.id ?? null);
    return { issued, body: renderToken(issued.context, catalog, issued.context.issuedAt) };
  };
  route(app, services, {
    method: 'POST',
    path: '/v3/ec2tokens',
    action: 'identity:ec2tokens_validate',
    handle: async (request, reply) => {
      const { issued, body } = await tokenFor('ec2', request);
      reply.header('x-subject-token', issued.token);
      return body;
    },
  });
  // Keystone answers s3tokens with the body only: no X-Subject-Token.
  route(app, services, {
    method: 'POST',
    path: '/v3/s3tokens',
    action: 'identity:s3tokens_validate',
    handle: async (request) => (await tokenFor('s3', request)).body,
  });
}
