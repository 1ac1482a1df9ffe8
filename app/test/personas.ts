/**
 * The personas of Keystone's protection tests, on a bootstrapped testDatabase(), each with a
 * valid token:
 *
 *   const t = await testDatabase();
 *   const p = await createPersonas(t);
 *   const app = await build({ config: t.config, db: t.db });
 *   for (const name of PERSONAS)
 *     await app.inject({ method: 'GET', url: '/v3/users', headers: p.headers(name) });
 *
 * | persona          | user and role                                  | token scope        |
 * | ---------------- | ---------------------------------------------- | ------------------ |
 * | system_admin     | bootstrap's `admin` (admin on the system)      | system             |
 * | system_reader    | reader on the system                           | system             |
 * | domain_admin     | admin on `domainId`                            | domain `domainId`  |
 * | domain_manager   | manager on `domainId` (Keystone 26's persona)  | domain `domainId`  |
 * | domain_reader    | reader on `domainId`                           | domain `domainId`  |
 * | project_admin    | admin on `projectId` (in `domainId`)           | project            |
 * | project_manager  | manager on `projectId`                         | project            |
 * | project_member   | member on `projectId`                          | project            |
 * | project_reader   | reader on `projectId`                          | project            |
 * | own_user         | member on `ownProjectId` (in `domainId`): the  | project            |
 * |                  | user a resource under test belongs to          |                    |
 * | other_user       | member on `otherProjectId` in `otherDomainId`  | project            |
 * | no_token         | —                                              | no X-Auth-Token    |
 *
 * Every persona user lives in `domainId` except other_user (in `otherDomainId`) and
 * system_admin (bootstrap's admin, in `default`); each has the password PERSONA_PASSWORD.
 * Calling it twice on one database creates a second, independent set.
 *
 * A protection matrix (the *-protection tests) is a table of cases, each an action with the
 * exact status of every persona, run by `protectionMatrix()` in both policy configurations.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Target } from '../src/assignment/service.js';
import { createServices } from '../src/services.js';
import type { Scope } from '../src/token/payload.js';
import type { TestDatabase } from './helpers.js';

export const PERSONAS = [
  'system_admin',
  'system_reader',
  'domain_admin',
  'domain_manager',
  'domain_reader',
  'project_admin',
  'project_manager',
  'project_member',
  'project_reader',
  'own_user',
  'other_user',
  'no_token',
] as const;

export type Persona = (typeof PERSONAS)[number];

export const PERSONA_PASSWORD = 'persona password';

export interface Personas {
  /** The domain the domain personas administer and read; holds projectId and ownProjectId. */
  domainId: string;
  /** The project of project_admin, project_member and project_reader. */
  projectId: string;
  /** own_user's project. */
  ownProjectId: string;
  /** other_user's domain and project, unrelated to the others. */
  otherDomainId: string;
  otherProjectId: string;
  /** Role ids by name (admin, manager, member, reader, service). */
  roles: Record<string, string>;
  /** User ids; no_token has none. */
  userIds: Record<Exclude<Persona, 'no_token'>, string>;
  /** Token strings; no_token's is null. */
  tokens: Record<Persona, string | null>;
  /** `{ 'x-auth-token': token }`, or `{}` for no_token. */
  headers(persona: Persona): Record<string, string>;
}

const newId = () => randomUUID().replaceAll('-', '');

