/**
 * AWS request signatures as Keystone checks them, pure (no I/O): EC2's versions 0, 1, 2 and 4
 * (Authorization header or X-Amz-* query parameters), as keystoneclient's Ec2Signer computes
 * them for /v3/ec2tokens, and S3's string-to-sign signatures (HMAC-SHA1 base64, or v4) for
 * /v3/s3tokens, as keystone/api/s3tokens.py does. Every comparison is timing-safe.
 *
 * What a caller sends is JSON, so every field is checked for its type here: input Keystone would
 * fail on with a 500 (a missing field, a number where a string belongs) is `InvalidSignature`,
 * which the API answers 401 like a wrong signature.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The request does not carry a signature that can be computed. */
export class InvalidSignature extends Error {}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new InvalidSignature(`${what} is not a string`);
  return value;
}

/** keystone.common.utils.auth_str_equal: constant time for a given length of `provided`. */
export function authStrEqual(provided: string, known: string): boolean {
  const a = Buffer.from(provided, 'utf8');
  const b = Buffer.from(known, 'utf8');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Python's str() of a JSON scalar (Ec2Signer._get_utf8_value); containers are refused. */
function pythonStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new InvalidSignature('a parameter is not a string');
}

/** Python's sort of str: by code point (UTF-8 byte order is code point order). */
const byCodePoint = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** urllib.parse.quote(value, safe='-_~'): every UTF-8 byte but A-Z a-z 0-9 _ . - ~ as %XX. */
export function quote(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Ec2Signer._canonical_qs: sorted, each key and value quoted, joined with &. */
function canonicalQs(params: Json): string {
  return Object.keys(params)
    .sort(byCodePoint)
    .map((key) => `${quote(key)}=${quote(pythonStr(params[key]))}`)
    .join('&');
}

const hmac = (algorithm: 'sha1' | 'sha256', key: Buffer | string, ...parts: string[]) => {
  const h = createHmac(algorithm, key);
  for (const part of parts) h.update(part, 'utf8');
  return h.digest();
};

/** The credentials structure keystonemiddleware's ec2_token posts (what Ec2Signer reads). */
export interface Ec2Credentials {
  signature?: unknown;
  host?: unknown;
  verb?: unknown;
  path?: unknown;
  params?: unknown;
  headers?: unknown;
  body_hash?: unknown;
}

/** Ec2Signer._v4_creds: an AWS4 Authorization header, else X-Amz-Algorithm in the parameters. */
function isV4(headers: unknown, params: Json): boolean {
  if (isObject(headers) && 'Authorization' in headers)
    return text(headers.Authorization, 'Authorization').startsWith('AWS4-HMAC-SHA256');
  return params['X-Amz-Algorithm'] === 'AWS4-HMAC-SHA256';
}

/** keystoneclient's Ec2Signer.generate: the signature the request should carry. */
export function ec2Signature(secret: string, c: Ec2Credentials, host: string): string {
  if (!isObject(c.params)) throw new InvalidSignature('no params');
  const params = c.params;
  const version = params.SignatureVersion;
  if (version === '0')
    return hmac('sha1', secret, text(params.Action, 'Action') + text(params.Timestamp, 'Timestamp')).toString(
      'base64',
    );
  if (version === '1') {
    // One HMAC over key, value, key, value … in case-insensitive key order.
    const h = createHmac('sha1', secret);
    const keys = Object.keys(params).sort((a, b) => byCodePoint(a.toLowerCase(), b.toLowerCase()));
    for (const key of keys) h.update(key, 'utf8').update(pythonStr(params[key]), 'utf8');
    return h.digest('base64');
  }
  if (version === '2') {
    // Ec2Signer signs as HmacSHA256 whatever the request says (and records it in the params).
    const signed = { ...params, SignatureMethod: 'HmacSHA256' };
    const verb = text(c.verb, 'verb');
    const path = text(c.path, 'path');
    return hmac('sha256', secret, `${verb}\n${host}\n${path}\n${canonicalQs(signed)}`).toString('base64');
  }
  if (isV4(c.headers, params)) return v4Signature(secret, c, params);
  throw new InvalidSignature(
    version === undefined ? 'Unexpected signature format' : 'Unknown signature version',
  );
}

/** Ec2Signer._calc_signature_4. */
function v4Signature(secret: string, c: Ec2Credentials, params: Json): string {
  const headers = isObject(c.headers) ? c.headers : {};
  const verb = text(c.verb, 'verb');
  const path = text(c.path, 'path');
  const bodyHash = text(c.body_hash, 'body_hash');
  const fromHeader = 'Authorization' in headers;
  // The named field of the Authorization header (up to its comma), else the X-Amz-<name> parameter.
  const authParam = (name: string): string => {
    if (fromHeader) {
      const auth = text(headers.Authorization, 'Authorization');
      const at = auth.indexOf(`${name}=`);
      return at < 0 ? '' : (auth.slice(at + name.length + 1).split(',')[0] as string);
    }
    return text(params[`X-Amz-${name}`], `X-Amz-${name}`);
  };
  const date = text('X-Amz-Date' in headers ? headers['X-Amz-Date'] : params['X-Amz-Date'], 'X-Amz-Date');

  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) lower.set(k.toLowerCase().trim(), text(v, k).trim());
  // Boto before 2.9.3 signed the host without its port.
  const stripPort = /^Boto\/2\.[0-9]\.[0-2]/.test(lower.get('user-agent') ?? '');
  const signedHeaders = authParam('SignedHeaders');
  const headerLines: string[] = [];
  for (const h of signedHeaders.split(';')) {
    const value = lower.get(h);
    if (value === undefined) continue;
    headerLines.push(`${h}:${h === 'host' && stripPort ? value.split(':')[0] : value}`);
  }
  const canonicalRequest = [
    verb.toUpperCase(),
    path,
    // A POST's parameters are its body (hashed in body_hash), not its query.
    verb.toUpperCase() !== 'POST' ? canonicalQs(params) : '',
    `${headerLines.join('\n')}\n`,
    signedHeaders,
    bodyHash,
  ].join('\n');

  const credential = authParam('Credential').split('/');
  if (credential.length < 4) throw new InvalidSignature('Credential has no scope');
  const [, credentialDate, region, service] = credential as [string, string, string, string];
  if (!date.startsWith(credentialDate)) throw new InvalidSignature('Request date mismatch error');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    date,
    credential.slice(1).join('/'),
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  return hmac('sha256', signingKey(secret, credentialDate, region, service), stringToSign).toString('hex');
}

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = hmac('sha256', Buffer.from(`AWS4${secret}`, 'utf8'), date);
  return hmac('sha256', hmac('sha256', hmac('sha256', kDate, region), service), 'aws4_request');
}

