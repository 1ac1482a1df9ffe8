/**
 * The real `openstack` client through nginx and the gateway (scripts/stack.sh) on OS-FEDERATION:
 * `identity provider create --remote-id`, `mapping create --rules`, `federation protocol create`,
 * `service provider create`, with list, show, set and delete of each.
 * Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openstack } from './osc.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = `${root}/scripts/stack.sh`;
const state = mkdtempSync(join(tmpdir(), 'osc-federation-'));
chmodSync(state, 0o755); // PostgreSQL runs as its own user when the tests run as root
const stack = (...args: string[]) =>
  spawnSync(script, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, GATEHOUSE_STACK_DIR: join(state, 'stack') },
  });

describe('openstack identity provider, mapping, federation protocol and service provider through nginx', {
  skip: existsSync(script) ? false : 'scripts/stack.sh is absent',
}, () => {
  const env: Record<string, string> = {};
  before(() => {
    const started = stack('start', '--protocol', 'fastcgi');
    assert.equal(started.status, 0, started.stderr);
    for (const m of started.stdout.matchAll(/^export (OS_\w+)=(.*)$/gm)) env[m[1] as string] = m[2] as string;
  });
  after(() => {
    stack('stop');
    rmSync(state, { recursive: true, force: true });
  });

  const os = async (...args: string[]) => {
    const r = await openstack(env, ...args);
    assert.equal(r.status, 0, `openstack ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const json = async (...args: string[]) => JSON.parse(await os(...args, '-f', 'json'));

  test('providers, mappings, protocols and service providers made, changed and removed with the client', async () => {
    const idp = await json(
      'identity',
      'provider',
      'create',
      '--remote-id',
      'https://idp.example/saml',
      '--description',
      'Example IdP',
      '--enable',
      'example',
    );
    assert.equal(idp.id, 'example');
    assert.deepEqual(idp.remote_ids, ['https://idp.example/saml']);
    assert.equal(idp.enabled, true);
    // Its own domain was made for it.
    assert.match(
      (await json('domain', 'show', idp.domain_id)).description,
      /^Auto generated federated domain for Identity Provider: example$/,
    );
    // A second provider cannot claim the same remote id: Keystone's 409.
    const taken = await openstack(
      env,
      'identity',
      'provider',
      'create',
      '--remote-id',
      'https://idp.example/saml',
      'copy',
    );
    assert.notEqual(taken.status, 0);
    assert.match(taken.stderr, /Duplicate remote ID: https:\/\/idp\.example\/saml.*HTTP 409/);

    const rules = join(state, 'rules.json');
    writeFileSync(
      rules,
      JSON.stringify([
        {
          local: [{ user: { name: '{0}' } }, { group: { name: 'federated', domain: { id: 'default' } } }],
          remote: [{ type: 'REMOTE_USER' }],
        },
      ]),
    );
    const mapping = await json('mapping', 'create', '--rules', rules, 'example-mapping');
    assert.equal(mapping.id, 'example-mapping');
    const bad = join(state, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ local: [], remote: [] }]));
    const refused = await openstack(env, 'mapping', 'create', '--rules', bad, 'bad-mapping');
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /\[\] is too short.*HTTP 400/s);

    const protocol = await json(
      'federation',
      'protocol',
      'create',
      '--identity-provider',
      'example',
      '--mapping',
      'example-mapping',
      'saml2',
    );
    assert.equal(protocol.mapping, 'example-mapping');
    const protocols = await json('federation', 'protocol', 'list', '--identity-provider', 'example');
    assert.deepEqual(
      protocols.map((p: { id: string }) => p.id),
      ['saml2'],
    );

    const sp = await json(
      'service',
      'provider',
      'create',
      '--auth-url',
      'https://sp.example/v3/OS-FEDERATION/identity_providers/example/protocols/saml2/auth',
      '--service-provider-url',
      'https://sp.example/Shibboleth.sso/SAML2/ECP',
      '--enable',
      'sp-example',
    );
    assert.equal(sp.relay_state_prefix, 'ss:mem:');
    assert.deepEqual(
      (await json('service', 'provider', 'list')).map((s: { ID: string }) => s.ID),
      ['sp-example'],
    );
    await os(
      'identity',
      'provider',
      'set',
      '--disable',
      '--remote-id',
      'https://idp.example/other',
      'example',
    );
    const shown = await json('identity', 'provider', 'show', 'example');
    assert.equal(shown.enabled, false);
    assert.deepEqual(shown.remote_ids, ['https://idp.example/other']);
    assert.ok((await json('identity', 'provider', 'list')).some((i: { ID: string }) => i.ID === 'example'));

    await os('mapping', 'set', '--rules', rules, 'example-mapping');
    assert.ok((await json('mapping', 'list')).some((m: { ID: string }) => m.ID === 'example-mapping'));
    await os('service', 'provider', 'set', '--disable', 'sp-example');
    assert.equal((await json('service', 'provider', 'show', 'sp-example')).enabled, false);

    // The client's `federation protocol set` returns its table where cliff wants an exit code,
    // so it exits 1 after a successful PATCH (against Keystone as well): the change is checked.
    await os('mapping', 'create', '--rules', rules, 'second-mapping');
    await openstack(
      env,
      'federation',
      'protocol',
      'set',
      '--identity-provider',
      'example',
      '--mapping',
      'second-mapping',
      'saml2',
    );
    assert.equal(
      (await json('federation', 'protocol', 'show', '--identity-provider', 'example', 'saml2')).mapping,
      'second-mapping',
    );
    await os('federation', 'protocol', 'delete', '--identity-provider', 'example', 'saml2');
    assert.deepEqual(await json('federation', 'protocol', 'list', '--identity-provider', 'example'), []);
    await os('identity', 'provider', 'delete', 'example');
    await os('mapping', 'delete', 'example-mapping', 'second-mapping');
    await os('service', 'provider', 'delete', 'sp-example');
    const gone = await openstack(env, 'identity', 'provider', 'show', 'example');
    assert.notEqual(gone.status, 0);
    assert.deepEqual(await json('service', 'provider', 'list'), []);
  });
});
