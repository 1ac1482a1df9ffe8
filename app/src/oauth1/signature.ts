/**
 * OAuth 1.0 (RFC 5849) request signatures, checked with oauthlib's semantics as Keystone runs it
 * (oauthlib.oauth1.rfc5849: endpoints/base.py, signature.py, utils.py; Keystone's
 * oauth1/validator.py): the parameters come from the Authorization header and the query, `oauth_`
 * values are unescaped, the normalized parameters are the percent-encoded pairs sorted, the base
 * string is METHOD&URI&PARAMS, the key the encoded consumer secret and token secret joined by `&`,
 * and the signatures are compared in constant time. Pure: strings in, a parsed request or an
 * OAuthError out; secrets are looked up by the caller.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type Param = [string, string];

/** oauthlib's OAuth1Error: `error` and `error_description`, as its urlencoded body carries them. */
export class OAuthError extends Error {
  readonly error: string;
  readonly description: string;
  constructor(error: string, description: string) {
    super(`${error}: ${description}`);
    this.error = error;
    this.description = description;
  }
}
const invalidRequest = (description: string) => new OAuthError('invalid_request', description);

/** The signature methods oauthlib verifies with a shared secret (RSA needs a key Keystone never has). */
export const SIGNATURE_METHODS = ['HMAC-SHA1', 'HMAC-SHA256', 'HMAC-SHA512'] as const;
const HASHES: Record<string, string> = {
  'HMAC-SHA1': 'sha1',
  'HMAC-SHA256': 'sha256',
  'HMAC-SHA512': 'sha512',
};
/** oauthlib's timestamp_lifetime: a request more than this many seconds off the server's clock is refused. */
export const TIMESTAMP_LIFETIME = 600;

