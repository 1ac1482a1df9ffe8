/**
 * OS-OAUTH1 with real clients through nginx and the gateway (scripts/stack.sh): `openstack
 * consumer create/list/show/set/delete`, then the whole OAuth1 flow signed by oauthlib
 * (python3-oauthlib, as keystoneclient's v3 oauth1 code signs): a request token, its
 * authorization, the access token, a login with it, and the login refused once the access token
 * is deleted. Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { openstack, oscStack } from './osc.js';

/** The consumer's side, as keystoneclient.v3.contrib.oauth1 does it with oauthlib. */
const FLOW = String.raw`
import json, os, ssl, sys, urllib.error, urllib.request
from oauthlib import oauth1

base = os.environ['OS_AUTH_URL'].rstrip('/')
context = ssl.create_default_context(cafile=os.environ.get('OS_CACERT') or None)
key, secret = sys.argv[1], sys.argv[2]

def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(req, context=context) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()

out = {}
s, h, b = call('POST', '/auth/tokens', {'auth': {
    'identity': {'methods': ['password'], 'password': {'user': {
        'name': os.environ['OS_USERNAME'], 'domain': {'name': 'Default'},
        'password': os.environ['OS_PASSWORD']}}},
    'scope': {'project': {'name': 'admin', 'domain': {'name': 'Default'}}}}})
admin = h['X-Subject-Token']
project = json.loads(b)['token']['project']['id']
user = json.loads(b)['token']['user']['id']

client = oauth1.Client(key, client_secret=secret, signature_method=oauth1.SIGNATURE_HMAC,
                       callback_uri='oob')
_, headers, _ = client.sign(base + '/OS-OAUTH1/request_token', http_method='POST')
headers['Requested-Project-Id'] = project
s, h, b = call('POST', '/OS-OAUTH1/request_token', headers=headers)
out['request_token'] = [s, h.get('Content-Type')]
request = dict(kv.split('=', 1) for kv in b.split('&'))

s, h, b = call('GET', '/roles?name=member', headers={'X-Auth-Token': admin})
member = json.loads(b)['roles'][0]['id']
s, h, b = call('PUT', '/OS-OAUTH1/authorize/' + request['oauth_token'],
               {'roles': [{'id': member}]}, {'X-Auth-Token': admin})
out['authorize'] = s
verifier = json.loads(b)['token']['oauth_verifier']

client = oauth1.Client(key, client_secret=secret, resource_owner_key=request['oauth_token'],
                       resource_owner_secret=request['oauth_token_secret'],
                       signature_method=oauth1.SIGNATURE_HMAC, verifier=verifier)
_, headers, _ = client.sign(base + '/OS-OAUTH1/access_token', http_method='POST')
s, h, b = call('POST', '/OS-OAUTH1/access_token', headers=headers)
out['access_token'] = s
access = dict(kv.split('=', 1) for kv in b.split('&'))
# The request token was used: a second exchange is refused.
_, headers, _ = client.sign(base + '/OS-OAUTH1/access_token', http_method='POST')
out['reused'] = call('POST', '/OS-OAUTH1/access_token', headers=headers)[0]

def login(token_secret):
    c = oauth1.Client(key, client_secret=secret, resource_owner_key=access['oauth_token'],
                      resource_owner_secret=token_secret, signature_method=oauth1.SIGNATURE_HMAC)
    _, headers, _ = c.sign(base + '/auth/tokens', http_method='POST')
    return call('POST', '/auth/tokens',
                {'auth': {'identity': {'methods': ['oauth1'], 'oauth1': {}}}}, headers)

s, h, b = login(access['oauth_token_secret'])
out['login'] = s
token = json.loads(b)['token']
out['token'] = {k: token[k] for k in ('methods', 'OS-OAUTH1')}
out['token']['project'] = token['project']['id'] == project
out['token']['roles'] = sorted(r['name'] for r in token['roles'])
out['tampered'] = login('0' * 32)[0]
subject = h['X-Subject-Token']
out['validate'] = call('GET', '/auth/tokens', headers={'X-Auth-Token': admin, 'X-Subject-Token': subject})[0]
out['delete'] = call('DELETE', '/users/%s/OS-OAUTH1/access_tokens/%s' % (user, access['oauth_token']),
                     headers={'X-Auth-Token': admin})[0]
out['validate_after'] = call('GET', '/auth/tokens',
                             headers={'X-Auth-Token': admin, 'X-Subject-Token': subject})[0]
out['login_after'] = login(access['oauth_token_secret'])[0]
out['access_token_id'] = access['oauth_token']
print(json.dumps(out))
`;

function python(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', FLOW, ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('OS-OAUTH1 with openstack and oauthlib through nginx', () => {
  const s = oscStack('osc-oauth1', '--protocol', 'fastcgi');

  const os = s.run;
  const json = s.json;

  test('openstack consumer create, list, show, set and delete', async () => {
    const created = await json('consumer', 'create', '--description', 'from osc');
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.match(created.secret, /^[0-9a-f]{32}$/);
    assert.equal(created.description, 'from osc');
    const listed = await json('consumer', 'list');
    assert.ok(listed.some((c: { ID: string }) => c.ID === created.id));
    const shown = await json('consumer', 'show', created.id);
    assert.equal(shown.description, 'from osc');
    assert.equal(shown.secret, undefined);
    await os('consumer', 'set', '--description', 'changed', created.id);
    assert.equal((await json('consumer', 'show', created.id)).description, 'changed');
    await os('consumer', 'delete', created.id);
    const gone = await openstack(s.admin, 'consumer', 'show', created.id);
    assert.notEqual(gone.status, 0);
    assert.match(gone.stderr, /No consumer with a name or ID of/);
  });

  test('the whole flow signed by oauthlib: request token, authorize, access token, login', async () => {
    const consumer = await json('consumer', 'create', '--description', 'oauthlib');
    const r = await python(s.env, consumer.id, consumer.secret);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.request_token, [201, 'application/x-www-form-urlencoded']);
    assert.equal(out.authorize, 200);
    assert.equal(out.access_token, 201);
    assert.equal(out.reused, 404);
    assert.equal(out.login, 201);
    assert.deepEqual(out.token, {
      methods: ['oauth1'],
      'OS-OAUTH1': { access_token_id: out.access_token_id, consumer_id: consumer.id },
      project: true,
      roles: ['member', 'reader'],
    });
    assert.equal(out.tampered, 401);
    assert.equal(out.validate, 200);
    assert.equal(out.delete, 204);
    assert.equal(out.validate_after, 404);
    assert.equal(out.login_after, 404);
    await os('consumer', 'delete', consumer.id);
  });
});
