/**
 * /v3/auth: issue (POST), validate (GET), check (HEAD) and revoke (DELETE) tokens, and the
 * caller's catalog, projects, domains and system scope. Thin: parse, enforce, one service call,
 * reply.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { expectedAttribute, IdentityError, unauthorized, unsupportedMethod, validation } from '../errors.js';
import type { AssertionSettings } from '../federation/login.js';
import type { UserRef } from '../identity/service.js';
import type { SignedRequest } from '../oauth1/service.js';
import type { Ref } from '../resource/service.js';
import { authenticate, type Factors, type IdentityClaim, type ScopeRequest } from '../token/authenticate.js';
import type { TokenContext } from '../token/service.js';
import { accessRulesHeader, clientGone, enforce, type PluginOptions, present, truthy } from './context.js';
import { baseUrl, renderDomain, renderProject, renderToken } from './render.js';

type Json = Record<string, unknown>;

const htmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Keystone's sso_callback_template.html with its host and token: the form posts the token to
 * the dashboard as soon as the page loads. The host is escaped (Keystone substitutes it as is;
 * a trusted dashboard's URL is the same either way unless it holds &, < or quotes).
 */
function ssoCallback(host: string, token: string): string {
  return `<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml">
  <head>
    <title>Keystone WebSSO redirect</title>
  </head>
  <body>
     <form id="sso" name="sso" action="${htmlEscape(host)}" method="post">
       Please wait...
       <br/>
       <input type="hidden" name="token" id="token" value="${htmlEscape(token)}"/>
       <noscript>
         <input type="submit" name="submit_no_javascript" id="submit_no_javascript"
            value="If your JavaScript is disabled, please click to continue"/>
       </noscript>
     </form>
     <script type="text/javascript">
       window.onload = function() {
         document.forms['sso'].submit();
       }
     </script>
  </body>
</html>`;
}
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keystone's ValidationError wording for a missing attribute. */
function expect(target: Json, key: string, where: string): unknown {
  if (!(key in target)) throw expectedAttribute(key, where);
  return target[key];
}

function object(value: unknown, field: string): Json {
  if (!isObject(value)) throw validation(`Invalid input for field '${field}': expected an object.`);
  return value;
}

function str(value: unknown, field: string, max = 255): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max)
    throw validation(
      `Invalid input for field '${field}': expected a non-empty string of at most ${max} characters.`,
    );
  return value;
}

function ref(value: unknown, field: string): Ref {
  const o = object(value, field);
  if ('id' in o) return { id: str(o.id, `${field}/id`, 64) };
  if ('name' in o) return { name: str(o.name, `${field}/name`) };
  throw validation(`Expecting to find id or name in ${field}.`);
}

function userRef(u: Json, field: string): UserRef {
  if ('id' in u) return { id: str(u.id, `${field}/id`, 64) };
  return {
    name: str(expect(u, 'name', field), `${field}/name`),
    domain: ref(expect(u, 'domain', field), `${field}/domain`),
  };
}

const METHODS = ['password', 'token', 'application_credential', 'totp', 'oauth1', 'mapped'] as const;

/**
 * The variables the web server set for this request (the gateway's trusted params: REMOTE_USER and
 * whatever its auth module passed on), never the client's headers. Under a plain HTTP server there
 * are none, and a mapped login finds no assertion.
 */
export function webServerParams(request: FastifyRequest): Readonly<Record<string, string>> | undefined {
  return (request.raw.socket as { gatewayParams?: Readonly<Record<string, string>> } | null)?.gatewayParams;
}

/** The mapped method's object: a provider and protocol (a login), or a federated token's id. */
function mappedClaim(
  data: Json,
  params: () => Readonly<Record<string, string>> | undefined,
  settings: AssertionSettings,
): Extract<IdentityClaim, { method: 'mapped' }> {
  if ('id' in data) return { method: 'mapped', token: str(data.id, 'mapped/id', 1024) };
  const identityProvider = str(expect(data, 'identity_provider', 'mapped'), 'mapped/identity_provider', 64);
  const protocol = str(expect(data, 'protocol', 'mapped'), 'mapped/protocol', 64);
  return { method: 'mapped', identityProvider, protocol, params: params(), settings };
}

/** The totp method's user and passcode (keystone/auth/plugins/core.py TOTPUserInfo). */
function totpClaim(identity: Json): Extract<IdentityClaim, { method: 'totp' }> {
  const data = object(identity.totp, 'totp');
  const user = object(expect(data, 'user', 'totp'), 'totp/user');
  // A missing or non-string passcode fails authentication (401), as in Keystone.
  return { method: 'totp', user: userRef(user, 'totp/user'), passcode: user.passcode };
}

/**
 * The request's methods: the first (by the order above) leads, password and totp beside it join.
 * `signed`: the request as an OAuth signature covers it, for the oauth1 method.
 */
