/**
 * The real `openstack` client through nginx and the gateway (fastcgi, started by
 * scripts/stack.sh) on roles, grants, role assignments, implied roles, the catalog,
 * credentials and application credentials — and logging in with an application credential.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';
import { openstack, oscStack } from './osc.js';

const s = oscStack('osc-assignment', '--protocol', 'fastcgi');
before(() => {
  s.env.OS_INTERFACE = 'public';
  s.admin.OS_INTERFACE = 'public';
});
// Names are this run's own.
const tag = randomBytes(3).toString('hex');
const n = (name: string) => `${name}-${tag}`;

/** Runs the client; asserts it succeeded; the parsed JSON when asked for (-f json). */
async function osc(...args: string[]): Promise<ReturnType<typeof JSON.parse>> {
  const res = await openstack(s.admin, ...args);
  assert.equal(res.status, 0, `openstack ${args.join(' ')}: ${res.stderr}`);
  return args.includes('json') ? JSON.parse(res.stdout) : res.stdout;
}

type Row = Record<string, string | boolean>;
const rows = (list: Row[]) =>
  list.map(
    (r) =>
      `${r.Role} ${r.User || r.Group} ${r.Project || r.Domain || r.System}${r.Inherited ? ' inherited' : ''}`,
  );

test('roles: create, list, show, set, delete; implied role create and list', async () => {
  const role = await osc('role', 'create', n('auditor'), '-f', 'json');
  assert.match(role.id, /^[0-9a-f]{32}$/);
  assert.equal(role.name, n('auditor'));
  assert.ok((await osc('role', 'list', '-f', 'json')).some((r: Row) => r.Name === n('auditor')));
  assert.equal((await osc('role', 'show', n('auditor'), '-f', 'json')).id, role.id);
  await osc('role', 'set', '--name', n('inspector'), n('auditor'));
  assert.equal((await osc('role', 'show', role.id, '-f', 'json')).name, n('inspector'));
  const inference = await osc(
    'implied',
    'role',
    'create',
    n('inspector'),
    '--implied-role',
    'reader',
    '-f',
    'json',
  );
  assert.equal(inference.prior_role, role.id);
  const implied = await osc('implied', 'role', 'list', '-f', 'json');
  const names = implied.map((r: Row) => `${r['Prior Role Name']}>${r['Implied Role Name']}`);
  for (const rule of [`${n('inspector')}>reader`, 'admin>manager', 'manager>member', 'member>reader'])
    assert.ok(names.includes(rule), rule);
  await osc('role', 'delete', n('inspector'));
  assert.ok(!(await osc('role', 'list', '-f', 'json')).some((r: Row) => r.ID === role.id));
  const gone = await openstack(s.admin, 'implied', 'role', 'list', '-f', 'json');
  assert.ok(!gone.stdout.includes(role.id), 'its inference went with it');
});

test('role add/remove on project, domain and system, for users and groups, --inherited; role assignment list --effective --names', async () => {
  await Promise.all([
    osc('user', 'create', '--password', 'alice-password-1', n('alice'), '-f', 'json'),
    osc('group', 'create', n('devs'), '-f', 'json'),
    osc('project', 'create', n('apps'), '-f', 'json'),
  ]);
  await Promise.all([
    osc('group', 'add', 'user', n('devs'), n('alice')),
    osc('project', 'create', '--parent', n('apps'), n('apps-web'), '-f', 'json'),
  ]);
  const grants = [
    ['--user', n('alice'), '--project', n('apps'), 'member'],
    ['--group', n('devs'), '--project', n('apps'), 'reader'],
    ['--user', n('alice'), '--domain', 'default', 'reader'],
    ['--group', n('devs'), '--domain', 'default', 'member'],
    ['--user', n('alice'), '--system', 'all', 'reader'],
    ['--group', n('devs'), '--system', 'all', 'reader'],
    ['--user', n('alice'), '--project', n('apps'), '--inherited', 'manager'],
    ['--group', n('devs'), '--domain', 'default', '--inherited', 'reader'],
  ];
  await Promise.all(grants.map((g) => osc('role', 'add', ...g)));

  const stored = rows(await osc('role', 'assignment', 'list', '--names', '-f', 'json'));
  for (const expected of [
    `member ${n('alice')}@Default ${n('apps')}@Default`,
    `reader ${n('devs')}@Default ${n('apps')}@Default`,
    `reader ${n('alice')}@Default Default`,
    `member ${n('devs')}@Default Default`,
    `reader ${n('alice')}@Default all`,
    `reader ${n('devs')}@Default all`,
    `manager ${n('alice')}@Default ${n('apps')}@Default inherited`,
    `reader ${n('devs')}@Default Default inherited`,
  ])
    assert.ok(stored.includes(expected), `${expected} in ${stored.join('; ')}`);

  const effective = rows(
    await osc('role', 'assignment', 'list', '--user', n('alice'), '--effective', '--names', '-f', 'json'),
  );
  for (const expected of [
    `member ${n('alice')}@Default ${n('apps')}@Default`, // direct
    `reader ${n('alice')}@Default ${n('apps')}@Default`, // implied by member, and through devs
    `manager ${n('alice')}@Default ${n('apps-web')}@Default`, // inherited from apps
    `member ${n('alice')}@Default ${n('apps-web')}@Default`, // implied by the inherited manager
    `member ${n('alice')}@Default Default`, // devs on the domain
  ])
    assert.ok(effective.includes(expected), `${expected} in ${effective.join('; ')}`);
  assert.ok(!effective.some((r) => r.includes(n('devs'))), 'effective assignments name users only');
  assert.ok(!effective.some((r) => r.endsWith('inherited')));
  // Keystone 22 lists system grants among effective ones only when asked for.
  assert.ok(!effective.some((r) => r.endsWith(' all')));
  const system = rows(
    await osc(
      'role',
      'assignment',
      'list',
      '--user',
      n('alice'),
      '--system',
      'all',
      '--effective',
      '--names',
      '-f',
      'json',
    ),
  );
  assert.deepEqual([...new Set(system)], [`reader ${n('alice')}@Default all`]);

  await Promise.all(grants.map((g) => osc('role', 'remove', ...g)));
  assert.deepEqual(
    await osc('role', 'assignment', 'list', '--user', n('alice'), '--effective', '-f', 'json'),
    [],
  );
  assert.deepEqual(await osc('role', 'assignment', 'list', '--group', n('devs'), '-f', 'json'), []);
});

