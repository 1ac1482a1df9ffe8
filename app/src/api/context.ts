/**
 * What every plugin shares: the services, the caller's token (X-Auth-Token, 401 when absent or
 * invalid) and `enforce(action, target?)`, the preHandler that applies an action's policy rule.
 *
 *   app.get('/v3/things/:id', { preHandler: enforce('identity:get_thing', targetOf) }, handler)
 *
 * After it runs, `request.caller` is the validated token.
 */
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { IdentityConfig } from '../config.js';
import { forbidden, IdentityError, unauthorized } from '../errors.js';
import type { PolicyTarget } from '../policy/enforcer.js';
import type { Action } from '../policy/rules.js';
import type { Services } from '../services.js';
import { credentialsOf, type TokenContext } from '../token/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The validated X-Auth-Token, set by enforce(). */
    caller: TokenContext | null;
    /** Where links point: IDENTITY_PUBLIC_ENDPOINT, else the request's own scheme and host. */
    readonly baseUrl: string;
  }
}

export interface PluginOptions {
  services: Services;
  config: IdentityConfig;
}

/** The caller, from X-Auth-Token: 401 when absent or invalid. */
export async function authenticateCaller(request: FastifyRequest, services: Services): Promise<TokenContext> {
  if (request.caller) return request.caller;
  const token = request.headers['x-auth-token'];
  if (typeof token !== 'string' || token === '') throw unauthorized('no X-Auth-Token');
  try {
    const caller = await services.tokens.validate(token, { accessRules: accessRulesHeader(request) });
    // Keystone's auth context: a token from /v3/ec2tokens or /v3/s3tokens is for the service that
    // asked for it to validate, never a caller's authorization here (403, the message withheld).
    if (caller.payload.methods.includes('ec2credential')) throw forbidden();
    request.caller = caller;
    return caller;
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_NOT_FOUND')
      throw unauthorized(err.message);
    throw err;
  }
}

/** The validator's OpenStack-Identity-Access-Rules header: the access-rules version it enforces. */
export function accessRulesHeader(request: FastifyRequest): string | undefined {
  const value = request.headers['openstack-identity-access-rules'];
  return typeof value === 'string' ? value : undefined;
}

export type TargetOf = (
  request: FastifyRequest,
  caller: TokenContext,
) => PolicyTarget | Promise<PolicyTarget>;

/** A preHandler: authenticates the caller, builds the target, applies the action's rule (403). */
export function enforce(services: Services, action: Action, targetOf?: TargetOf): preHandlerAsyncHookHandler {
  return async (request) => {
    const caller = await authenticateCaller(request, services);
    const target = targetOf ? await targetOf(request, caller) : {};
    services.policy.enforce(action, credentialsOf(caller), target);
  };
}

/** `?nocatalog`: its presence is enough (Keystone tests `'nocatalog' in request.args`). */
export function present(request: FastifyRequest, name: string): boolean {
  return name in (request.query as Record<string, unknown>);
}

/** `?allow_expired=1`: oslo's bool_from_string (1, t, true, on, y, yes). */
export function truthy(request: FastifyRequest, name: string): boolean {
  const value = (request.query as Record<string, unknown>)[name];
  return typeof value === 'string' && ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.toLowerCase());
}

/**
 * Aborts when the client goes away before its response is complete (nginx closes the upstream
 * connection when its client does): work queued for the request, such as a password check, is
 * dropped rather than computed for nobody.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}
