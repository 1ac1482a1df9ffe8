import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorTable } from '../src/errors.js';

const docs = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every error code is documented in docs/errors.md, and the docs list no other code', () => {
  const documented = new Set([...docs.matchAll(/`(GW_ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]));
  const codes = new Set(Object.keys(errorTable));
  assert.deepEqual(
    [...codes].filter((c) => !documented.has(c)),
    [],
    'codes missing from the docs',
  );
  assert.deepEqual(
    [...documented].filter((c) => !codes.has(c as string)),
    [],
    'documented codes that do not exist',
  );
});
