/**
 * The real `openstack` client through nginx and the gateway (scripts/stack.sh) on OS-FEDERATION:
 * `identity provider create --remote-id`, `mapping create --rules`, `federation protocol create`,
 * `service provider create`, with list, show, set and delete of each.
 * Skipped when scripts/stack.sh is absent.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openstack, oscStack } from './osc.js';

describe('openstack identity provider, mapping, federation protocol and service provider through nginx', () => {
  const s = oscStack('osc-federation', '--protocol', 'fastcgi');

  const os = s.run;
  const json = s.json;

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
      s.admin,
      'identity',
      'provider',
      'create',
      '--remote-id',
      'https://idp.example/saml',
      'copy',
    );
    assert.notEqual(taken.status, 0);
    assert.match(taken.stderr, /Duplicate remote ID: https:\/\/idp\.example\/saml.*HTTP 409/);

    const rules = join(s.dir, 'rules.json');
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
    const bad = join(s.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify([{ local: [], remote: [] }]));
    const refused = await openstack(s.admin, 'mapping', 'create', '--rules', bad, 'bad-mapping');
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
      s.admin,
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
    const gone = await openstack(s.admin, 'identity', 'provider', 'show', 'example');
    assert.notEqual(gone.status, 0);
    assert.deepEqual(await json('service', 'provider', 'list'), []);
  });
});
