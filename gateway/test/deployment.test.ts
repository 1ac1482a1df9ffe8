/**
 * The deployment files agree with the configuration declarations (STYLE.md rule 9): .env.example
 * lists every variable with its declared default, docker-compose.yml passes each one on with that
 * same default, and the nginx image gives the server template every variable it uses.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { declarations as gatewayDeclarations } from '../src/config.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface Declared {
  readonly name: string;
  readonly default: string | null;
  readonly kind: string;
  /** What the containers use instead of the default (see gateway/src/config.ts). */
  readonly container?: string;
}
// The identity app's declarations, from its build (the gateway's default app).
const { declarations: appDeclarations } = (await import(new URL('app/dist/src/config.js', root).href)) as {
  declarations: readonly Declared[];
};

/** `NAME=value` lines of .env.example; `# NAME=` (commented out) means no default. */
function envExample(): Map<string, string | null> {
  const vars = new Map<string, string | null>();
  for (const line of read('.env.example').split('\n')) {
    const match = /^(# )?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, commented, name, value] = match as unknown as [string, string | undefined, string, string];
    assert.ok(!vars.has(name), `${name} is listed twice in .env.example`);
    if (commented) assert.equal(value, '', `${name}: a commented-out line carries no value`);
    vars.set(name, commented ? null : value);
  }
  return vars;
}

/** Every `${NAME:-default}` / `${NAME-default}` in docker-compose.yml, with its one default. */
function composeVariables(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const m of read('docker-compose.yml').matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)(:?-)([^}]*)\}/g)) {
    const [, name, , value] = m as unknown as [string, string, string, string];
    const seen = vars.get(name);
    assert.ok(seen === undefined || seen === value, `${name} has two defaults in docker-compose.yml`);
    vars.set(name, value);
  }
  return vars;
}

describe('deployment files', () => {
  const env = envExample();
  const compose = composeVariables();

  for (const [owner, declarations] of [
    ['gateway', gatewayDeclarations],
    ['identity app', appDeclarations],
  ] as const) {
    test(`.env.example and docker-compose.yml carry every ${owner} variable with its declared (container) default`, () => {
      for (const d of declarations as readonly Declared[]) {
        const expected = d.container ?? d.default;
        assert.ok(env.has(d.name), `${d.name} is missing from .env.example`);
        assert.equal(env.get(d.name), expected, `${d.name}: .env.example's default differs`);
        assert.ok(compose.has(d.name), `${d.name} is not passed on by docker-compose.yml`);
        assert.equal(compose.get(d.name), expected ?? '', `${d.name}: docker-compose.yml's default differs`);
      }
    });
  }

  test('the gateway image sets each declared container value itself (no compose file needed)', () => {
    const dockerfile = read('Dockerfile');
    const overrides = (gatewayDeclarations as readonly Declared[]).filter((d) => d.container !== undefined);
    assert.ok(overrides.length > 0);
    for (const d of overrides)
      assert.match(dockerfile, new RegExp(`^\\s*(?:ENV\\s+)?${d.name}=${d.container}\\b`, 'm'), d.name);
  });

  test('every secret of the identity app also reaches the containers as *_FILE', () => {
    for (const d of appDeclarations.filter((d) => d.kind === 'secret')) {
      assert.ok(compose.has(`${d.name}_FILE`), `${d.name}_FILE is not passed on by docker-compose.yml`);
      assert.ok(env.has(`${d.name}_FILE`), `${d.name}_FILE is missing from .env.example`);
    }
  });

  test('.env.example lists exactly the variables docker-compose.yml reads, with the same defaults', () => {
    assert.deepEqual([...env.keys()].sort(), [...compose.keys()].sort());
    for (const [name, value] of env) assert.equal(compose.get(name), value ?? '', `${name}: defaults differ`);
  });

  test('the nginx image sets every variable of the server template (envsubst leaves unset ones as they are)', () => {
    const template = read('nginx/templates/gatehouse.conf.template');
    const used = new Set([...template.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1] as string));
    const dockerfile = read('nginx/Dockerfile');
    const set = new Set([...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]*)=\S+/gm)].map((m) => m[1]));
    assert.ok(used.size > 0);
    for (const name of used) assert.ok(set.has(name), `nginx/Dockerfile does not set ${name}`);
  });
});
