/**
 * POST /v3/ec2tokens and /v3/s3tokens without the HTTP (Keystone's EC2_S3_Resource
 * handle_authenticate): the ec2 credential the access key names, its signature checked against
 * the stored secret, its user and project enabled, the signed timestamp fresh; then a token for
 * the credential's user on its project, with the method `ec2credential`.
 */

import {
  checkEc2Signature,
  checkS3Signature,
  checkTimestamp,
  type Ec2Credentials,
  InvalidSignature,
} from '../credential/ec2.js';
import type { Credential } from '../credential/service.js';
import { IdentityError, notFound, unauthorized, validation } from '../errors.js';
import type { Services } from '../services.js';
import type { Issued } from './authenticate.js';
import type { Scope } from './payload.js';
import { ACCESS_RULES_MIN_VERSION } from './service.js';

/** Keystone's [credential] auth_ttl default: a signed timestamp older than 15 minutes is refused. */
export const AUTH_TTL_MS = 15 * 60_000;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The blob's fields as EC2_S3_Resource reads them. */
function blobOf(c: Credential): Json {
  try {
    const parsed: unknown = JSON.parse(c.blob);
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

export async function authenticateEc2(
  s: Services,
  kind: 'ec2' | 's3',
  body: unknown,
  now = Date.now(),
): Promise<Issued> {
  if (!isObject(body) || Object.keys(body).length === 0)
    throw validation('request must include a request body');
  // Keystone reads "credentials", then "credential", then "ec2Credentials".
  const given = [body.credentials, body.credential, body.ec2Credentials].find(
    (c) => isObject(c) && Object.keys(c).length > 0,
  );
  const credentials: Json = isObject(given) ? given : {};
  if (!('access' in credentials)) throw unauthorized('EC2 Signature not supplied');
  if (typeof credentials.access !== 'string') throw unauthorized('EC2 access key is not a string');

  const stored = await s.credential.ec2ByAccess(credentials.access);
  if (stored.type !== 'ec2') throw unauthorized('EC2 access key not found.');
  const blob = blobOf(stored);
  const secret = typeof blob.secret === 'string' ? blob.secret : String(blob.secret);

  try {
    if (kind === 's3') {
      if (!checkS3Signature(secret, credentials)) throw unauthorized('Credential signature mismatch');
    } else {
      const outcome = checkEc2Signature(secret, credentials as Ec2Credentials);
      if (outcome === 'missing') throw unauthorized('EC2 signature not supplied.');
      if (outcome === 'mismatch') throw unauthorized('Invalid EC2 signature.');
    }
  } catch (err) {
    if (err instanceof InvalidSignature) throw unauthorized(`Invalid EC2 signature: ${err.message}`);
    throw err;
  }

  const project = stored.project_id ? await s.resource.project({ id: stored.project_id }) : null;
  if (!project) throw notFound('project', String(stored.project_id));
  const user = await s.identity.getUser(stored.user_id);
  if (!user) throw notFound('user', stored.user_id);
  if (!user.enabled || !user.domain_enabled) throw unauthorized(`user ${user.id} is disabled`);
  if (!project.enabled || !project.domain_enabled) throw unauthorized(`project ${project.id} is disabled`);

  const fresh = checkTimestamp(credentials as Ec2Credentials, now, AUTH_TTL_MS);
  if (fresh === 'invalid') throw unauthorized('Credential timestamp is invalid');
  if (fresh === 'expired') throw unauthorized('Credential is expired');

  // A credential made under a delegation is bound to it. Application credentials are served
  // here; trusts and OAuth1 access tokens have no token type in this service yet, so a key
  // made under one authenticates nobody rather than more than the delegation allowed.
  let scope: Scope = { kind: 'project', projectId: project.id };
  if (blob.trust_id) throw unauthorized('EC2 credentials of trusts are not supported');
  if (blob.access_token_id) throw unauthorized('EC2 credentials of OAuth1 access tokens are not supported');
  if (blob.app_cred_id) {
    const appCred = await s.credential.applicationCredential(String(blob.app_cred_id));
    if (!appCred) throw notFound('application credential', String(blob.app_cred_id));
    if (appCred.project_id !== project.id)
      throw unauthorized('EC2 credential project does not match the application credential project.');
    scope = { kind: 'application_credential', projectId: project.id, applicationCredentialId: appCred.id };
  }

  const { token } = s.tokens.issue(user.id, ['ec2credential'], scope, { now: await s.revocation.now() });
  try {
    return {
      token,
      context: await s.tokens.validate(token, { accessRules: String(ACCESS_RULES_MIN_VERSION) }),
    };
  } catch (err) {
    if (err instanceof IdentityError && err.code === 'IDN_ERR_TOKEN_NOT_FOUND')
      throw unauthorized('User not valid for project.');
    throw err;
  }
}
