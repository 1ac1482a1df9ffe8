/**
 * OS-OAUTH1 (Keystone's keystone/oauth1 and api/os_oauth1.py): consumers; a consumer's signed
 * request for a token on one project; a user's authorization of it with some of the user's roles
 * there (which gives the verifier); its one-time exchange for an access token; and the signed
 * requests that log in with that access token. The signatures are checked in signature.ts; this
 * module looks the secrets up and applies Keystone's order of checks and its answers.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AssignmentService } from '../assignment/service.js';
import type { Db } from '../db.js';
import { expectedAttribute, IdentityError, notFound, unauthorized, validation } from '../errors.js';
import type { Invalidation } from '../invalidation.js';
import type { ResourceService } from '../resource/service.js';
import * as repo from './repository.js';
import {
  checkMandatory,
  isTokenKey,
  isVerifier,
  OAuthError,
  type OAuthRequest,
  parseAuthorizationHeader,
  parseRequest,
  type SignedRequest,
  VERIFIER_CHARS,
  verifySignature,
} from './signature.js';

export type { AccessTokenRow, ConsumerRow, RequestTokenRow } from './repository.js';
export type { SignedRequest } from './signature.js';

export interface OAuth1Options {
  /** Seconds a request token may wait for its authorization; 0: forever. */
  requestTokenDuration: number;
  /** Seconds an access token can be used to log in; 0: forever. */
  accessTokenDuration: number;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  /** Invalidated at once when an access token goes (other processes hear the tables' NOTIFY). */
  invalidation?: Invalidation;
}

const newId = () => randomUUID().replaceAll('-', '');

/** As Keystone's utils.isotime(subsecond=True): microseconds and a Z. */
const isotime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** Keystone's verifier: eight distinct characters of VERIFIER_CHARS (random.sample). */
function newVerifier(): string {
  const pool = [...VERIFIER_CHARS];
  let out = '';
  for (const byte of randomBytes(8)) {
    // Rejection-free enough for a one-time code: 256 % 54 leaves a bias under 1%.
    const [c] = pool.splice(byte % pool.length, 1);
    out += c;
  }
  return out;
}

/** Keystone's answer to an oauthlib error body (validate_oauth_params): 400 with its text. */
const oauthValidation = (e: OAuthError) =>
  validation(`Validation failed with errors: ${e.error}, detail message is: ${e.description}.`);

const consumerNotFound = () => new IdentityError('IDN_ERR_NOT_FOUND', 'Consumer not found');
const requestTokenNotFound = () => new IdentityError('IDN_ERR_NOT_FOUND', 'Request token not found');
const accessTokenNotFound = () => new IdentityError('IDN_ERR_NOT_FOUND', 'Access token not found');

/** The oauth_ parameters of the Authorization header as Keystone's get_oauth_headers reads them. */
function oauthHeaders(authorization: string | undefined): Map<string, string> {
  if (authorization === undefined || authorization === '')
    throw expectedAttribute('Authorization', 'request headers');
  const params = parseAuthorizationHeader(authorization);
  if (!params) throw expectedAttribute('an OAuth Authorization header', 'request headers');
  return new Map(params);
}

function required(headers: Map<string, string>, name: string): string {
  const value = headers.get(name);
  if (!value) throw expectedAttribute(name, 'request');
  return value;
}

export interface ConsumerFields {
  description?: string | null;
  [key: string]: unknown;
}

export class OAuth1Service {
  readonly #db: Db;
  readonly #resource: ResourceService;
  readonly #assignment: AssignmentService;
  readonly #o: OAuth1Options;
  readonly #clock: () => number;