/** urlsplit('//' + host).hostname: the host without user info, port or IPv6 brackets, lowercased. */
function hostnameOf(host: string): string {
  const authority = host.slice(host.lastIndexOf('@') + 1);
  const name = authority.startsWith('[')
    ? authority.slice(1, authority.indexOf(']') < 0 ? undefined : authority.indexOf(']'))
    : (authority.split(':')[0] as string);
  return name === '' ? 'None' : name.toLowerCase();
}

/**
 * keystone/api/ec2tokens.py's _check_signature: the computed signature against the one given;
 * with a port in the host, once more without it (some clients sign without the port).
 */
export function checkEc2Signature(secret: string, c: Ec2Credentials): 'ok' | 'missing' | 'mismatch' {
  const host = text(c.host, 'host');
  const expected = ec2Signature(secret, c, host);
  if (!c.signature) return 'missing';
  const given = text(c.signature, 'signature');
  if (authStrEqual(given, expected)) return 'ok';
  if (host.includes(':') && authStrEqual(given, ec2Signature(secret, c, hostnameOf(host)))) return 'ok';
  return 'mismatch';
}

/** keystone/api/s3tokens.py: the string to sign (base64url in `token`) signed with the secret. */
export function checkS3Signature(secret: string, c: { token?: unknown; signature?: unknown }): boolean {
  const stringToSign = Buffer.from(text(c.token, 'token'), 'base64url');
  const given = text(c.signature, 'signature');
  let expected: string;
  if (stringToSign.subarray(0, 4).toString('latin1') !== 'AWS4') {
    expected = createHmac('sha1', secret).update(stringToSign).digest('base64');
  } else {
    const parts = stringToSign.toString('latin1').split('\n');
    const scope = (parts[2] ?? '').split('/');
    if (
      parts.length !== 4 ||
      parts[0] !== 'AWS4-HMAC-SHA256' ||
      scope.length !== 4 ||
      scope[3] !== 'aws4_request' ||
      !['s3', 'iam', 'sts'].includes(scope[2] as string)
    )
      return false;
    // The scope's bytes as they came (latin1 keeps each byte one character).
    const [date, region, service] = scope.map((s) => Buffer.from(s, 'latin1')) as [Buffer, Buffer, Buffer];
    const sign = (key: Buffer, msg: Buffer) => createHmac('sha256', key).update(msg).digest();
    const key = sign(
      sign(sign(sign(Buffer.from(`AWS4${secret}`, 'utf8'), date), region), service),
      Buffer.from('aws4_request'),
    );
    expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  }
  return authStrEqual(given, expected);
}

/**
 * EC2_S3_Resource._check_timestamp: the signed Timestamp (v1/v2) or X-Amz-Date (v4), when there
 * is one, no older than `ttlMs`. oslo's parse_isotime: ISO 8601, basic or extended, UTC unless a
 * zone is given. 'invalid', 'expired' or 'ok'.
 */
export function checkTimestamp(c: Ec2Credentials, now: number, ttlMs: number): 'ok' | 'invalid' | 'expired' {
  const params = isObject(c.params) ? c.params : {};
  const headers = isObject(c.headers) ? c.headers : {};
  const value = params.Timestamp || headers['X-Amz-Date'] || params['X-Amz-Date'];
  if (!value) return 'ok';
  if (typeof value !== 'string') return 'invalid';
  const m =
    /^(\d{4})-?(\d{1,2})-?(\d{1,2})(?:[T ](\d{2})(?::?(\d{2}))?(?::?(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      value,
    );
  if (!m) return 'invalid';
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  let ms = Date.UTC(
    +(y as string),
    +(mo as string) - 1,
    +(d as string),
    +h,
    +mi,
    +s,
    Math.floor(+`0.${frac || 0}` * 1000),
  );
  if (Number.isNaN(ms) || +(mo as string) < 1 || +(mo as string) > 12) return 'invalid';
  if (zone !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!z) return 'invalid';
    const offset = (+(z[2] as string) * 60 + +(z[3] ?? '0')) * 60_000;
    ms -= z[1] === '+' ? offset : -offset;
  }
  return now > ms + ttlMs ? 'expired' : 'ok';
}
