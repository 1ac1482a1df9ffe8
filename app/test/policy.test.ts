/**
 * The policy layer without HTTP: the rules match what the installed Keystone registers, the
 * check-string language behaves as oslo.policy's, the two switches, the policy file's
 * validation, and `manage policy-generate`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Credentials, Policy, PolicySyntaxError, parse, scopeOf } from '../src/policy/enforcer.js';
import { createPolicy, parsePolicyFile } from '../src/policy/file.js';
import { generateSample } from '../src/policy/generate.js';
import { keystoneRules } from '../src/policy/keystone.js';
import { defaults, laterReleases } from '../src/policy/rules.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const manage = join(root, 'app/dist/src/manage.js');

const who = (over: Partial<Credentials> = {}): Credentials => ({
  user_id: 'u1',
  user_domain_id: 'd1',
  project_id: 'p1',
  project_domain_id: 'd1',
  domain_id: null,
  system_scope: null,
  roles: ['member', 'reader'],
  ...over,
});
const projectAdmin = who({ roles: ['admin', 'manager', 'member', 'reader'] });
const systemReader = who({
  project_id: null,
  project_domain_id: null,
  system_scope: 'all',
  roles: ['reader'],
});
const domainManager = who({
  project_id: null,
  project_domain_id: null,
  domain_id: 'd1',
  roles: ['manager', 'member', 'reader'],
});
const legacy = new Policy({ enforceScope: false, enforceNewDefaults: false });
const secure = new Policy({ enforceScope: true, enforceNewDefaults: true });

describe('the default rules', () => {
  const python = spawnSync('/usr/bin/python3', [join(root, 'scripts/keystone-policies.py'), '--json'], {
    encoding: 'utf8',
  });
  test('keystone.ts is what the installed Keystone registers, rule for rule', {
    skip: python.status !== 0 && 'python3-keystone is not installed',
  }, () => {
    assert.deepEqual(JSON.parse(python.stdout), keystoneRules);
  });

  test('every Keystone rule is a default; later releases change only the rules they name', () => {
    const names = defaults.map((d) => d.name);
    for (const rule of keystoneRules) assert.ok(names.includes(rule.name), rule.name);
    for (const d of defaults) {
      const later = laterReleases[d.name];
      const k = keystoneRules.find((r) => r.name === d.name);
      if (later) {
        assert.equal(d.check, later.check);
        assert.match(d.release, /^Keystone (2[56]\.0\.0|master \(e88f3888b)/);
      } else {
        assert.equal(d.check, k?.check, d.name);
        assert.equal(d.release, 'Keystone 22.0.2 (Zed)');
      }
      parse(d.check);
      if (d.deprecated) parse(d.deprecated.check);
    }
  });
});

describe('the check-string language', () => {
  const one = (check: string, caller: Credentials, target: Record<string, unknown> = {}) =>
    new Policy({
      enforceScope: false,
      enforceNewDefaults: true,
      overrides: { 'identity:get_user': check },
    }).allowed('identity:get_user', caller, target);

  test('and binds tighter than or; not; parentheses; @ and !', () => {
    assert.equal(one('role:admin or role:member and role:nope', who()), false);
    assert.equal(one('(role:admin or role:member) and role:reader', who()), true);
    assert.equal(one('role:member and not role:admin', who()), true);
    assert.equal(one('not (role:member or role:admin)', who()), false);
    assert.equal(one('@', who()), true);
    assert.equal(one('!', who()), false);
    assert.equal(one('', who()), true);
    assert.equal(one('ROLE:MEMBER OR !', who()), false, 'kinds are case-sensitive, operators are not');
    assert.equal(one('role:MEMBER', who()), true, 'role names compare without case, as oslo.policy');
  });

  test('substitutions read the target; a missing key fails the check', () => {
    const target = { user: { id: 'u1', domain_id: 'd1' }, user_id: 'u1', role: { name: 'member' } };
    assert.equal(one('user_id:%(target.user.id)s', who(), target), true);
    assert.equal(one('user_id:%(user_id)s', who(), target), true);
    assert.equal(one('user_id:%(target.nothing.id)s', who(), target), false);
    assert.equal(one('role:%(target.role.name)s', who(), target), true);
    assert.equal(one("'member':%(target.role.name)s", who(), target), true);
    assert.equal(one("'admin':%(target.role.name)s", who(), target), false);
    assert.equal(one('True:%(target.flag)s', who(), { flag: true }), true);
    assert.equal(one('None:%(target.role.domain_id)s', who(), { role: { domain_id: null } }), true);
    assert.equal(one('None:%(target.role.domain_id)s', who(), { role: { domain_id: 'd1' } }), false);
  });

  test('generic checks read the credentials, dotted token paths included', () => {
    assert.equal(one('token.project.domain.id:d1', who()), true);
    assert.equal(one('project_id:p1 and user_domain_id:d1', who()), true);
    assert.equal(one('domain_id:None', who()), true, 'a literal None tests for absence');
    assert.equal(one('system_scope:all', systemReader), true);
    assert.equal(one('roles:reader', who()), true, 'a list matches when any element does');
    assert.equal(one('is_admin:True', projectAdmin), false, 'no admin_token: is_admin is never set');
    // A project token has no domain_id; it must not equal a target whose domain_id is absent too.
    assert.equal(
      one('domain_id:%(target.project.domain_id)s', who(), { project: { domain_id: null } }),
      false,
    );
  });

  test('syntax errors name the problem', () => {
    for (const [text, message] of [
      ['role:admin and', /unexpected end/],
      ['(role:admin or role:member', /missing \)/],
      ['role:admin)', /unexpected "\)"/],
      ['admin', /"admin" is not a check/],
      ['role:admin or or role:member', /unexpected "or"/],
      ['user_id:%(user_id)', /substitution is written %\(name\)s/],
    ] as const)
      assert.throws(
        () => parse(text),
        (err: Error) => err instanceof PolicySyntaxError && message.test(err.message),
      );
  });
});

describe('the switches', () => {
  test('new defaults off: the deprecated rule is OR-ed in; on: only the new rule', () => {
    // ec2_create_credential's deprecated rule is admin_or_owner; its new rule asks the owner for
    // the member role too, so a reader may create its own EC2 credential only under the old one.
    const reader = who({ roles: ['reader'] });
    const target = { user_id: 'u1', credential: { user_id: 'u1' } };
    assert.equal(legacy.allowed('identity:ec2_create_credential', reader, target), true);
    assert.equal(secure.allowed('identity:ec2_create_credential', reader, target), false);
    assert.equal(
      new Policy({ enforceScope: false, enforceNewDefaults: true }).allowed(
        'identity:ec2_create_credential',
        reader,
        target,
      ),
      false,
    );
    assert.equal(secure.allowed('identity:ec2_create_credential', who(), target), true);
  });

  test('get_project follows Keystone 25: an admin reads any project, a member only its own', () => {
    const other = { project: { id: 'p2', domain_id: 'd2' } };
    assert.equal(secure.allowed('identity:get_project', projectAdmin, other), true);
    assert.equal(secure.allowed('identity:get_project', who(), other), false);
    assert.equal(
      secure.allowed('identity:get_project', who(), { project: { id: 'p1', domain_id: 'd1' } }),
      true,
    );
  });

  test('scope enforced: a token whose scope is not among the scope types is refused', () => {
    assert.equal(scopeOf(who()), 'project');
    assert.equal(scopeOf(systemReader), 'system');
    assert.equal(scopeOf(domainManager), 'domain');
    const unscoped = who({ project_id: null, project_domain_id: null, roles: [] });
    assert.equal(scopeOf(unscoped), 'project', 'oslo.policy counts an unscoped token as project scope');
    const domainAdmin = { ...domainManager, roles: ['admin', 'manager', 'member', 'reader'] };
    // create_domain: system and project scope only.
    assert.equal(legacy.allowed('identity:create_domain', domainAdmin), true);
    assert.equal(
      new Policy({ enforceScope: true, enforceNewDefaults: false }).allowed(
        'identity:create_domain',
        domainAdmin,
      ),
      false,
    );
    // The auth actions have no scope types: any token passes the scope check.
    assert.equal(secure.allowed('identity:get_auth_projects', unscoped), true);
    // A rule from the policy file keeps the action's scope types.
    const open = new Policy({
      enforceScope: true,
      enforceNewDefaults: true,
      overrides: { 'identity:create_domain': '@' },
    });
    assert.equal(open.allowed('identity:create_domain', domainAdmin), false);
    assert.equal(open.allowed('identity:create_domain', who()), true);
  });

  test('the manager persona of Keystone 26 manages its own domain only', () => {
    const user = (domain: string) => ({ user: { domain_id: domain } });
    assert.equal(secure.allowed('identity:create_user', domainManager, user('d1')), true);
    assert.equal(secure.allowed('identity:create_user', domainManager, user('d2')), false);
    const projectManager = who({ roles: ['manager', 'member', 'reader'] });
    assert.equal(secure.allowed('identity:create_user', projectManager, user('d1')), false);
    const grant = (role: string) => ({
      user: { domain_id: 'd1' },
      project: { domain_id: 'd1' },
      role: { name: role },
    });
    assert.equal(secure.allowed('identity:create_grant', domainManager, grant('member')), true);
    assert.equal(secure.allowed('identity:create_grant', domainManager, grant('admin')), false);
  });
});

describe('the policy file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const settings = (path: string) => ({
    policyEnforceScope: false,
    policyEnforceNewDefaults: false,
    policyFile: path,
  });

  test('YAML and JSON, comments and helper rules', () => {
    const yaml = file(
      'policy.yaml',
      '# operators\n"identity:list_users": "rule:user_admins"\nuser_admins: "role:admin or role:useradmin"\n',
    );
    const json = file(
      'policy.json',
      '{"identity:list_users": "rule:user_admins", "user_admins": "role:useradmin"}',
    );
    for (const path of [yaml, json]) {
      const policy = createPolicy(settings(path));
      assert.equal(policy.allowed('identity:list_users', who({ roles: ['useradmin'] })), true);
      assert.equal(policy.allowed('identity:list_users', who()), false);
    }
    assert.deepEqual(parsePolicyFile(''), {});
  });

  for (const [name, text, line] of [
    ['unknown rule', '"identity:list_userz": "role:admin"\n', /: unknown rule "identity:list_userz"$/],
    [
      'syntax error',
      '"identity:list_users": "role:admin and"\n',
      /rule "identity:list_users": unexpected end of "role:admin and"$/,
    ],
    [
      'undefined reference',
      '"identity:list_users": "rule:nobody"\n',
      /rule "identity:list_users": rule:nobody is not defined$/,
    ],
    ['cycle', '"identity:list_users": "rule:a"\na: "rule:b"\nb: "rule:a"\n', /in a cycle: a -> b -> a$/],
    [
      'not a string',
      '"identity:list_users": ["role:admin"]\n',
      /rule "identity:list_users": expected a check string, got a list$/,
    ],
    ['not YAML', '"identity:list_users": "role:admin\n', /not YAML or JSON: /],
    ['not a mapping', '- role:admin\n', /expected a mapping of rule names to check strings$/],
  ] as const) {
    test(`${name}: one line naming the file and the problem`, () => {
      const path = file(`${name.replaceAll(' ', '-')}.yaml`, text);
      assert.throws(
        () => createPolicy(settings(path)),
        (err: Error) => {
          assert.ok(err.message.startsWith(`IDENTITY_POLICY_FILE="${path}": `), err.message);
          assert.match(err.message, line);
          assert.ok(!err.message.includes('\n'), 'one line');
          return true;
        },
      );
    });
  }

  test('a missing file is named', () => {
    assert.throws(
      () => createPolicy(settings(join(dir, 'absent.yaml'))),
      /IDENTITY_POLICY_FILE=".*absent.yaml": not readable \(ENOENT\)/,
    );
  });
});

describe('manage policy-generate', () => {
  test('writes every rule, commented, as a policy file that parses back to nothing overridden', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gen-')), 'policy.yaml');
    const said = execFileSync('node', [manage, 'policy-generate', '--output-file', out], {
      encoding: 'utf8',
      env: { ...process.env, IDENTITY_POLICY_FILE: '' },
    });
    assert.equal(said, `wrote ${defaults.length} rules to ${out}\n`);
    const text = execFileSync('cat', [out], { encoding: 'utf8' });
    for (const d of defaults) assert.ok(text.includes(`#"${d.name}": "${d.check}"\n`), d.name);
    assert.match(
      text,
      /# GET {2}\/v3\/users\/\{user_id\}\n# HEAD {2}\/v3\/users\/\{user_id\}\n# Intended scope\(s\): system, domain, project\n#"identity:get_user"/,
    );
    assert.deepEqual(parsePolicyFile(text), {});
  });

  test("a policy file's rules come out uncommented, so the output reproduces the configuration", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-'));
    const input = join(dir, 'in.yaml');
    writeFileSync(input, '"identity:list_users": "rule:user_admins"\nuser_admins: "role:useradmin"\n');
    const policy = createPolicy({
      policyEnforceScope: true,
      policyEnforceNewDefaults: true,
      policyFile: input,
    });
    const sample = generateSample(policy);
    assert.match(sample, /IDENTITY_POLICY_ENFORCE_SCOPE=true/);
    assert.deepEqual(parsePolicyFile(sample), {
      'identity:list_users': 'rule:user_admins',
      user_admins: 'role:useradmin',
    });
  });

  test('a broken file stops the command with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gen-'));
    const input = join(dir, 'bad.yaml');
    writeFileSync(input, '"identity:get_usr": "@"\n');
    const run = spawnSync('node', [manage, 'policy-generate'], {
      encoding: 'utf8',
      env: { ...process.env, IDENTITY_POLICY_FILE: input },
    });
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `IDENTITY_POLICY_FILE="${input}": unknown rule "identity:get_usr"\n`);
  });
});
