/**
 * Policy as data: Keystone's default rules (keystone/common/policies/*.py), one per API action,
 * in oslo.policy's own syntax so each can be compared with Keystone's line for line. Named base
 * rules are referenced as `rule:<name>`; `%(target.x.y)s` reads the target, other keys the
 * caller's credentials (see enforcer.ts).
 */
export const baseRules = {
  admin_required: 'role:admin or is_admin:1',
  service_role: 'role:service',
  service_or_admin: 'rule:admin_required or rule:service_role',
  owner: 'user_id:%(user_id)s',
  admin_or_owner: 'rule:admin_required or rule:owner',
  token_subject: 'user_id:%(target.token.user_id)s',
  admin_or_token_subject: 'rule:admin_required or rule:token_subject',
  service_admin_or_token_subject: 'rule:service_or_admin or rule:token_subject',
  system_reader: 'role:reader and system_scope:all',
  system_admin: 'role:admin and system_scope:all',
  domain_reader: 'role:reader and domain_id:%(target.domain_id)s',
  grants_domain_reader:
    '(role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)',
  domain_matches_role: 'domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s',
} as const;

export const rules = {
  // token.py
  'identity:validate_token':
    'rule:admin_required or rule:system_reader or rule:service_role or rule:token_subject',
  'identity:check_token': 'rule:admin_required or rule:system_reader or rule:token_subject',
  'identity:revoke_token': 'rule:admin_required or rule:token_subject',
  // auth.py: any valid token
  'identity:get_auth_catalog': '',
  'identity:get_auth_projects': '',
  'identity:get_auth_domains': '',
  'identity:get_auth_system': '',
  // users.py (the password change itself is unenforced: it must work with an expired password)
  'identity:get_user':
    'rule:admin_required or rule:system_reader or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
  'identity:list_users': 'rule:admin_required or rule:system_reader or rule:domain_reader',
  'identity:create_user':
    'rule:admin_required or (role:manager and token.domain.id:%(target.user.domain_id)s)',
  'identity:update_user':
    'rule:admin_required or (role:manager and token.domain.id:%(target.user.domain_id)s)',
  'identity:delete_user':
    'rule:admin_required or (role:manager and token.domain.id:%(target.user.domain_id)s)',
  // projects.py, domains.py
  'identity:get_project':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
  'identity:list_projects': 'rule:admin_required or rule:system_reader or rule:domain_reader',
  'identity:create_project': 'rule:admin_required',
  'identity:update_project': 'rule:admin_required',
  'identity:delete_project': 'rule:admin_required',
  'identity:get_domain':
    'rule:admin_required or rule:system_reader or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s',
  'identity:list_domains': 'rule:admin_required or rule:system_reader',
  'identity:create_domain': 'rule:admin_required',
  'identity:update_domain': 'rule:admin_required',
  'identity:delete_domain': 'rule:admin_required',
  // projects.py (tags, a user's projects), users.py and group.py: groups and membership
  'identity:list_user_projects':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s',
  'identity:list_project_tags':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
  'identity:get_project_tag':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s',
  'identity:update_project_tags':
    'rule:admin_required or (role:manager and project_id:%(target.project.id)s)',
  'identity:create_project_tag': 'rule:admin_required or (role:manager and project_id:%(target.project.id)s)',
  'identity:delete_project_tags':
    'rule:admin_required or (role:manager and project_id:%(target.project.id)s)',
  'identity:delete_project_tag': 'rule:admin_required or (role:manager and project_id:%(target.project.id)s)',
  'identity:get_group':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s)',
  'identity:list_groups': 'rule:admin_required or rule:system_reader or rule:domain_reader',
  'identity:list_groups_for_user':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s',
  'identity:create_group':
    'rule:admin_required or (role:manager and token.domain.id:%(target.group.domain_id)s)',
  'identity:update_group':
    'rule:admin_required or (role:manager and token.domain.id:%(target.group.domain_id)s)',
  'identity:delete_group':
    'rule:admin_required or (role:manager and token.domain.id:%(target.group.domain_id)s)',
  'identity:list_users_in_group':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s)',
  'identity:check_user_in_group':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
  'identity:add_user_to_group':
    'rule:admin_required or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
  'identity:remove_user_from_group':
    'rule:admin_required or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)',
  // roles.py, implied_role.py, grant.py
  'identity:list_roles': 'rule:admin_required or rule:system_reader',
  'identity:get_role': 'rule:admin_required or rule:system_reader',
  'identity:create_role': 'rule:admin_required',
  'identity:update_role': 'rule:admin_required',
  'identity:delete_role': 'rule:admin_required',
  'identity:create_grant': 'rule:admin_required',
  'identity:revoke_grant': 'rule:admin_required',
  'identity:list_role_assignments':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)',
  // catalog: services, endpoints, regions
  'identity:get_service': 'rule:admin_required or rule:system_reader',
  'identity:list_services': 'rule:admin_required or rule:system_reader',
  'identity:create_service': 'rule:admin_required',
  'identity:get_endpoint': 'rule:admin_required or rule:system_reader',
  'identity:list_endpoints': 'rule:admin_required or rule:system_reader',
  'identity:create_endpoint': 'rule:admin_required',
  'identity:get_region': '',
  'identity:list_regions': '',
  'identity:create_region': 'rule:admin_required',
  // endpoint_group.py, project_endpoint.py (OS-EP-FILTER)
  'identity:list_endpoint_groups': 'rule:admin_required or rule:system_reader',
  'identity:get_endpoint_group': 'rule:admin_required or rule:system_reader',
  'identity:create_endpoint_group': 'rule:admin_required',
  'identity:update_endpoint_group': 'rule:admin_required',
  'identity:delete_endpoint_group': 'rule:admin_required',
  'identity:list_projects_associated_with_endpoint_group': 'rule:admin_required or rule:system_reader',
  'identity:list_endpoints_associated_with_endpoint_group': 'rule:admin_required or rule:system_reader',
  'identity:get_endpoint_group_in_project': 'rule:admin_required or rule:system_reader',
  'identity:list_endpoint_groups_for_project': 'rule:admin_required or rule:system_reader',
  'identity:add_endpoint_group_to_project': 'rule:admin_required',
  'identity:remove_endpoint_group_from_project': 'rule:admin_required',
  'identity:list_projects_for_endpoint': 'rule:admin_required or rule:system_reader',
  'identity:add_endpoint_to_project': 'rule:admin_required',
  'identity:check_endpoint_in_project': 'rule:admin_required or rule:system_reader',
  'identity:list_endpoints_for_project': 'rule:admin_required or rule:system_reader',
  'identity:remove_endpoint_from_project': 'rule:admin_required',
  // application_credential.py
  'identity:create_application_credential': 'user_id:%(user_id)s',
  'identity:get_application_credential': 'rule:admin_required or rule:system_reader or rule:owner',
  'identity:list_application_credentials': 'rule:admin_required or rule:system_reader or rule:owner',
  'identity:delete_application_credential': 'rule:admin_required or rule:owner',
  // roles.py (domain-specific roles), implied_role.py
  'identity:get_domain_role': 'rule:admin_required or rule:system_reader',
  'identity:list_domain_roles': 'rule:admin_required or rule:system_reader',
  'identity:create_domain_role': 'rule:admin_required',
  'identity:update_domain_role': 'rule:admin_required',
  'identity:delete_domain_role': 'rule:admin_required',
  'identity:get_implied_role': 'rule:admin_required or rule:system_reader',
  'identity:list_implied_roles': 'rule:admin_required or rule:system_reader',
  'identity:list_role_inference_rules': 'rule:admin_required or rule:system_reader',
  'identity:check_implied_role': 'rule:admin_required or rule:system_reader',
  'identity:create_implied_role': 'rule:admin_required',
  'identity:delete_implied_role': 'rule:admin_required',
  // grant.py: a domain reader sees grants of its domain's actors on its domain's targets, for
  // global roles or its domain's own
  'identity:check_grant':
    'rule:admin_required or rule:system_reader or (rule:grants_domain_reader and rule:domain_matches_role)',
  'identity:list_grants': 'rule:admin_required or rule:system_reader or rule:grants_domain_reader',
  // System grants: Keystone 22's defaults still accept the deprecated admin_required (scope is
  // not enforced), so a project-scoped admin may manage them, as `openstack role add --system` does.
  'identity:list_system_grants_for_user': 'rule:admin_required or rule:system_reader',
  'identity:check_system_grant_for_user': 'rule:admin_required or rule:system_reader',
  'identity:create_system_grant_for_user': 'rule:admin_required',
  'identity:revoke_system_grant_for_user': 'rule:admin_required',
  'identity:list_system_grants_for_group': 'rule:admin_required or rule:system_reader',
  'identity:check_system_grant_for_group': 'rule:admin_required or rule:system_reader',
  'identity:create_system_grant_for_group': 'rule:admin_required',
  'identity:revoke_system_grant_for_group': 'rule:admin_required',
  // role_assignment.py
  'identity:list_role_assignments_for_tree':
    'rule:admin_required or rule:system_reader or (role:reader and domain_id:%(target.domain_id)s and not None:%(target.domain_id)s)',
  // service.py, endpoint.py, region.py
  'identity:update_service': 'rule:admin_required',
  'identity:delete_service': 'rule:admin_required',
  'identity:update_endpoint': 'rule:admin_required',
  'identity:delete_endpoint': 'rule:admin_required',
  'identity:update_region': 'rule:admin_required',
  'identity:delete_region': 'rule:admin_required',
  // credential.py
  'identity:get_credential':
    'rule:admin_required or rule:system_reader or user_id:%(target.credential.user_id)s',
  'identity:list_credentials':
    'rule:admin_required or rule:system_reader or user_id:%(target.credential.user_id)s',
  'identity:create_credential': 'rule:admin_required or user_id:%(target.credential.user_id)s',
  'identity:update_credential': 'rule:admin_required or user_id:%(target.credential.user_id)s',
  'identity:delete_credential': 'rule:admin_required or user_id:%(target.credential.user_id)s',
  // access_rule.py
  'identity:get_access_rule': 'rule:system_reader or user_id:%(target.user.id)s',
  'identity:list_access_rules': 'rule:system_reader or user_id:%(target.user.id)s',
  'identity:delete_access_rule': 'rule:system_admin or user_id:%(target.user.id)s',
} as const satisfies Record<string, string>;

export type Action = keyof typeof rules;
