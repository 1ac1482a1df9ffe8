/**
 * The mapping engine (src/federation/engine.ts) and the mapping schema (src/federation/schema.ts)
 * against Keystone 22's own: every mapping of Keystone's mapping_fixtures.py checked by the
 * schema (the same message), and every valid one run over every assertion there, the same mapped
 * properties or the same error (fixtures/keystone-mapping-cases.json, written by
 * scripts/keystone-mapping-cases.py from Keystone's RuleProcessor). Then the rule semantics one
 * by one, on small cases.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { IdentityError } from '../src/errors.js';
import { literalList, NO_IDENTITY_VALUES, type Rule, RuleProcessor } from '../src/federation/engine.js';
import { mappingErrors } from '../src/federation/schema.js';

interface Fixtures {
  mappings: Record<string, { rules: Rule[] }>;
  schema: Record<string, string>;
  assertions: Record<string, Record<string, unknown>>;
  cases: Array<{
    mapping: string;
    assertion: string;
    mapped?: Record<string, unknown> & { group_ids: unknown[] };
    error?: { type: string; message: string };
  }>;
}
const fixtures = JSON.parse(
  readFileSync(new URL('../../test/fixtures/keystone-mapping-cases.json', import.meta.url), 'utf8'),
) as Fixtures;

const run = (rules: Rule[], assertion: Record<string, unknown>) =>
  new RuleProcessor('m', rules).process(assertion);
const sortedIds = <T extends { group_ids: unknown[] }>(m: T) => ({
  ...m,
  group_ids: [...m.group_ids].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0)),
});

describe('against Keystone 22’s RuleProcessor and schema, on Keystone’s own fixtures', () => {
  test('every fixture mapping: the schema’s verdict and message', () => {
    const names = Object.keys(fixtures.schema);
    assert.ok(names.length > 40);
    for (const name of names)
      assert.equal(
        mappingErrors(fixtures.mappings[name])
          .map((m) => `${m}\n`)
          .join(''),
        fixtures.schema[name],
        name,
      );
  });

  test('every valid mapping over every assertion: the same mapped properties or error', () => {
    assert.ok(fixtures.cases.filter((c) => c.mapped).length > 100);
    const mismatches: string[] = [];
    for (const c of fixtures.cases) {
      const rules = (fixtures.mappings[c.mapping] as { rules: Rule[] }).rules;
      const assertion = fixtures.assertions[c.assertion] as Record<string, unknown>;
      let outcome: unknown;
      try {
        outcome = { mapped: sortedIds(run(structuredClone(rules), assertion)) };
      } catch (err) {
        outcome = { error: err instanceof IdentityError ? err.message : String(err) };
      }
      const expected = c.mapped ? { mapped: c.mapped } : { error: c.error?.message };
      try {
        assert.deepEqual(outcome, expected);
      } catch {
        mismatches.push(
          `${c.mapping} × ${c.assertion}: ${JSON.stringify(outcome)} ≠ ${JSON.stringify(expected)}`,
        );
      }
    }
    assert.deepEqual(mismatches, []);
  });
});

describe('rule semantics', () => {
  const user = { user: { name: '{0}' } };
  test('a plain requirement maps the value; a missing attribute skips the rule; nothing mapped is 400', () => {
    assert.deepEqual(run([{ local: [user], remote: [{ type: 'UID' }] }], { UID: 'bob' }), {
      user: { name: 'bob', type: 'ephemeral' },
      group_ids: [],
      group_names: [],
      projects: [],
    });
    assert.throws(
      () => run([{ local: [user], remote: [{ type: 'UID' }] }], { OTHER: 'x' }),
      (e: IdentityError) => e.status === 400 && e.message === NO_IDENTITY_VALUES,
    );
  });

  test('any_one_of and not_any_of decide, plain or by regex', () => {
    const rule = (remote: Rule['remote']) => [{ local: [{ user: { name: 'u' } }], remote }];
    const applies = (rules: Rule[], assertion: Record<string, string>) => {
      try {
        run(rules, assertion);
        return true;
      } catch {
        return false;
      }
    };
    assert.equal(applies(rule([{ type: 'ROLE', any_one_of: ['staff'] }]), { ROLE: 'guest;staff' }), true);
    assert.equal(applies(rule([{ type: 'ROLE', any_one_of: ['staff'] }]), { ROLE: 'guest' }), false);
    assert.equal(applies(rule([{ type: 'ROLE', not_any_of: ['guest'] }]), { ROLE: 'guest;staff' }), false);
    assert.equal(applies(rule([{ type: 'ROLE', not_any_of: ['guest'] }]), { ROLE: 'staff' }), true);
    assert.equal(
      applies(rule([{ type: 'ROLE', any_one_of: ['^st.*'], regex: true }]), { ROLE: 'staff' }),
      true,
    );
    assert.equal(
      applies(rule([{ type: 'ROLE', not_any_of: ['^g'], regex: true }]), { ROLE: 'guest' }),
      false,
    );
  });

  test('whitelist and blacklist filter the values a group_ids or groups local reads', () => {
    const groups = (remote: Rule['remote']) =>
      run([{ local: [user, { groups: '{1}', domain: { id: 'd' } }], remote: [{ type: 'UID' }, ...remote] }], {
        UID: 'bob',
        GROUPS: 'a;b;c',
      }).group_names;
    assert.deepEqual(groups([{ type: 'GROUPS', whitelist: ['a', 'c', 'z'] }]), [
      { name: 'a', domain: { id: 'd' } },
      { name: 'c', domain: { id: 'd' } },
    ]);
    assert.deepEqual(groups([{ type: 'GROUPS', blacklist: ['a', 'c'] }]), [
      { name: 'b', domain: { id: 'd' } },
    ]);
    assert.deepEqual(groups([{ type: 'GROUPS', blacklist: ['^[ab]$'], regex: true }]), [
      { name: 'c', domain: { id: 'd' } },
    ]);
  });

  test('a {N} with no remote match is Keystone’s DirectMappingError', () => {
    assert.throws(
      () => run([{ local: [{ user: { name: '{1}' } }], remote: [{ type: 'UID' }] }], { UID: 'bob' }),
      (e: IdentityError) =>
        e.status === 500 &&
        /Local section in mapping m refers to a remote match that doesn't exist/.test(e.detail ?? ''),
    );
  });

  test('user type local, groups by id and by name, group_ids list, projects with roles', () => {
    const mapped = run(
      [
        {
          local: [
            { user: { name: '{0}', type: 'local', domain: { name: 'Default' } } },
            { group: { id: 'gid' } },
            { group: { name: 'admins', domain: { id: 'default' } } },
            { group_ids: '{1}' },
            { projects: [{ name: 'p-{0}', roles: [{ name: 'member' }] }] },
          ],
          remote: [{ type: 'UID' }, { type: 'GIDS' }],
        },
      ],
      { UID: 'bob', GIDS: 'g1;g2' },
    );
    assert.deepEqual(mapped, {
      user: { name: 'bob', type: 'local', domain: { name: 'Default' } },
      group_ids: ['gid', 'g1', 'g2'],
      group_names: [{ name: 'admins', domain: { id: 'default' } }],
      projects: [{ name: 'p-bob', roles: [{ name: 'member' }] }],
    });
  });

  test('a list value reads back as Python’s literal_eval does', () => {
    assert.deepEqual(literalList("['a', 'b']"), ['a', 'b']);
    assert.deepEqual(literalList('abc'), ['abc']);
    assert.deepEqual(literalList('123'), ['123']);
    assert.deepEqual(literalList('["x\\\'y", 1]'), ["x'y", 1]);
  });
});
