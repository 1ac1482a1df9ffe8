/**
 * Policy as data: every default rule, one per API action, in oslo.policy's syntax. Keystone
 * 22's rules (keystone.ts, generated from keystone/common/policies) are taken as they are;
 * `laterReleases` replaces the few that a later Keystone release changed for the manager
 * persona, which Keystone 22 lacks, naming the release each follows. Named base rules are
 * referenced as `rule:<name>`; `%(target.x.y)s` reads the target, other keys the caller's
 * credentials (see enforcer.ts).
 */
import { keystoneRules } from './keystone.js';
import type { KeystoneRule, ScopeType } from './types.js';

export type { KeystoneRule, ScopeType } from './types.js';

/** A default rule with the Keystone release whose text it follows. */
export interface RuleDefault extends KeystoneRule {
  readonly release: string;
}

const KEYSTONE_22 = 'Keystone 22.0.2 (Zed)';
/**
 * Keystone 25.0.0 (2024.1, Caracal): "Allow users with admin role to get projects", the
 * follow-up of "Consistent and Secure RBAC (Phase 1)", whose other rules Keystone 22's Debian
 * package already carries: get_project is its one new-default rule without admin_required.
 */
const KEYSTONE_25 = 'Keystone 25.0.0 (2024.1): admin reads any project';
/**
 * Keystone's master (after 29.0.0), "Prevent unauthorized EC2 credential creation and deletion"
 * (e88f3888b, April 2026), whose backport in Keystone 22's Debian package gave the member rule to
 * ec2_list_credentials, where a list has no credential to own, instead of ec2_delete_credential:
 * there an owner could no longer list its own EC2 credentials.
 */
const KEYSTONE_EC2_FIX = 'Keystone master (e88f3888b, 2026): EC2 credential list and delete';
/** Keystone 26.0.0 (2024.2, Dalmatian): "Implement the Domain Manager Persona". */
const KEYSTONE_26 = 'Keystone 26.0.0 (2024.2): domain manager persona';
const ALL: readonly ScopeType[] = ['system', 'domain', 'project'];

const userManager = '(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)';
const groupManager = '(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)';
const membershipManager =
  '(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)';
// 26.0.0's text plus 29.0.0's "not None" guard ("Fix project policy allowing unauthorized
// access to root domains"), so a project-scoped manager never matches a root project.
const projectManager =
  '(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)';
const grantManager =
  '(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role';

/** Rules a later release changed (the manager persona, one admin fix): new check (and scopes), release. */
export const laterReleases: Readonly<
  Record<string, { check: string; scopeTypes?: readonly ScopeType[]; release: string }>
> = {
  domain_managed_target_role: {
    check: "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",
    release: KEYSTONE_26,
  },
  'identity:create_user': { check: userManager, release: KEYSTONE_26 },
  'identity:update_user': { check: userManager, release: KEYSTONE_26 },
  'identity:delete_user': { check: userManager, release: KEYSTONE_26 },
  'identity:create_group': { check: groupManager, release: KEYSTONE_26 },
  'identity:update_group': { check: groupManager, release: KEYSTONE_26 },
  'identity:delete_group': { check: groupManager, release: KEYSTONE_26 },
  'identity:add_user_to_group': { check: membershipManager, release: KEYSTONE_26 },
  'identity:remove_user_from_group': { check: membershipManager, release: KEYSTONE_26 },
  'identity:get_project': {
    check:
      '(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
    release: KEYSTONE_25,
  },
  'identity:ec2_list_credentials': {
    check: '(rule:admin_required) or (role:reader and system_scope:all) or rule:owner',
    release: KEYSTONE_EC2_FIX,
  },
  'identity:ec2_delete_credential': {
    check: '(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)',
    release: KEYSTONE_EC2_FIX,
  },
  'identity:create_project': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:update_project': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:delete_project': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:update_project_tags': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:create_project_tag': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:delete_project_tags': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:delete_project_tag': { check: projectManager, release: `${KEYSTONE_26}; 29.0.0 (2026.1) guard` },
  'identity:create_grant': { check: grantManager, release: KEYSTONE_26 },
  'identity:revoke_grant': { check: grantManager, release: KEYSTONE_26 },
  'identity:get_role': {
    check:
      '(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and rule:domain_managed_target_role)',
    scopeTypes: ALL,
    release: KEYSTONE_26,
  },
  'identity:list_roles': {
    check:
      '(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and not domain_id:None)',
    scopeTypes: ALL,
    release: KEYSTONE_26,
  },
};

/** Every default rule, in Keystone's order (base rules first), later releases applied. */
export const defaults: readonly RuleDefault[] = (() => {
  const out: RuleDefault[] = [];
  for (const rule of keystoneRules as readonly KeystoneRule[]) {
    const later = laterReleases[rule.name];
    out.push(
      later
        ? {
            ...rule,
            check: later.check,
            scopeTypes: later.scopeTypes ?? rule.scopeTypes,
            release: later.release,
          }
        : { ...rule, release: KEYSTONE_22 },
    );
    // Keystone 26 registers its new base rule after the other base rules.
    if (rule.name === 'service_admin_or_token_subject') {
      const base = laterReleases.domain_managed_target_role as { check: string; release: string };
      out.push({
        name: 'domain_managed_target_role',
        check: base.check,
        scopeTypes: null,
        description: 'Roles a domain manager may assign or revoke.',
        operations: [],
        release: base.release,
      });
    }
  }
  return out;
})();

/** An API action: every `identity:*` rule Keystone defines, built or not. */
export type Action = Extract<(typeof keystoneRules)[number]['name'], `identity:${string}`>;
