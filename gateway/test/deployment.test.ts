/**
 * The deployment files agree with the configuration declarations (STYLE.md rule 9): .env.example
 * lists every variable with its declared default, docker-compose.yml passes each one on with that
 * same default, and the nginx image gives the server templates every variable they use.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
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

  test('the nginx image sets every variable of the server templates (envsubst leaves unset ones as they are)', () => {
    const names = readdirSync(new URL('nginx/templates/', root)).filter((n) => n.endsWith('.template'));
    assert.ok(names.length >= 2, names.join());
    const template = names.map((name) => read(`nginx/templates/${name}`)).join('\n');
    const used = new Set([...template.matchAll(/\$\{([A-Z][A-Z0-9_]*)\}/g)].map((m) => m[1] as string));
    const dockerfile = read('nginx/Dockerfile');
    const set = new Set([...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]*)=\S+/gm)].map((m) => m[1]));
    assert.ok(used.size > 0);
    for (const name of used) assert.ok(set.has(name), `nginx/Dockerfile does not set ${name}`);
  });
});

interface Service {
  environment?: Record<string, string>;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  volumes?: string[];
  user?: string;
}

describe('deployment hardening', () => {
  // The compose file as Compose reads it: anchors and merge keys resolved.
  const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
  const { services } = compose;

  test('attack: a compromised gateway container reads the superuser password or the admin password', () => {
    const env = services.gateway?.environment ?? {};
    for (const name of [
      'PGPASSWORD',
      'POSTGRES_PASSWORD',
      'POSTGRES_PASSWORD_FILE',
      'IDENTITY_ADMIN_PASSWORD',
      'IDENTITY_ADMIN_PASSWORD_FILE',
    ])
      assert.equal(env[name], undefined, `the gateway gets ${name}`);
    // It connects as the app's role, whose password the setup writes to a volume it mounts read-only.
    assert.equal(env.PGUSER, `\${POSTGRES_APP_USER:-gatehouse_app}`);
    assert.equal(env.PGPASSWORD_FILE, '/var/lib/gatehouse-db/password');
    assert.ok(services.gateway?.volumes?.includes('db-credentials:/var/lib/gatehouse-db:ro'));
    assert.ok(
      !services.gateway?.volumes?.some((v) => v.startsWith('setup-state:')),
      'the admin password volume',
    );
    // The setup is the one that has them.
    const setup = services.migrate?.environment ?? {};
    assert.equal(setup.PGUSER, `\${POSTGRES_USER:-gatehouse}`);
    assert.ok('IDENTITY_ADMIN_PASSWORD' in setup && 'POSTGRES_APP_USER' in setup);
  });

  test('attack: a process in any container gains a capability (setuid binary, file capability, raw sockets)', () => {
    // Only what each entry point needs to start as root and drop to its user.
    const needs: Record<string, string[]> = {
      nginx: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'],
      gateway: [],
      migrate: [],
      db: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
    };
    assert.deepEqual(Object.keys(services).sort(), Object.keys(needs).sort());
    for (const [name, service] of Object.entries(services)) {
      assert.deepEqual(service.cap_drop, ['ALL'], `${name}: cap_drop`);
      assert.deepEqual([...(service.cap_add ?? [])].sort(), needs[name], `${name}: cap_add`);
      assert.ok(service.security_opt?.includes('no-new-privileges:true'), `${name}: no-new-privileges`);
    }
  });

  test('attack: a 16 MiB body is buffered by nginx for an app that refuses anything over its limit', () => {
    const limit = appDeclarations.find((d) => d.name === 'IDENTITY_MAX_REQUEST_BODY_SIZE')?.default;
    assert.ok(limit);
    const template = read('nginx/templates/gatehouse.conf.template');
    assert.match(template, /^\s*client_max_body_size \$\{NGINX_CLIENT_MAX_BODY_SIZE\};$/m);
    assert.doesNotMatch(template, /client_max_body_size (?!\$\{NGINX_CLIENT_MAX_BODY_SIZE\})/);
    // The image's default, compose and the native stack all take the app's limit.
    assert.match(read('nginx/Dockerfile'), new RegExp(`NGINX_CLIENT_MAX_BODY_SIZE=${limit}\\b`));
    assert.equal(
      services.nginx?.environment?.NGINX_CLIENT_MAX_BODY_SIZE,
      `\${IDENTITY_MAX_REQUEST_BODY_SIZE:-${limit}}`,
    );
    assert.match(
      read('scripts/stack.sh'),
      new RegExp(`NGINX_CLIENT_MAX_BODY_SIZE="\\$\\{IDENTITY_MAX_REQUEST_BODY_SIZE:-${limit}\\}"`),
    );
  });
});