const HEX32 = /^[0-9a-f]{32}$/;
/** Keystone's VERIFIER_CHARS: letters and digits without the confusable jiIl1oO0. */
export const VERIFIER_CHARS = 'abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** Python's urllib quote(s, safe='~'): UTF-8, everything but letters, digits and _.-~ as %XX. */
export function percentEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Python's urllib unquote: %XX bytes decoded as UTF-8 (invalid sequences replaced). */
export function percentDecode(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const hex = value.slice(i + 1, i + 3);
    if (value[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      const cp = value.codePointAt(i) as number;
      if (cp > 0xffff) i++;
      bytes.push(...Buffer.from(String.fromCodePoint(cp), 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** urllib's parse_http_list: comma-separated items, commas inside quotes kept, each stripped. */
function parseHttpList(s: string): string[] {
  const items: string[] = [];
  let part = '';
  let escaped = false;
  let quoted = false;
  for (const c of s) {
    if (escaped) {
      part += c;
      escaped = false;
    } else if (quoted) {
      if (c === '\\') escaped = true;
      else {
        if (c === '"') quoted = false;
        part += c;
      }
    } else if (c === ',') {
      items.push(part);
      part = '';
    } else {
      if (c === '"') quoted = true;
      part += c;
    }
  }
  if (part) items.push(part);
  return items.map((p) => p.trim());
}

/**
 * oauthlib's parse_authorization_header: `OAuth k="v", …` as pairs (values still escaped; a
 * repeated name keeps its last value). null when the header is not an OAuth one or is malformed.
 */
export function parseAuthorizationHeader(header: string): Param[] | null {
  if (!header.slice(0, 6).toLowerCase().startsWith('oauth ')) return null;
  const parsed = new Map<string, string>();
  for (const item of parseHttpList(header.slice(6))) {
    const eq = item.indexOf('=');
    if (eq < 0) return null;
    const key = item.slice(0, eq);
    let value = item.slice(eq + 1);
    if (value === '') return null;
    if (value.length >= 1 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    parsed.set(key, value);
  }
  return [...parsed];
}

/** The characters oauthlib's urldecode accepts in a query, and its check of %XX escapes. */
const URLENCODED = /^[A-Za-z0-9_.\-=&;:%+~,*@!()/?'$]*$/;
const INVALID_HEX = /%[^0-9A-Fa-f]|%[0-9A-Fa-f][^0-9A-Fa-f]/;

/** oauthlib's urldecode: a strict x-www-form-urlencoded query as pairs (blank values kept). */
export function urldecode(query: string): Param[] {
  if (!URLENCODED.test(query) || INVALID_HEX.test(query))
    throw invalidRequest('Error trying to decode a non urlencoded string.');
  const params: Param[] = [];
  for (const field of query.split('&')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const [name, value] = eq < 0 ? [field, ''] : [field.slice(0, eq), field.slice(eq + 1)];
    params.push([percentDecode(name.replaceAll('+', ' ')), percentDecode(value.replaceAll('+', ' '))]);
  }
  return params;
}

/** A request as signed: the method, the URI the server is known by, the Authorization header. */
export interface SignedRequest {
  method: string;
  /** Absolute: scheme://host[:port]/path[?query]. */
  uri: string;
  authorization: string | undefined;
}

/** What oauthlib's _create_request makes of a request. */
export interface OAuthRequest {
  method: string;
  uri: string;
  /** Every parameter but oauth_signature (and realm, when the header names one). */
  params: Param[];
  oauth: Map<string, string>;
  signature: string | undefined;
  clientKey: string | undefined;
  ownerKey: string | undefined;
  nonce: string | undefined;
  timestamp: string | undefined;
  callback: string | undefined;
  verifier: string | undefined;
  signatureMethod: string | undefined;
  realm: string | undefined;
}

const isOAuth = ([k]: Param) => k.startsWith('oauth_');
const unescapeOAuth = (params: Param[]): Param[] =>
  params.map(([k, v]) => (k.startsWith('oauth_') ? [k, percentDecode(v)] : [k, v]));

/** oauthlib's _create_request: the parameters from one signature type, duplicates refused. */
export function parseRequest(req: SignedRequest): OAuthRequest {
  const q = req.uri.indexOf('?');
  const query = q < 0 ? '' : (req.uri.slice(q + 1).split('#')[0] as string);
  const header = req.authorization === undefined ? [] : parseAuthorizationHeader(req.authorization);
  if (header === null) throw invalidRequest('Malformed authorization header');
  const headerParams = unescapeOAuth(header);
  const queryParams = unescapeOAuth(query ? urldecode(query) : []);
  const all = [...headerParams, ...queryParams];
  const sources = [headerParams.filter(isOAuth), queryParams.filter(isOAuth)].filter((s) => s.length > 0);
  if (sources.length > 1)
    throw invalidRequest(
      'oauth_ params must come from only 1 signature type but were found in AUTH_HEADER, QUERY',
    );
  const oauthParams = sources[0];
  if (!oauthParams) throw invalidRequest('Missing mandatory OAuth parameters.');
  const oauth = new Map(oauthParams);
  if (oauth.size !== oauthParams.length) throw invalidRequest('Duplicate OAuth1 entries.');
  let params = all.filter(([k]) => k !== 'oauth_signature');
  if (req.authorization?.includes('realm')) params = params.filter(([k]) => k !== 'realm');
  return {
    method: req.method,
    uri: req.uri,
    params,
    oauth,
    signature: oauth.get('oauth_signature'),
    clientKey: oauth.get('oauth_consumer_key'),
    ownerKey: oauth.get('oauth_token'),
    nonce: oauth.get('oauth_nonce'),
    timestamp: oauth.get('oauth_timestamp'),
    callback: oauth.get('oauth_callback'),
    verifier: oauth.get('oauth_verifier'),
    signatureMethod: oauth.get('oauth_signature_method'),
    realm: new Map(all).get('realm'),
  };
}

/**
 * oauthlib's _check_mandatory_parameters with Keystone's validator: every required oauth_
 * parameter, an allowed method, version 1.0, a ten-digit timestamp within TIMESTAMP_LIFETIME of
 * `nowSeconds`, a 32-hex consumer key and a hex nonce. Keystone keeps no nonces
 * (validate_timestamp_and_nonce is always true): the timestamp window is the only replay bound.
 */
export function checkMandatory(r: OAuthRequest, nowSeconds: number): void {
  if (!r.signature || !r.clientKey || !r.nonce || !r.timestamp || !r.signatureMethod)
    throw invalidRequest('Missing mandatory OAuth parameters.');
  if (!(SIGNATURE_METHODS as readonly string[]).includes(r.signatureMethod))
    throw new OAuthError(
      'invalid_signature_method',
      `Invalid signature, ${r.signatureMethod} not in ('${SIGNATURE_METHODS.join("', '")}').`,
    );
  if (r.oauth.has('oauth_version') && r.oauth.get('oauth_version') !== '1.0')
    throw invalidRequest('Invalid OAuth version.');
  if (r.timestamp.length !== 10) throw invalidRequest('Invalid timestamp size');
  if (!/^\s*[+-]?\d+\s*$/.test(r.timestamp)) throw invalidRequest('Timestamp must be an integer.');
  if (Math.abs(nowSeconds - Number.parseInt(r.timestamp, 10)) > TIMESTAMP_LIFETIME)
    throw invalidRequest(
      `Timestamp given is invalid, differ from allowed by over ${TIMESTAMP_LIFETIME} seconds.`,
    );
  if (!HEX32.test(r.clientKey)) throw invalidRequest('Invalid client key format.');
  if (!/^[0-9a-f]+$/.test(r.nonce)) throw invalidRequest('Invalid nonce format.');
}

/** Keystone's check for request and access token keys: 32 lowercase hex digits (a UUID's hex). */
export const isTokenKey = (key: string) => HEX32.test(key);
/** Keystone's check_verifier: eight characters of VERIFIER_CHARS. */
export const isVerifier = (v: string) => v.length === 8 && [...v].every((c) => VERIFIER_CHARS.includes(c));

/** RFC 5849 3.4.1.2 as oauthlib's base_string_uri: lowercase scheme and host, no default port, no query. */
export function baseStringUri(uri: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(uri);
  if (!m) throw invalidRequest('missing scheme');
  const scheme = (m[1] as string).toLowerCase();
  const authority = (m[2] as string).replace(/^.*@/, '').toLowerCase();
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hp || hp[1] === '') throw invalidRequest('missing host');
  const host = hp[1] as string;
  const port = hp[2] ? Number(hp[2]) : null;
  if (port !== null && !(port > 0 && port <= 65535)) throw invalidRequest('port out of range');
  const standard = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const netloc = port && !standard ? `${host}:${port}` : host;
  return `${scheme}://${netloc}${m[3] || '/'}`.replaceAll(' ', '%20');
}

/** RFC 5849 3.4.1.3.2: each name and value encoded, the pairs sorted, joined with & and =. */
export function normalizeParameters(params: readonly Param[]): string {
  const encoded = params.map(([k, v]) => [percentEncode(k), percentEncode(v)] as const);
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/** RFC 5849 3.4.1.1: METHOD&base-string-URI&normalized-parameters, each encoded. */
export function signatureBaseString(method: string, uri: string, params: readonly Param[]): string {
  return [
    percentEncode(method.toUpperCase()),
    percentEncode(baseStringUri(uri)),
    percentEncode(normalizeParameters(params)),
  ].join('&');
}

/** The HMAC signature (base64) of a base string with the consumer secret and the token secret. */
export function sign(
  signatureMethod: string,
  baseString: string,
  clientSecret: string,
  ownerSecret: string | null,
): string {
  const hash = HASHES[signatureMethod];
  if (!hash) throw new OAuthError('invalid_signature_method', signatureMethod);
  const key = `${percentEncode(clientSecret)}&${percentEncode(ownerSecret ?? '')}`;
  return createHmac(hash, Buffer.from(key, 'utf8')).update(baseString, 'utf8').digest('base64');
}

/** Recomputes the request's signature and compares it with the one sent, in constant time. */
export function verifySignature(r: OAuthRequest, clientSecret: string, ownerSecret: string | null): boolean {
  if (!r.signature || !r.signatureMethod) return false;
  const expected = Buffer.from(
    sign(r.signatureMethod, signatureBaseString(r.method, r.uri, r.params), clientSecret, ownerSecret),
    'utf8',
  );
  const given = Buffer.from(r.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