  constructor(db: Db, resource: ResourceService, assignment: AssignmentService, options: OAuth1Options) {
    this.#db = db;
    this.#resource = resource;
    this.#assignment = assignment;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  // --- consumers -----------------------------------------------------------------------------

  listConsumers(): Promise<repo.ConsumerRow[]> {
    return repo.listConsumers(this.#db);
  }

  async consumer(id: string): Promise<repo.ConsumerRow> {
    const row = await repo.consumerById(this.#db, id);
    if (!row) throw consumerNotFound();
    return row;
  }

  /** A new consumer with a new secret (shown once, in the create response); other keys are kept as extras. */
  async createConsumer(fields: ConsumerFields): Promise<repo.ConsumerRow> {
    const { description, id: _id, secret: _secret, ...extra } = fields;
    const row: repo.ConsumerRow = {
      id: newId(),
      description: description ?? null,
      secret: newId(),
      extra,
    };
    await repo.insertConsumer(this.#db, row);
    return row;
  }

  /** The description and the extras; the secret never changes (the schema refuses it). */
  async updateConsumer(id: string, fields: ConsumerFields): Promise<repo.ConsumerRow> {
    const current = await this.consumer(id);
    if (fields.id !== undefined && fields.id !== null && fields.id !== id)
      throw validation('Cannot change ID');
    const { description, id: _id, secret: _secret, ...extra } = fields;
    const row = await repo.updateConsumer(
      this.#db,
      id,
      'description' in fields ? (description ?? null) : current.description,
      { ...current.extra, ...extra },
    );
    if (!row) throw consumerNotFound();
    return row;
  }

  async deleteConsumer(id: string): Promise<void> {
    if (!(await repo.deleteConsumer(this.#db, id))) throw consumerNotFound();
    this.#o.invalidation?.invalidate();
  }

  // --- the three legs ------------------------------------------------------------------------

  #parse(signed: SignedRequest): OAuthRequest {
    const request = parseRequest(signed);
    checkMandatory(request, Math.floor(this.#clock() / 1000));
    return request;
  }

  #expired(expiresAt: string | null): boolean {
    return expiresAt !== null && Date.parse(expiresAt) < this.#clock();
  }

  /** POST /v3/OS-OAUTH1/request_token, signed with the consumer's secret. */
  async createRequestToken(
    signed: SignedRequest,
    projectId: string | undefined,
  ): Promise<repo.RequestTokenRow> {
    const headers = oauthHeaders(signed.authorization);
    const consumerId = required(headers, 'oauth_consumer_key');
    if (!projectId) throw expectedAttribute('Requested-Project-Id', 'request');
    if (!(await this.#resource.project({ id: projectId }))) throw notFound('project', projectId);
    await this.consumer(consumerId);
    let request: OAuthRequest;
    try {
      request = this.#parse(signed);
      if (request.realm)
        throw new OAuthError(
          'invalid_request',
          `Invalid realm ['${request.realm.split(' ').join("', '")}']. Allowed are [].`,
        );
      if (!request.callback) throw new OAuthError('invalid_request', 'Missing callback URI.');
    } catch (err) {
      if (err instanceof OAuthError) throw oauthValidation(err);
      throw err;
    }
    const consumer = await repo.consumerById(this.#db, request.clientKey as string);
    // A token in a request token request is an access token to oauthlib (its secret is the key's).
    let ownerSecret: string | null = null;
    if (request.ownerKey) {
      const access = await repo.accessTokenById(this.#db, request.ownerKey);
      if (!access) throw accessTokenNotFound();
      ownerSecret = access.access_secret;
    }
    if (!consumer || !verifySignature(request, consumer.secret, ownerSecret))
      throw unauthorized('Invalid signature');
    const now = this.#clock();
    const row: repo.RequestTokenRow = {
      id: newId(),
      request_secret: newId(),
      verifier: null,
      authorizing_user_id: null,
      requested_project_id: projectId,
      role_ids: null,
      consumer_id: consumer.id,
      expires_at:
        this.#o.requestTokenDuration > 0 ? isotime(now + this.#o.requestTokenDuration * 1000) : null,
    };
    await repo.insertRequestToken(this.#db, row);
    return row;
  }

  /**
   * PUT /v3/OS-OAUTH1/authorize/{id}: the user delegates some of the roles the user holds on the
   * requested project (by id or name); returns the verifier. A role the user lacks there is
   * Keystone's 401.
   */
  async authorizeRequestToken(
    requestTokenId: string,
    userId: string,
    roles: Array<{ id?: string; name?: string }>,
  ): Promise<string> {
    const token = await repo.requestTokenById(this.#db, requestTokenId);
    if (!token) throw requestTokenNotFound();
    if (this.#expired(token.expires_at)) throw unauthorized('Request token is expired');
    const wanted = new Set<string>();
    for (const role of roles) {
      if (role.id) wanted.add(role.id);
      else {
        const found = await this.#assignment.listRoles({ name: role.name as string, domainId: null });
        if (found.length !== 1) throw notFound('role', role.name as string);
        wanted.add((found[0] as { id: string }).id);
      }
    }
    const held = new Set(
      (
        await this.#assignment.effectiveRoles(userId, { type: 'project', id: token.requested_project_id })
      ).map((r) => r.id),
    );
    if (![...wanted].every((id) => held.has(id)))
      throw unauthorized('authorizing user does not have role required');
    const verifier = newVerifier();
    if (!(await repo.authorizeRequestToken(this.#db, requestTokenId, userId, verifier, [...wanted])))
      throw requestTokenNotFound();
    return verifier;
  }

  /** POST /v3/OS-OAUTH1/access_token, signed with the consumer's and the request token's secrets. */
  async createAccessToken(signed: SignedRequest): Promise<repo.AccessTokenRow> {
    const headers = oauthHeaders(signed.authorization);
    required(headers, 'oauth_consumer_key');
    const requestTokenId = required(headers, 'oauth_token');
    const verifier = required(headers, 'oauth_verifier');
    const token = await repo.requestTokenById(this.#db, requestTokenId);
    if (!token) throw requestTokenNotFound();
    if (this.#expired(token.expires_at)) throw unauthorized('Request token is expired');
    let request: OAuthRequest;
    try {
      request = this.#parse(signed);
      if (!request.ownerKey) throw new OAuthError('invalid_request', 'Missing resource owner.');
      if (!isTokenKey(request.ownerKey))
        throw new OAuthError('invalid_request', 'Invalid resource owner key format.');
      if (!request.verifier) throw new OAuthError('invalid_request', 'Missing verifier.');
      if (!isVerifier(request.verifier)) throw new OAuthError('invalid_request', 'Invalid verifier format.');
    } catch (err) {
      if (err instanceof OAuthError) throw oauthValidation(err);
      throw err;
    }
    const consumer = await repo.consumerById(this.#db, request.clientKey as string);
    if (!consumer) throw unauthorized('Provided consumer does not exist.');
    const owner = await repo.requestTokenById(this.#db, request.ownerKey);
    if (!owner || owner.consumer_id !== consumer.id)
      throw unauthorized('Provided consumer key does not match stored consumer key.');
    const signatureOk = verifySignature(request, consumer.secret, owner.request_secret);
    if (owner.verifier !== request.verifier || owner.verifier !== verifier)
      throw unauthorized('Provided verifier does not match stored verifier');
    if (!signatureOk) throw unauthorized('Invalid signature');
    if (!owner.authorizing_user_id) throw unauthorized('Request Token does not have an authorizing user id.');
    const duration = this.#o.accessTokenDuration;
    const access = await repo.exchangeRequestToken(this.#db, owner.id, {
      id: newId(),
      secret: newId(),
      expiresAt: duration > 0 ? isotime(this.#clock() + duration * 1000) : null,
    });
    // Exchanged by a concurrent request between the checks and here: gone, as after it.
    if (!access) throw requestTokenNotFound();
    return access;
  }

  /**
   * The oauth1 auth method (Keystone's auth/plugins/oauth1.py): a request signed with the consumer's
   * and the access token's secrets. Every failure past the access token lookup is a 401.
   */
  async authenticate(signed: SignedRequest): Promise<repo.AccessTokenRow> {
    const headers = oauthHeaders(signed.authorization);
    const accessTokenId = required(headers, 'oauth_token');
    const access = await repo.accessTokenById(this.#db, accessTokenId);
    if (!access) throw accessTokenNotFound();
    if (this.#expired(access.expires_at)) throw unauthorized('Access token is expired');
    let request: OAuthRequest;
    try {
      request = this.#parse(signed);
    } catch (err) {
      if (err instanceof OAuthError)
        throw unauthorized(`Could not validate the access token: ${err.message}`);
      throw err;
    }
    const ownerKey = request.ownerKey;
    if (!ownerKey || !isTokenKey(ownerKey)) throw unauthorized('Could not validate the access token');
    const [consumer, owner] = await Promise.all([
      repo.consumerById(this.#db, request.clientKey as string),
      repo.accessTokenById(this.#db, ownerKey),
    ]);
    // oauthlib checks the signature with dummy secrets when the consumer or the token is unknown.
    const valid = verifySignature(request, consumer?.secret ?? '', owner?.access_secret ?? '');
    if (!consumer || !owner || !valid) throw unauthorized('Could not validate the access token');
    // Stricter than Keystone's validator (which only asks whether the token exists): an access
    // token logs in for the consumer it was issued to, and under the id the header names.
    if (owner.consumer_id !== consumer.id || owner.id !== access.id)
      throw unauthorized('The access token was issued to another consumer');
    return access;
  }

  // --- a user's access tokens ---------------------------------------------------------------

  accessTokensOf(userId: string): Promise<repo.AccessTokenRow[]> {
    return repo.accessTokensOf(this.#db, userId);
  }

  /** The access token, or Keystone's 404 ("Access token not found"). */
  async accessToken(id: string): Promise<repo.AccessTokenRow> {
    const row = await repo.accessTokenById(this.#db, id);
    if (!row) throw accessTokenNotFound();
    return row;
  }

  /** What validation needs of an OAuth token's access token: null once it is deleted. */
  findAccessToken(id: string): Promise<repo.AccessTokenRow | null> {
    return repo.accessTokenById(this.#db, id);
  }

  delegatedRoleIds(accessTokenId: string): Promise<string[]> {
    return repo.delegatedRoleIds(this.#db, accessTokenId);
  }

  /** Deleting an access token ends every token issued through it (validation looks it up). */
  async deleteAccessToken(userId: string, id: string): Promise<void> {
    const row = await this.accessToken(id);
    if (row.authorizing_user_id !== userId) throw unauthorized('User IDs do not match');
    if (!(await repo.deleteAccessToken(this.#db, id))) throw accessTokenNotFound();
    this.#o.invalidation?.invalidate();
  }
}
