/**
 * `manage mapping-engine` against keystone-manage mapping_engine: the same stdout for the same
 * rules and assertion (recorded from Keystone 22's keystone-manage, and compared live when
 * keystone-manage is installed), the debug listing in Keystone's order and words, and the
 * refusals (a rule that breaks the schema, an assertion line without a colon).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const manage = fileURLToPath(new URL('../src/manage.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mapping-engine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
// A whitelist keeping one value: Keystone's own output does not depend on Python's set order.
const rules = write(
  'rules.json',
  JSON.stringify([
    {
      local: [{ user: { name: '{0}', email: '{1}' } }, { groups: '{2}', domain: { name: 'Default' } }],
      remote: [{ type: 'LOGIN' }, { type: 'EMAIL' }, { type: 'GROUPS', whitelist: ['g1', 'g9'] }],
    },
  ]),
);
const input = write('input.txt', 'LOGIN: me\nEMAIL: me@example.com\nGROUPS: g1;g2;g3\nÜBER: ä\n');

/** keystone-manage mapping_engine's stdout for these files (Keystone 22.0.2). */
const KEYSTONE_OUTPUT = `{
  "user": {
    "name": "me",
    "email": "me@example.com",
    "type": "ephemeral"
  },
  "group_ids": [],
  "group_names": [
    {
      "name": "g1",
      "domain": {
        "name": "Default"
      }
    }
  ],
  "projects": []
}
`;

const run = (...args: string[]) =>
  spawnSync(process.execPath, [manage, 'mapping-engine', ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH },
  });

test('the mapped properties, printed as keystone-manage prints them', () => {
  const r = run('--rules', rules, '--input', input);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, KEYSTONE_OUTPUT);
});

test('--engine-debug: the rules, the assertion (non-ASCII escaped), the engine’s steps, the result', () => {
  const r = run('--rules', rules, '--input', input, '--engine-debug');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('Using Rules:\n{\n  "rules": [\n'));
  assert.match(
    r.stdout,
    /Using Assertion:\n\{\n {2}"LOGIN": "me",\n {2}"EMAIL": "me@example.com",\n {2}"GROUPS": "g1;g2;g3",\n {2}"\\u00dcBER": "\\u00e4"\n\}\n/,
  );
  const steps = [...r.stdout.matchAll(/DEBUG keystone\.federation\.utils \[-\] (\w[\w ]*): /g)].map(
    (m) => m[1],
  );
  assert.deepEqual(steps, [
    'assertion data',
    'assertion',
    'rules',
    'updating a direct mapping',
    'updating a direct mapping',
    'updating a direct mapping',
    ...Array(4).fill(['direct_maps', 'local']).flat(),
    'identity_values',
    'mapped_properties',
  ]);
  assert.ok(r.stdout.endsWith(KEYSTONE_OUTPUT));
});

test('a rule that breaks Keystone’s schema, or a line that is not key: value, is refused', () => {
  const bad = write('bad.json', JSON.stringify({ rules: [{ local: [], remote: [] }] }));
  const refused = run('--rules', bad, '--input', input);
  assert.equal(refused.status, 1);
  assert.equal(refused.stderr, '[] is too short\n');
  const noColon = write('nocolon.txt', 'LOGIN me\n');
  const r = run('--rules', rules, '--input', noColon);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `assertion file ${noColon} at line 1 expected 'key: value' but found 'LOGIN me' see help for file format\n`,
  );
});

test('the same stdout as the installed keystone-manage', {
  skip: !existsSync('/usr/bin/keystone-manage') && 'keystone-manage is not installed',
}, () => {
  const conf = write('keystone.conf', '');
  const keystone = spawnSync(
    '/usr/bin/keystone-manage',
    ['--config-file', conf, 'mapping_engine', '--rules', rules, '--input', input],
    { encoding: 'utf8' },
  );
  assert.equal(keystone.status, 0, keystone.stderr);
  assert.equal(run('--rules', rules, '--input', input).stdout, keystone.stdout);
});
