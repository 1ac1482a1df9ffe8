/**
 * The real clients through nginx and the gateway (scripts/stack.sh) on OS-EC2: `openstack ec2
 * credentials create/list/show/delete`, then requests botocore signed with the key pair (SigV4 in
 * the header and in the query, SigV2; S3's HmacV1 and SigV4) posted as keystonemiddleware's
 * ec2token and s3token post them, accepted by /v3/ec2tokens and /v3/s3tokens; the same request
 * with one byte changed, 401. Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Json } from './api.js';
import { signed } from './ec2-sign.js';
import { openstack, oscStack } from './osc.js';

describe('openstack ec2 credentials and botocore-signed requests through nginx', () => {
  const s = oscStack('osc-ec2', '--protocol', 'fastcgi');

  const os = s.run;
  const json = s.json;
  const post = (path: string, body: unknown, token: string) =>
    fetch(`${s.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-auth-token': token },
      body: JSON.stringify(body),
    });

  test('key pairs made with the client sign requests the token endpoints accept', async () => {
    const created = await json('ec2', 'credentials', 'create');
    assert.match(created.access, /^[0-9a-f]{32}$/);
    assert.match(created.secret, /^[0-9a-f]{32}$/);
    const listed = await json('ec2', 'credentials', 'list');
    assert.ok(listed.some((c: Json) => c.Access === created.access && c.Secret === created.secret));
    const shown = await json('ec2', 'credentials', 'show', created.access);
    assert.equal(shown.secret, created.secret);
    assert.equal(shown.project_id, created.project_id);

    const admin = (await os('token', 'issue', '-f', 'value', '-c', 'id')).trim();
    for (const mode of ['ec2-v4', 'ec2-v4-query', 'ec2-v2']) {
      const res = await post('/v3/ec2tokens', signed(mode, created.access, created.secret), admin);
      const text = await res.text();
      assert.equal(res.status, 200, `${mode}: ${text}`);
      const body = JSON.parse(text) as Json;
      assert.deepEqual(body.token.methods, ['ec2credential']);
      assert.equal(body.token.project.id, created.project_id);
      const subject = res.headers.get('x-subject-token') as string;
      // The token is good for the service that asked: it validates through the front door.
      const check = await fetch(`${s.url}/v3/auth/tokens`, {
        headers: { 'x-auth-token': admin, 'x-subject-token': subject },
      });
      assert.equal(check.status, 200);
    }
    for (const mode of ['s3-v1', 's3-v4']) {
      const res = await post('/v3/s3tokens', signed(mode, created.access, created.secret), admin);
      const text = await res.text();
      assert.equal(res.status, 200, `${mode}: ${text}`);
      assert.equal((JSON.parse(text) as Json).token.user.id, created.user_id);
    }

    // The same botocore-signed request with one byte of what was signed changed: refused.
    const body = signed('ec2-v4', created.access, created.secret);
    const c = body.ec2Credentials;
    const changed = { ec2Credentials: { ...c, path: '/.' } };
    const refused = await post('/v3/ec2tokens', changed, admin);
    assert.equal(refused.status, 401);
    assert.deepEqual(await refused.json(), {
      error: {
        code: 401,
        title: 'Unauthorized',
        message: 'The request you have made requires authentication.',
      },
    });
    const s3 = signed('s3-v1', created.access, created.secret).credentials;
    const flipped = Buffer.from(s3.token, 'base64url');
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] as number) ^ 1;
    const s3Refused = await post(
      '/v3/s3tokens',
      { credentials: { ...s3, token: flipped.toString('base64url') } },
      admin,
    );
    assert.equal(s3Refused.status, 401);
    const wrongSecret = await post('/v3/ec2tokens', signed('ec2-v4', created.access, created.access), admin);
    assert.equal(wrongSecret.status, 401);

    await os('ec2', 'credentials', 'delete', created.access);
    const after = await openstack(s.admin, 'ec2', 'credentials', 'show', created.access);
    assert.notEqual(after.status, 0);
    assert.match(after.stderr, /Could not find credential/);
    // A deleted key signs nothing any more.
    assert.equal((await post('/v3/ec2tokens', body, admin)).status, 404);
  });
});