function parseIdentity(
  auth: Json,
  maxPassword: number,
  signed: () => SignedRequest,
  mapped: (data: Json) => IdentityClaim,
): { claim: IdentityClaim; factors: Factors } {
  const claim = parseClaim(auth, maxPassword, signed, mapped);
  const identity = auth.identity as Json;
  const methods = identity.methods as string[];
  const also: NonNullable<Factors['also']> = [];
  if (claim.method !== 'password' && methods.includes('password'))
    also.push(parsePassword(object(identity.password, 'password'), maxPassword));
  if (claim.method !== 'totp' && methods.includes('totp')) also.push(totpClaim(identity));
  return { claim, factors: { also } };
}

function parsePassword(data: Json, maxPassword: number): Extract<IdentityClaim, { method: 'password' }> {
  const user = object(expect(data, 'user', 'password'), 'password/user');
  const password = str(expect(user, 'password', 'user'), 'password/user/password', maxPassword);
  return { method: 'password', user: userRef(user, 'password/user'), password };
}

function parseClaim(
  auth: Json,
  maxPassword: number,
  signed: () => SignedRequest,
  mapped: (data: Json) => IdentityClaim,
): IdentityClaim {
  const identity = object(expect(auth, 'identity', 'auth'), 'identity');
  const methods = expect(identity, 'methods', 'identity');
  if (!Array.isArray(methods) || methods.length === 0 || !methods.every((m) => typeof m === 'string'))
    throw validation("Invalid input for field 'identity/methods': expected a non-empty list of strings.");
  // Each method needs its own object (400), then an unknown one fails authentication (401).
  for (const m of methods) expect(identity, m, 'identity');
  const method = METHODS.find((m) => methods.includes(m));
  if (!method || methods.some((m) => !(METHODS as readonly string[]).includes(m)))
    throw unsupportedMethod(methods);
  // oauth1's proof is the request's signature; its object carries nothing.
  if (method === 'oauth1') return { method, request: signed() };
  if (method === 'totp') return totpClaim(identity);
  const data = object(identity[method], method);
  if (method === 'mapped') return mapped(data);
  if (method === 'password') return parsePassword(data, maxPassword);
  if (method === 'token') return { method, token: str(expect(data, 'id', 'token'), 'token/id', 1024) };
  const secret = str(
    expect(data, 'secret', 'application_credential'),
    'application_credential/secret',
    maxPassword,
  );
  if ('id' in data)
    return { method, credential: { id: str(data.id, 'application_credential/id', 64) }, secret };
  const name = str(expect(data, 'name', 'application_credential'), 'application_credential/name');
  const user = object(expect(data, 'user', 'application_credential'), 'application_credential/user');
  return { method, credential: { name, user: userRef(user, 'application_credential/user') }, secret };
}

function parseScope(auth: Json): ScopeRequest {
  if (!('scope' in auth)) return { kind: 'default' };
  const scope = auth.scope;
  if (scope === 'unscoped') return { kind: 'unscoped' };
  const o = object(scope, 'scope');
  const keys = Object.keys(o);
  if (keys.length !== 1)
    throw validation("Invalid input for field 'scope': expected one of project, domain, system or unscoped.");
  if ('unscoped' in o) return { kind: 'unscoped' };
  if ('project' in o) {
    const p = object(o.project, 'scope/project');
    if ('id' in p) return { kind: 'project', project: { id: str(p.id, 'scope/project/id', 64) } };
    return {
      kind: 'project',
      project: {
        name: str(expect(p, 'name', 'project'), 'scope/project/name'),
        domain: ref(expect(p, 'domain', 'project'), 'scope/project/domain'),
      },
    };
  }
  if ('domain' in o) return { kind: 'domain', domain: ref(o.domain, 'scope/domain') };
  if ('system' in o) {
    const system = object(o.system, 'scope/system');
    if (system.all !== true)
      throw validation('Invalid input for field \'scope/system\': expected {"all": true}.');
    return { kind: 'system' };
  }
  if ('OS-TRUST:trust' in o) {
    const trust = object(o['OS-TRUST:trust'], 'scope/OS-TRUST:trust');
    if (!trust.id) throw expectedAttribute('trust_id', 'trust');
    return { kind: 'trust', trustId: str(trust.id, 'scope/OS-TRUST:trust/id', 64) };
  }
  throw validation("Invalid input for field 'scope': expected one of project, domain, system or unscoped.");
}

