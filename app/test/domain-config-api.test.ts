/**
 * Domain-specific configuration against real PostgreSQL, as keystone/resource/core.py's
 * DomainConfigManager and keystone/api/domains.py serve it: the groups and options a domain may
 * set, sensitive options stored and never shown, the whole/group/option reads, updates and
 * deletes with Keystone's error texts, the defaults, the security compliance group, and a
 * domain's configuration going with the domain.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { build } from '../src/app.js';
import { client, issue } from './api.js';
import { passwordAuth, type TestDatabase, testDatabase } from './helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let admin: string;
let api: ReturnType<typeof client>;
const call: typeof api.call = (...a) => api.call(...a);
const ok: typeof api.ok = (...a) => api.ok(...a);

before(async () => {
  t = await testDatabase();
  app = await build({ config: t.config, db: t.db });
  api = client(app, () => admin);
  admin = (await issue(app, passwordAuth({ project: { name: 'admin', domain: { id: 'default' } } }))).token;
});
after(async () => {
  await app.close();
  await t.drop();
});

let n = 0;
const newDomain = async () =>
  (await ok('POST', '/v3/domains', { domain: { name: `cfg-${++n}` } }, 201)).domain.id;
const forbidden = (reason: string) => ({
  status: 403,
  body: {
    error: { code: 403, title: 'Forbidden', message: `Invalid domain specific configuration: ${reason}.` },
  },
});
const missing = (what: string, domain: string) => ({
  status: 404,
  body: {
    error: {
      code: 404,
      title: 'Not Found',
      message: `Could not find ${what} in domain configuration for domain ${domain}.`,
    },
  },
});

const custom = {
  identity: { driver: 'ldap' },
  ldap: { url: 'ldap://myldap.com:389/', user_tree_dn: 'ou=Users,dc=my_new_root,dc=org' },
};

describe('a domain configuration', () => {
  test('PUT creates (201), replaces (200); sensitive options are kept but never shown', async () => {
    const d = await newDomain();
    const url = `/v3/domains/${d}/config`;
    assert.deepEqual(
      await call('PUT', url, { config: { ...custom, ldap: { ...custom.ldap, password: 's3cret' } } }),
      {
        status: 201,
        body: { config: custom },
      },
    );
    assert.deepEqual(await ok('GET', url), { config: custom });
    assert.deepEqual(await ok('GET', `${url}/ldap`), { config: { ldap: custom.ldap } });
    assert.deepEqual(await ok('GET', `${url}/ldap/url`), { config: { url: custom.ldap.url } });
    assert.equal((await call('HEAD', `${url}/ldap/url`)).status, 200);
    assert.deepEqual(await call('GET', `${url}/ldap/password`), missing('option password in group ldap', d));
    const stored = await t.db.query(
      'SELECT value, sensitive FROM domain_config WHERE domain_id = $1 AND option = $2',
      [d, 'password'],
    );
    assert.deepEqual(stored.rows, [{ value: 's3cret', sensitive: true }]);

    // A PUT replaces the whole configuration: 200 when one existed.
    assert.deepEqual(await call('PUT', url, { config: { identity: { driver: 'sql', list_limit: 5 } } }), {
      status: 200,
      body: { config: { identity: { driver: 'sql', list_limit: 5 } } },
    });
    assert.deepEqual(await call('GET', `${url}/ldap`), missing('group ldap', d));
    // Only a sensitive option: nothing to show, but it exists, so a new PUT is 200.
    assert.deepEqual(await call('PUT', url, { config: { ldap: { password: 'x' } } }), {
      status: 200,
      body: { config: {} },
    });
    assert.deepEqual(await call('GET', url), missing('any options', d));
    assert.equal((await call('PUT', url, { config: custom })).status, 200);
  });

  test('what may be set: Keystone refusals, word for word', async () => {
    const d = await newDomain();
    const url = `/v3/domains/${d}/config`;
    assert.deepEqual(await call('PUT', url, {}), forbidden('No options specified'));
    assert.deepEqual(await call('PUT', url, { config: {} }), forbidden('No options specified'));
    assert.deepEqual(
      await call('PUT', url, { config: { ldap: {} } }),
      forbidden('The value of group ldap specified in the config should be a dictionary of options'),
    );
    assert.deepEqual(
      await call('PUT', url, { config: { ldap: 'url' } }),
      forbidden('The value of group ldap specified in the config should be a dictionary of options'),
    );
    assert.deepEqual(
      await call('PUT', url, { config: { token: { expiration: 1 } } }),
      forbidden('Group token is not supported for domain specific configurations'),
    );
    assert.deepEqual(
      await call('PUT', url, { config: { ldap: { url: 'x', bogus: 1 } } }),
      forbidden('Option bogus in group ldap is not supported for domain specific configurations'),
    );
    assert.equal((await call('PUT', url, { config: ['identity'] })).status, 400);
    // Nothing was stored by the refused requests.
    assert.deepEqual(await call('GET', url), missing('any options', d));
    assert.deepEqual(
      await call('GET', `${url}/token`),
      forbidden('Group token is not supported for domain specific configurations'),
    );
    assert.deepEqual(
      await call('GET', `${url}/ldap/bogus`),
      forbidden('Option bogus in group ldap is not supported for domain specific configurations'),
    );
    assert.deepEqual(await call('GET', `${url}/ldap/url`), missing('option url in group ldap', d));
    // An unknown domain.
    assert.deepEqual(await call('PUT', '/v3/domains/nope/config', { config: custom }), {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: 'Could not find domain: nope.' } },
    });
    assert.deepEqual(await call('GET', '/v3/domains/nope/config'), missing('any options', 'nope'));
  });

  test('PATCH merges; with a group or option in the path the config must hold just that', async () => {
    const d = await newDomain();
    const url = `/v3/domains/${d}/config`;
    await ok('PUT', url, { config: custom }, 201);
    assert.deepEqual(
      await ok('PATCH', url, { config: { ldap: { url: 'ldap://new' }, identity: { list_limit: 7 } } }),
      {
        config: { identity: { driver: 'ldap', list_limit: 7 }, ldap: { ...custom.ldap, url: 'ldap://new' } },
      },
    );
    assert.deepEqual(
      await ok('PATCH', `${url}/identity`, { config: { identity: { driver: 'x', list_limit: 3 } } }),
      {
        config: { identity: { driver: 'x', list_limit: 3 }, ldap: { ...custom.ldap, url: 'ldap://new' } },
      },
    );
    assert.deepEqual(
      (await ok('PATCH', `${url}/identity/driver`, { config: { driver: 'y' } })).config.identity,
      {
        driver: 'y',
        list_limit: 3,
      },
    );
    assert.deepEqual(
      await call('PATCH', `${url}/identity`, { config: { identity: { driver: 'z' }, ldap: { url: 'u' } } }),
      forbidden(
        'Trying to update group identity, so that, and only that, group must be specified in the config',
      ),
    );
    assert.deepEqual(
      await call('PATCH', `${url}/identity`, { config: { ldap: { url: 'u' } } }),
      forbidden('request to update group identity, but config provided contains group ldap instead'),
    );
    assert.deepEqual(
      await call('PATCH', `${url}/identity/driver`, { config: { driver: 'a', list_limit: 1 } }),
      forbidden(
        'Trying to update option driver in group identity, so that, and only that, option must be specified  in the config',
      ),
    );
    assert.deepEqual(
      await call('PATCH', `${url}/identity/driver`, { config: { list_limit: 1 } }),
      forbidden(
        'Trying to update option driver in group identity, but config provided contains option list_limit instead',
      ),
    );
    assert.deepEqual(
      await call('PATCH', `${url}/ldap/password`, { config: { password: 'p' } }),
      missing('option password in group ldap', d),
    );
    assert.deepEqual(await call('PATCH', url, { config: {} }), forbidden('No options specified'));
    assert.deepEqual(await call('PATCH', '/v3/domains/nope/config', { config: custom }), {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: 'Could not find domain: nope.' } },
    });
    // A sensitive option is set through the whole-config PATCH, then may be updated on its own.
    await ok('PATCH', url, { config: { ldap: { password: 'one' } } });
    await ok('PATCH', `${url}/ldap/password`, { config: { password: 'two' } });
    const stored = await t.db.query('SELECT value FROM domain_config WHERE domain_id = $1 AND option = $2', [
      d,
      'password',
    ]);
    assert.deepEqual(stored.rows, [{ value: 'two' }]);
  });

  test('DELETE of an option, a group, the whole configuration; what is not set is 404', async () => {
    const d = await newDomain();
    const url = `/v3/domains/${d}/config`;
    await ok('PUT', url, { config: { ...custom, ldap: { ...custom.ldap, password: 'p' } } }, 201);
    assert.deepEqual(
      await call('DELETE', `${url}/identity/list_limit`),
      missing('option list_limit in group identity', d),
    );
    assert.deepEqual(await call('DELETE', `${url}/identity/driver`), { status: 204, body: null });
    assert.deepEqual(
      await call('GET', `${url}/identity/driver`),
      missing('option driver in group identity', d),
    );
    assert.deepEqual(await call('DELETE', `${url}/identity`), missing('group identity', d));
    assert.deepEqual(
      await call('DELETE', `${url}/bogus`),
      forbidden('Group bogus is not supported for domain specific configurations'),
    );
    await ok('DELETE', `${url}/ldap/password`, undefined, 204);
    await ok('DELETE', `${url}/ldap`, undefined, 204);
    assert.deepEqual(await call('GET', url), missing('any options', d));
    await ok('PUT', url, { config: custom }, 201);
    await ok('DELETE', url, undefined, 204);
    // Deleting a configuration that is not there is still 204, as in Keystone.
    await ok('DELETE', url, undefined, 204);
    assert.deepEqual(await call('DELETE', '/v3/domains/nope/config'), {
      status: 404,
      body: { error: { code: 404, title: 'Not Found', message: 'Could not find domain: nope.' } },
    });
  });

  test('deleting a domain removes its configuration', async () => {
    const d = await newDomain();
    await ok('PUT', `/v3/domains/${d}/config`, { config: { ...custom, ldap: { password: 'p' } } }, 201);
    await ok('PATCH', `/v3/domains/${d}`, { domain: { enabled: false } });
    await ok('DELETE', `/v3/domains/${d}`, undefined, 204);
    const rows = await t.db.query('SELECT 1 FROM domain_config WHERE domain_id = $1', [d]);
    assert.equal(rows.rowCount, 0);
  });
});

describe('defaults and security compliance', () => {
  test('the defaults of the whitelisted options, by group and option', async () => {
    const all = (await ok('GET', '/v3/domains/config/default')).config;
    assert.deepEqual(Object.keys(all), ['identity', 'ldap']);
    assert.deepEqual(all.identity, { driver: 'sql', list_limit: null });
    assert.equal(Object.keys(all.ldap).length, 49);
    assert.equal('password' in all.ldap, false);
    assert.deepEqual(await ok('GET', '/v3/domains/config/identity/default'), {
      config: { identity: all.identity },
    });
    assert.deepEqual(await ok('GET', '/v3/domains/config/ldap/url/default'), {
      config: { url: 'ldap://localhost' },
    });
    assert.deepEqual(await ok('GET', '/v3/domains/config/ldap/user_attribute_ignore/default'), {
      config: { user_attribute_ignore: ['default_project_id'] },
    });
    assert.deepEqual(
      await call('GET', '/v3/domains/config/ldap/password/default'),
      forbidden('Reading the default for option password in group ldap is not supported'),
    );
    assert.deepEqual(
      await call('GET', '/v3/domains/config/token/default'),
      forbidden('Group token is not supported for domain specific configurations'),
    );
    assert.deepEqual(
      await call('GET', '/v3/domains/config/ldap/bogus/default'),
      forbidden('Option bogus in group ldap is not supported for domain specific configurations'),
    );
  });

  test('security compliance: the default domain only, password_regex and its description only', async () => {
    assert.deepEqual(await ok('GET', '/v3/domains/default/config/security_compliance'), {
      config: { security_compliance: { password_regex: null, password_regex_description: null } },
    });
    assert.deepEqual(await ok('GET', '/v3/domains/default/config/security_compliance/password_regex'), {
      config: { password_regex: null },
    });
    assert.deepEqual(
      await call('GET', '/v3/domains/default/config/security_compliance/lockout_duration'),
      forbidden(
        'Reading security compliance values other than password_regex and password_regex_description is not allowed.',
      ),
    );
    const d = await newDomain();
    assert.deepEqual(
      await call('GET', `/v3/domains/${d}/config/security_compliance`),
      forbidden(
        'Reading security compliance information for any domain other than the default domain is not allowed or supported.',
      ),
    );
  });
});
