/** The identity service's configuration: the README's table agrees with the declarations. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { declarations } from '../src/config.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test("the root README's identity table lists every variable with its declared default, and no other", () => {
  const block = readme.slice(
    readme.indexOf('<!-- identity-config:start -->'),
    readme.indexOf('<!-- identity-config:end -->'),
  );
  assert.ok(block.length > 0, 'the README has the identity-config markers');
  const rows = [...block.matchAll(/^\|\s*`([A-Z][A-Z0-9_]+)`\s*\|\s*(?:`([^`]*)`|—)\s*\|/gm)].map((m) => [
    m[1],
    m[2] ?? null,
  ]);
  assert.deepEqual(
    rows,
    declarations.map((d) => [d.name, d.default]),
  );
});