test('region, service and endpoint create/list/delete; the catalog follows', async () => {
  await osc('region', 'create', n('RegionTwo'), '--description', 'second', '-f', 'json');
  assert.ok((await osc('region', 'list', '-f', 'json')).some((r: Row) => r.Region === n('RegionTwo')));
  const service = await osc(
    'service',
    'create',
    '--name',
    n('nova'),
    '--description',
    'Compute',
    'compute',
    '-f',
    'json',
  );
  assert.equal(service.type, 'compute');
  const endpoint = await osc(
    'endpoint',
    'create',
    '--region',
    n('RegionTwo'),
    n('nova'),
    'public',
    'http://compute.test:8774/v2.1',
    '-f',
    'json',
  );
  assert.equal(endpoint.region, n('RegionTwo'));
  const listed = await osc('endpoint', 'list', '--service', n('nova'), '-f', 'json');
  assert.deepEqual(
    listed.map((e: Row) => `${e['Service Name']} ${e.Interface} ${e.URL}`),
    [`${n('nova')} public http://compute.test:8774/v2.1`],
  );
  const catalog = await osc('catalog', 'list', '-f', 'json');
  assert.ok(catalog.some((s: Row) => s.Name === n('nova') && s.Type === 'compute'));
  await osc('endpoint', 'delete', endpoint.id);
  await osc('service', 'delete', n('nova'));
  await osc('region', 'delete', n('RegionTwo'));
  assert.ok(!(await osc('catalog', 'list', '-f', 'json')).some((s: Row) => s.Name === n('nova')));
  assert.ok(!(await osc('region', 'list', '-f', 'json')).some((r: Row) => r.Region === n('RegionTwo')));
});

test('credential create/list/delete', async () => {
  const ec2 = await osc(
    'credential',
    'create',
    '--type',
    'ec2',
    '--project',
    'admin',
    'admin',
    `{"access":"${n('AKIA')}","secret":"s"}`,
    '-f',
    'json',
  );
  assert.match(ec2.id, /^[0-9a-f]{64}$/);
  const listed = await osc('credential', 'list', '-f', 'json');
  assert.deepEqual(
    listed.filter((c: Row) => c.ID === ec2.id).map((c: Row) => c.Data),
    [`{"access":"${n('AKIA')}","secret":"s"}`],
  );
  await osc('credential', 'delete', ec2.id);
  assert.ok(!(await osc('credential', 'list', '-f', 'json')).some((c: Row) => c.ID === ec2.id));
});

test('application credential create/list/delete, and token issue with one', async () => {
  const created = await osc('application', 'credential', 'create', n('ci'), '--role', 'reader', '-f', 'json');
  assert.equal(created.roles, 'reader');
  assert.ok(created.secret.length >= 64);
  const listed = await osc('application', 'credential', 'list', '-f', 'json');
  assert.deepEqual(
    listed.filter((c: Row) => c.ID === created.id).map((c: Row) => c.Name),
    [n('ci')],
  );
  const appEnv: Record<string, string> = {
    ...s.env,
    OS_AUTH_TYPE: 'v3applicationcredential',
    OS_APPLICATION_CREDENTIAL_ID: created.id,
    OS_APPLICATION_CREDENTIAL_SECRET: created.secret,
    OS_USERNAME: '',
    OS_PASSWORD: '',
    OS_PROJECT_NAME: '',
    OS_USER_DOMAIN_NAME: '',
    OS_PROJECT_DOMAIN_NAME: '',
  };
  const issued = await openstack(appEnv, 'token', 'issue', '-f', 'json');
  assert.equal(issued.status, 0, issued.stderr);
  assert.equal(JSON.parse(issued.stdout).project_id, created.project_id);
  await osc('application', 'credential', 'delete', n('ci'));
  const refused = await openstack(appEnv, 'token', 'issue', '-f', 'json');
  assert.notEqual(refused.status, 0, 'a deleted application credential no longer logs in');
  assert.match(refused.stderr, /HTTP 401/);
});
