/**
 * The OAuth 1.0 signature checks against requests oauthlib (3.2.2, python3-oauthlib) signed:
 * its Client.sign with a fixed nonce and timestamp gave the headers below; the base string is
 * the one oauthlib's server side builds for the same request. Each verifies here, and any change
 * to the request (a parameter, the URI, a secret, the method) does not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  baseStringUri,
  checkMandatory,
  OAuthError,
  parseAuthorizationHeader,
  parseRequest,
  signatureBaseString,
  verifySignature,
} from '../src/oauth1/signature.js';

const CLIENT_SECRET = 's3cr3t~!';
const TOKEN_SECRET = 't0k&n sécret';
const header = (signature: string, realm = '') =>
  `OAuth ${realm}oauth_nonce="1234567890", oauth_timestamp="1700000000", oauth_version="1.0", oauth_signature_method="HMAC-SHA1", oauth_consumer_key="0123456789abcdef0123456789abcdef", oauth_token="fedcba9876543210fedcba9876543210", oauth_verifier="abcdefgh", oauth_signature="${signature}"`;

/** oauthlib's oauth1.Client(...).sign(uri, http_method='POST') for these URIs. */
const SIGNED = [
  {
    uri: 'http://Identity.Test:80/v3/OS-OAUTH1/request_token',
    authorization: header('tIvzL3e6x5i99GxsQTTNjKU7Wls%3D'),
  },
  {
    uri: 'https://identity.test:5000/v3/auth/tokens?nocatalog&a=b+c&z=%E2%9C%93',
    authorization: header('YX3ep1uIMyf5M6L9KF5k8XGV%2BNY%3D'),
  },
  {
    uri: 'https://identity.test:443/v3/auth/tokens',
    authorization: header('AOualtOFuLJ4oBAMd8Vu69W4Nz0%3D', 'realm="photos", '),
  },
];

describe('OAuth 1.0 signatures as oauthlib makes them', () => {
  for (const s of SIGNED)
    test(`verifies ${s.uri}`, () => {
      const request = parseRequest({ method: 'POST', uri: s.uri, authorization: s.authorization });
      checkMandatory(request, 1_700_000_100);
      assert.equal(verifySignature(request, CLIENT_SECRET, TOKEN_SECRET), true);
      assert.equal(verifySignature(request, CLIENT_SECRET, 'other'), false);
      assert.equal(verifySignature(request, 'other', TOKEN_SECRET), false);
      assert.equal(verifySignature({ ...request, method: 'GET' }, CLIENT_SECRET, TOKEN_SECRET), false);
      const moved = parseRequest({ method: 'POST', uri: `${s.uri}x`, authorization: s.authorization });
      assert.equal(verifySignature(moved, CLIENT_SECRET, TOKEN_SECRET), false);
    });

  test('the base string is oauthlib’s, byte for byte', () => {
    const s = SIGNED[1] as (typeof SIGNED)[number];
    const request = parseRequest({ method: 'POST', uri: s.uri, authorization: s.authorization });
    assert.equal(
      signatureBaseString('POST', s.uri, request.params),
      'POST&https%3A%2F%2Fidentity.test%3A5000%2Fv3%2Fauth%2Ftokens&a%3Db%2520c%26nocatalog%3D%26oauth_consumer_key%3D0123456789abcdef0123456789abcdef%26oauth_nonce%3D1234567890%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1700000000%26oauth_token%3Dfedcba9876543210fedcba9876543210%26oauth_verifier%3Dabcdefgh%26oauth_version%3D1.0%26z%3D%25E2%259C%2593',
    );
  });

  test('base string URIs: lowercase host, no default port, no query', () => {
    assert.equal(baseStringUri('HTTP://Example.COM:80/a%20b?x=1'), 'http://example.com/a%20b');
    assert.equal(baseStringUri('https://example.com:443'), 'https://example.com/');
    assert.equal(baseStringUri('https://example.com:8443/v3'), 'https://example.com:8443/v3');
  });

  test("oauthlib's refusals: duplicates, two sources, stale or malformed timestamps, bad keys", () => {
    const refuse = (uri: string, authorization: string | undefined, now: number, pattern: RegExp) =>
      assert.throws(
        () => checkMandatory(parseRequest({ method: 'POST', uri, authorization }), now),
        (err: unknown) => err instanceof OAuthError && pattern.test(err.description),
      );
    const good = SIGNED[0]?.authorization as string;
    const uri = 'http://identity.test/v3/auth/tokens';
    refuse(uri, good, 1_700_000_000 + 601, /Timestamp given is invalid/);
    refuse(uri, good.replace('1700000000', '170000000'), 1_700_000_000, /Invalid timestamp size/);
    refuse(uri, good.replace('1700000000', '17000000x0'), 1_700_000_000, /must be an integer/);
    refuse(uri, good.replace('0123456789abcdef0123456789abcdef', 'NOTHEX'), 1_700_000_000, /client key/);
    refuse(uri, good.replace('"1234567890"', '"nonce!"'), 1_700_000_000, /nonce/);
    refuse(uri, good.replace('HMAC-SHA1', 'PLAINTEXT'), 1_700_000_000, /Invalid signature, PLAINTEXT/);
    refuse(uri, good.replace('oauth_version="1.0"', 'oauth_version="2.0"'), 1_700_000_000, /version/);
    refuse(`${uri}?oauth_nonce=1`, good, 1_700_000_000, /only 1 signature type/);
    refuse(`${uri}?oauth_nonce=1&oauth_nonce=2`, undefined, 1_700_000_000, /Duplicate/);
    refuse(uri, undefined, 1_700_000_000, /Missing mandatory/);
    refuse(uri, 'Basic dXNlcjpwYXNz', 1_700_000_000, /Malformed authorization header/);
    refuse(`${uri}?a=<b>`, good, 1_700_000_000, /non urlencoded/);
  });

  test('Authorization headers as urllib parses them: quoted commas kept, malformed ones refused', () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth a="x,y", b=c'), [
      ['a', 'x,y'],
      ['b', 'c'],
    ]);
    assert.equal(parseAuthorizationHeader('OAuth a'), null);
    assert.equal(parseAuthorizationHeader('OAuth a='), null);
    assert.equal(parseAuthorizationHeader('Bearer x'), null);
  });
});
