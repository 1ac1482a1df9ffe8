/**
 * Requests signed by botocore (app/test/aws-sign.py, run with Debian's python3-botocore): the
 * body keystonemiddleware's ec2token or s3token would post to Keystone for them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json } from './api.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** MODE: ec2-v4, ec2-v4-query, ec2-v2, s3-v1 or s3-v4 (see aws-sign.py). */
export function signed(mode: string, access: string, secret: string, host = '127.0.0.1:8773'): Json {
  const out = spawnSync(
    '/usr/bin/python3',
    [join(root, 'app/test/aws-sign.py'), mode, access, secret, host],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(out.status, 0, out.stderr);
  return JSON.parse(out.stdout);
}