export async function authRoutes(app: FastifyInstance, { services, config }: PluginOptions): Promise<void> {
  const { tokens, catalog } = services;
  const assertionSettings: AssertionSettings = {
    prefix: config.federationAssertionPrefix,
    remoteIdAttribute: config.federationRemoteIdAttribute,
  };
  const withCatalog = async (request: FastifyRequest, context: TokenContext) =>
    present(request, 'nocatalog') || context.payload.scope.kind === 'unscoped'
      ? null
      : await catalog.catalogFor(context.project?.id ?? null);
  // Every token lists the enabled service providers (OS-FEDERATION), when there are any.
  const token = async (context: TokenContext, request: FastifyRequest) => {
    const body = renderToken(context, await withCatalog(request, context), context.issuedAt);
    const sps = await services.federation.enabledServiceProviders();
    if (sps.length > 0) body.token.service_providers = sps;
    return body;
  };

  app.post('/v3/auth/tokens', async (request, reply) => {
    const body = object(request.body, 'request body');
    const auth = object(expect(body, 'auth', 'request body'), 'auth');
    const { claim, factors } = parseIdentity(
      auth,
      config.maxPasswordLength,
      () => ({
        method: request.method,
        // Keystone's base_url(path=request.path): the public endpoint, never the query string.
        uri: `${baseUrl(request, config.publicEndpoint)}/v3/auth/tokens`,
        authorization: request.headers.authorization,
      }),
      (data) => mappedClaim(data, () => webServerParams(request), assertionSettings),
    );
    const receipt = request.headers['openstack-auth-receipt'];
    if (typeof receipt === 'string' && receipt !== '') factors.receipt = receipt;
    const issued = await authenticate(services, claim, parseScope(auth), clientGone(reply), factors);
    reply.code(201).header('x-subject-token', issued.token);
    return token(issued.context, request);
  });

  /**
   * Keystone's OSFederationAuthResource: a mapped login through the protocol named in the path
   * (the protocol's id is the auth method, as Keystone builds the request), answered 201 with an
   * unscoped federated token. Unenforced, as in Keystone: the web server's auth module guards it.
   */
  /** A mapped login through a provider's protocol: the assertion is what the web server set. */
  const mappedLogin = (request: FastifyRequest, reply: FastifyReply, idpId: string, protocolId: string) => {
    if (protocolId !== 'mapped') throw unsupportedMethod([protocolId]);
    return authenticate(
      services,
      {
        method: 'mapped',
        identityProvider: idpId,
        protocol: protocolId,
        params: webServerParams(request),
        settings: assertionSettings,
      },
      { kind: 'default' },
      clientGone(reply),
    );
  };

  const federatedLogin = async (
    request: FastifyRequest<{ Params: { idp_id: string; protocol_id: string } }>,
    reply: FastifyReply,
  ) => {
    const { idp_id: idpId, protocol_id: protocolId } = request.params;
    const issued = await mappedLogin(request, reply, idpId, protocolId);
    reply.code(201).header('x-subject-token', issued.token);
    return token(issued.context, request);
  };
  const federatedAuthPath = '/v3/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/auth';
  app.get(federatedAuthPath, federatedLogin);
  app.post(federatedAuthPath, federatedLogin);

  /**
   * WebSSO (Keystone's AuthFederationWebSSOResource and …IDPsResource): a mapped login whose
   * token is posted back to the dashboard named by ?origin=, which must be one of
   * IDENTITY_FEDERATION_TRUSTED_DASHBOARD (400 without one, 401 for another), in Keystone's
   * self-submitting form. Unenforced, as in Keystone.
   */
  const ssoOrigin = (request: FastifyRequest): string => {
    const origin = (request.query as Record<string, unknown>).origin;
    if (typeof origin !== 'string' || origin === '')
      throw validation('Request must have an origin query parameter');
    // Keystone unquotes the already decoded parameter once more (unquote_plus).
    let host = origin.replaceAll('+', ' ');
    try {
      host = decodeURIComponent(host);
    } catch {
      // left as it is, as unquote_plus leaves a bad escape
    }
    if (!config.federationTrustedDashboards.includes(host))
      throw unauthorized(`${host} is not a trusted dashboard host`);
    return host;
  };
  const ssoForm = (reply: FastifyReply, host: string, token: string) =>
    reply.code(200).type('text/html; charset=utf-8').send(ssoCallback(host, token));
  const webSso = async (
    request: FastifyRequest<{ Params: { protocol_id: string } }>,
    reply: FastifyReply,
  ) => {
    const { protocol_id: protocolId } = request.params;
    const params = webServerParams(request);
    const idpId = await services.federation.idpForWebSso(
      protocolId,
      params,
      assertionSettings.remoteIdAttribute,
    );
    const host = ssoOrigin(request);
    if (protocolId !== 'mapped') throw unsupportedMethod([protocolId]);
    const issued = await authenticate(
      services,
      {
        method: 'mapped',
        identityProvider: idpId,
        protocol: protocolId,
        params,
        settings: assertionSettings,
      },
      { kind: 'default' },
      clientGone(reply),
    );
    return ssoForm(reply, host, issued.token);
  };
  const webSsoIdp = async (
    request: FastifyRequest<{ Params: { idp_id: string; protocol_id: string } }>,
    reply: FastifyReply,
  ) => {
    const { idp_id: idpId, protocol_id: protocolId } = request.params;
    const host = ssoOrigin(request);
    const issued = await mappedLogin(request, reply, idpId, protocolId);
    return ssoForm(reply, host, issued.token);
  };
  for (const method of ['GET', 'POST'] as const) {
    app.route({ method, url: '/v3/auth/OS-FEDERATION/websso/:protocol_id', handler: webSso });
    app.route({
      method,
      url: '/v3/auth/OS-FEDERATION/identity_providers/:idp_id/protocols/:protocol_id/websso',
      handler: webSsoIdp,
    });
  }

  /** The X-Subject-Token, validated; 404 when it is not a valid token. */
  const subject = async (request: FastifyRequest): Promise<TokenContext> => {
    const token = request.headers['x-subject-token'];
    if (typeof token !== 'string' || token === '')
      throw validation('Expecting to find X-Subject-Token in request headers.');
    return tokens.validate(token, {
      allowExpired: truthy(request, 'allow_expired'),
      accessRules: accessRulesHeader(request),
    });
  };
  // The subject is validated before the policy runs: the rules look at its user.
  const subjectTarget = async (request: FastifyRequest) => {
    const target = await subject(request);
    (request as FastifyRequest & { subject?: TokenContext }).subject = target;
    return { token: { user_id: target.user.id } };
  };
  const subjectOf = (request: FastifyRequest) =>
    (request as FastifyRequest & { subject: TokenContext }).subject;

  const reply200 = async (request: FastifyRequest, reply: FastifyReply) => {
    const target = subjectOf(request);
    reply.header('x-subject-token', request.headers['x-subject-token'] as string);
    return token(target, request);
  };
  app.get(
    '/v3/auth/tokens',
    { exposeHeadRoute: false, preHandler: enforce(services, 'identity:validate_token', subjectTarget) },
    reply200,
  );
  app.head(
    '/v3/auth/tokens',
    { preHandler: enforce(services, 'identity:check_token', subjectTarget) },
    async (request, reply) => {
      reply.header('x-subject-token', request.headers['x-subject-token'] as string);
      reply.code(200).send();
    },
  );
  app.delete(
    '/v3/auth/tokens',
    { preHandler: enforce(services, 'identity:revoke_token', subjectTarget) },
    async (request, reply) => {
      await tokens.revoke(subjectOf(request));
      reply.code(204).send();
    },
  );

  app.get(
    '/v3/auth/catalog',
    { preHandler: enforce(services, 'identity:get_auth_catalog') },
    async (request) => {
      // Keystone refuses an unscoped token here (it has no catalog).
      if (request.caller?.payload.scope.kind === 'unscoped')
        throw new IdentityError(
          'IDN_ERR_FORBIDDEN',
          'A scoped token is required to retrieve the service catalog.',
        );
      return {
        catalog: await catalog.catalogFor(request.caller?.project?.id ?? null),
        links: { self: `${baseUrl(request, config.publicEndpoint)}/v3/auth/catalog` },
      };
    },
  );
  // Keystone's AuthProjectsResource and AuthDomainsResource, also at OS-FEDERATION's paths: what
  // the caller may scope to, through its own roles and its groups' (a federated token's too).
  for (const path of ['/v3/auth/projects', '/v3/OS-FEDERATION/projects']) {
    app.get(path, { preHandler: enforce(services, 'identity:get_auth_projects') }, async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const caller = request.caller as TokenContext;
      const projects = await services.assignment.projectsFor(
        caller.user.id,
        caller.payload.federated?.groupIds,
      );
      return {
        projects: projects.map((p) => renderProject(p, base)),
        links: { self: `${base}${path}`, previous: null, next: null },
      };
    });
  }
  for (const path of ['/v3/auth/domains', '/v3/OS-FEDERATION/domains']) {
    app.get(path, { preHandler: enforce(services, 'identity:get_auth_domains') }, async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const caller = request.caller as TokenContext;
      const domains = await services.assignment.domainsFor(
        caller.user.id,
        caller.payload.federated?.groupIds,
      );
      return {
        domains: domains.map((d) => renderDomain(d, base)),
        links: { self: `${base}${path}`, previous: null, next: null },
      };
    });
  }
  app.get(
    '/v3/auth/system',
    { preHandler: enforce(services, 'identity:get_auth_system') },
    async (request) => {
      const base = baseUrl(request, config.publicEndpoint);
      const system = (await services.assignment.hasSystemRole((request.caller as TokenContext).user.id))
        ? [{ all: true }]
        : [];
      return { system, links: { self: `${base}/v3/auth/system`, previous: null, next: null } };
    },
  );
}