export async function createPersonas(t: TestDatabase): Promise<Personas> {
  const s = createServices(t.db, t.config);
  const tag = newId().slice(0, 8);
  const domainId = newId();
  const otherDomainId = newId();
  await s.resource.ensureDomain(domainId, `persona-domain-${tag}`, 'Persona domain');
  await s.resource.ensureDomain(otherDomainId, `persona-other-${tag}`, 'Unrelated domain');
  const project = (name: string, domain: string) =>
    s.resource.ensureProject({ id: newId(), name: `${name}-${tag}`, domainId: domain, description: '' });
  const projectId = await project('persona-project', domainId);
  const ownProjectId = await project('persona-own', domainId);
  const otherProjectId = await project('persona-other', otherDomainId);

  const roles: Record<string, string> = {};
  for (const name of ['admin', 'manager', 'member', 'reader', 'service'])
    roles[name] = await s.assignment.ensureGlobalRole(newId(), name);
  const admin = await s.identity.findUser({ name: 'admin', domain: { id: 'default' } });
  if (!admin) throw new Error('createPersonas needs a bootstrapped database');

  const plan: Array<[Exclude<Persona, 'no_token' | 'system_admin'>, string, string, Target]> = [
    ['system_reader', domainId, 'reader', { type: 'system', id: 'all' }],
    ['domain_admin', domainId, 'admin', { type: 'domain', id: domainId }],
    ['domain_manager', domainId, 'manager', { type: 'domain', id: domainId }],
    ['domain_reader', domainId, 'reader', { type: 'domain', id: domainId }],
    ['project_admin', domainId, 'admin', { type: 'project', id: projectId }],
    ['project_manager', domainId, 'manager', { type: 'project', id: projectId }],
    ['project_member', domainId, 'member', { type: 'project', id: projectId }],
    ['project_reader', domainId, 'reader', { type: 'project', id: projectId }],
    ['own_user', domainId, 'member', { type: 'project', id: ownProjectId }],
    ['other_user', otherDomainId, 'member', { type: 'project', id: otherProjectId }],
  ];
  const userIds = { system_admin: admin.id } as Personas['userIds'];
  const tokens = { no_token: null } as Personas['tokens'];
  const scopeOf = (target: Target): Scope =>
    target.type === 'system'
      ? { kind: 'system' }
      : target.type === 'domain'
        ? { kind: 'domain', domainId: target.id }
        : { kind: 'project', projectId: target.id };
  tokens.system_admin = s.tokens.issue(admin.id, ['password'], { kind: 'system' }).token;
  for (const [persona, domain, role, target] of plan) {
    const id = await s.identity.ensureUser(newId(), `${persona}-${tag}`, domain);
    await s.identity.setPassword(id, PERSONA_PASSWORD);
    await s.assignment.grant({ actor: { type: 'user', id }, target, roleId: roles[role] as string });
    userIds[persona] = id;
    tokens[persona] = s.tokens.issue(id, ['password'], scopeOf(target)).token;
  }
  return {
    domainId,
    projectId,
    ownProjectId,
    otherDomainId,
    otherProjectId,
    roles,
    userIds,
    tokens,
    headers(persona): Record<string, string> {
      const token = tokens[persona];
      return token ? { 'x-auth-token': token } : {};
    },
  };
}

/** `allowed` personas get `status`; the other personas 403, and no token 401. */
export function expectStatus(allowed: readonly Persona[], status: number): Record<Persona, number> {
  return Object.fromEntries(
    PERSONAS.map((x) => [x, allowed.includes(x) ? status : x === 'no_token' ? 401 : 403]),
  ) as Record<Persona, number>;
}

export interface ProtectionRequest {
  method: string;
  url: string;
  payload?: unknown;
}

export interface ProtectionCase {
  action: string;
  /** Every persona's status with Keystone 22's default policies. */
  expected: Record<Persona, number>;
  /** The statuses under secure RBAC, when they differ. */
  secure?: Record<Persona, number>;
  /** The request, built (with any fresh resource it acts on) for one persona. */
  request: (persona: Persona) => Promise<ProtectionRequest>;
}

/**
 * The two policy configurations: Keystone 22's default (new rules OR-ed with the deprecated ones,
 * scope not enforced) and secure RBAC (IDENTITY_POLICY_ENFORCE_SCOPE and _NEW_DEFAULTS on).
 */
export const CONFIGURATIONS = [
  ['Keystone 22 defaults', false],
  ['secure RBAC', true],
] as const;

/**
 * Registers the tests of a protection matrix: every persona against every case, one after the
 * other in the table's order, in both configurations, asserting the exact status of each.
 * `send` makes the request as the persona to the app of that configuration and returns the
 * status. `cases` is called inside the test (the personas exist only once `before` has run).
 * One test a configuration, named `${configuration}: every persona against every ${subject},
 * the exact status`; with `perAction`, one a configuration and action instead, named
 * `${configuration}: ${perAction}${action}` (the actions are read from `cases()` when the tests
 * are registered, before the personas exist).
 */
export function protectionMatrix(
  subject: string,
  cases: () => ProtectionCase[],
  send: (secure: boolean, persona: Persona, request: ProtectionRequest) => Promise<number>,
  options: { perAction?: string } = {},
): void {
  const run = async (secure: boolean, rows: ProtectionCase[]) => {
    const mismatches: string[] = [];
    for (const row of rows)
      for (const persona of PERSONAS) {
        const expected = (secure ? (row.secure ?? row.expected) : row.expected)[persona];
        const status = await send(secure, persona, await row.request(persona));
        if (status !== expected)
          mismatches.push(`${row.action} as ${persona}: ${status}, expected ${expected}`);
      }
    assert.deepEqual(mismatches, []);
  };
  for (const [configuration, secure] of CONFIGURATIONS) {
    const prefix = options.perAction;
    if (prefix === undefined)
      test(`${configuration}: every persona against every ${subject}, the exact status`, () =>
        run(secure, cases()));
    else
      for (const { action } of cases())
        test(`${configuration}: ${prefix}${action}`, () =>
          run(
            secure,
            cases().filter((c) => c.action === action),
          ));
  }
}
