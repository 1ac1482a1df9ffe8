/**
 * A consumer's side of OAuth 1.0 for tests, written from RFC 5849 (as tempest's
 * oauth_token_client signs): HMAC-SHA1 over METHOD&URI&sorted-encoded-params, sent in an
 * `Authorization: OAuth …` header. Independent of the server's signature module on purpose.
 */
import { createHmac, randomBytes } from 'node:crypto';

const enc = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export interface Signing {
  method: string;
  /** As the server is known by: scheme://host[:port]/path (no query). */
  uri: string;
  consumerKey: string;
  consumerSecret: string;
  token?: string;
  tokenSecret?: string;
  callback?: string;
  verifier?: string;
  /** Seconds since the epoch; now by default. */
  timestamp?: number;
  nonce?: string;
}

export function oauthParams(s: Signing): Array<[string, string]> {
  const params: Array<[string, string]> = [
    ['oauth_nonce', s.nonce ?? BigInt(`0x${randomBytes(8).toString('hex')}`).toString()],
    ['oauth_timestamp', String(s.timestamp ?? Math.floor(Date.now() / 1000))],
    ['oauth_version', '1.0'],
    ['oauth_signature_method', 'HMAC-SHA1'],
    ['oauth_consumer_key', s.consumerKey],
  ];
  if (s.token) params.push(['oauth_token', s.token]);
  if (s.callback) params.push(['oauth_callback', s.callback]);
  if (s.verifier) params.push(['oauth_verifier', s.verifier]);
  const normalized = params
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const base = [s.method.toUpperCase(), enc(s.uri), enc(normalized)].join('&');
  const key = `${enc(s.consumerSecret)}&${enc(s.tokenSecret ?? '')}`;
  params.push(['oauth_signature', createHmac('sha1', key).update(base).digest('base64')]);
  return params;
}

export function authorizationHeader(params: Array<[string, string]>): string {
  return `OAuth ${params.map(([k, v]) => `${enc(k)}="${enc(v)}"`).join(', ')}`;
}

export const signedHeader = (s: Signing) => authorizationHeader(oauthParams(s));

/** A form-encoded answer (oauth_token=…&oauth_token_secret=…) as an object. */
export const form = (body: string) => Object.fromEntries(body.split('&').map((kv) => kv.split('=')));
