/**
 * JSON-Home (RFC draft-nottingham-json-home), as Keystone answers `Accept: application/json-home`
 * on GET / and GET /v3: one relation per resource it serves. The table is Keystone 22's own (its
 * APIs register these relations in keystone/common/json_home.py); the document lists only those
 * whose path this service routes, so a client reading it to find features (OS-TRUST,
 * OS-EP-FILTER …) sees what is really here, and a family added later shows up by itself.
 */

const BASE = 'https://docs.openstack.org/api/openstack-identity/3/';

/** The path parameters whose relation is not param/{name}: an extension's own, or another name. */
const PARAMS: Readonly<Record<string, string>> = {
  endpoint_group_id: 'ext/OS-EP-FILTER/1.0/param/endpoint_group_id',
  idp_id: 'ext/OS-FEDERATION/1.0/param/idp_id',
  protocol_id: 'ext/OS-FEDERATION/1.0/param/protocol_id',
  mapping_id: 'ext/OS-FEDERATION/1.0/param/mapping_id',
  sp_id: 'ext/OS-FEDERATION/1.0/param/sp_id',
  request_token_id: 'ext/OS-OAUTH1/1.0/param/request_token_id',
  consumer_id: 'ext/OS-OAUTH1/1.0/param/consumer_id',
  access_token_id: 'ext/OS-OAUTH1/1.0/param/access_token_id',
  trust_id: 'ext/OS-TRUST/1.0/param/trust_id',
  group: 'param/config_group',
  option: 'param/config_option',
  prior_role_id: 'param/role_id',
  implied_role_id: 'param/role_id',
  value: 'param/tag_value',
};

type Extra = { hints?: Record<string, string> };
/** [relation, path, hints]. */
const relations: ReadonlyArray<readonly [string, string, Extra?]> = [
  ['ext/OS-EC2/1.0/rel/ec2tokens', '/v3/ec2tokens'],
  ['ext/OS-EC2/1.0/rel/user_credential', '/v3/users/{user_id}/credentials/OS-EC2/{credential_id}'],
  ['ext/OS-EC2/1.0/rel/user_credentials', '/v3/users/{user_id}/credentials/OS-EC2'],
  ['ext/OS-ENDPOINT-POLICY/1.0/rel/endpoint_policy', '/v3/endpoints/{endpoint_id}/OS-ENDPOINT-POLICY/policy'],
  [
    'ext/OS-ENDPOINT-POLICY/1.0/rel/endpoint_policy_association',
    '/v3/policies/{policy_id}/OS-ENDPOINT-POLICY/endpoints/{endpoint_id}',
  ],
  [
    'ext/OS-ENDPOINT-POLICY/1.0/rel/policy_endpoints',
    '/v3/policies/{policy_id}/OS-ENDPOINT-POLICY/endpoints',
  ],
  [
    'ext/OS-ENDPOINT-POLICY/1.0/rel/region_and_service_policy_association',
    '/v3/policies/{policy_id}/OS-ENDPOINT-POLICY/services/{service_id}/regions/{region_id}',
  ],
  [
    'ext/OS-ENDPOINT-POLICY/1.0/rel/service_policy_association',
    '/v3/policies/{policy_id}/OS-ENDPOINT-POLICY/services/{service_id}',
  ],
  ['ext/OS-EP-FILTER/1.0/rel/endpoint_group', '/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}'],
  [
    'ext/OS-EP-FILTER/1.0/rel/endpoint_group_to_project_association',
    '/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}',
  ],
  ['ext/OS-EP-FILTER/1.0/rel/endpoint_groups', '/v3/OS-EP-FILTER/endpoint_groups'],
  ['ext/OS-EP-FILTER/1.0/rel/endpoint_projects', '/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects'],
  [
    'ext/OS-EP-FILTER/1.0/rel/endpoints_in_endpoint_group',
    '/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints',
  ],
  [
    'ext/OS-EP-FILTER/1.0/rel/project_endpoint',
    '/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}',
  ],
  [
    'ext/OS-EP-FILTER/1.0/rel/project_endpoint_groups',
    '/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups',
  ],
  ['ext/OS-EP-FILTER/1.0/rel/project_endpoints', '/v3/OS-EP-FILTER/projects/{project_id}/endpoints'],
  [
    'ext/OS-EP-FILTER/1.0/rel/projects_associated_with_endpoint_group',
    '/v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects',
  ],
  ['ext/OS-FEDERATION/1.0/rel/domains', '/v3/auth/domains'],
  ['ext/OS-FEDERATION/1.0/rel/ecp', '/v3/auth/OS-FEDERATION/saml2/ecp'],
  ['ext/OS-FEDERATION/1.0/rel/identity_provider', '/v3/OS-FEDERATION/identity_providers/{idp_id}'],
  [
    'ext/OS-FEDERATION/1.0/rel/identity_provider_protocol',
    '/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}',
  ],
  [
    'ext/OS-FEDERATION/1.0/rel/identity_provider_protocol_auth',
    '/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/auth',
  ],
  [
    'ext/OS-FEDERATION/1.0/rel/identity_provider_protocols',
    '/v3/OS-FEDERATION/identity_providers/{idp_id}/protocols',
  ],
  ['ext/OS-FEDERATION/1.0/rel/identity_providers', '/v3/OS-FEDERATION/identity_providers'],
  [
    'ext/OS-FEDERATION/1.0/rel/identity_providers_websso',
    '/v3/auth/OS-FEDERATION/identity_providers/{idp_id}/protocols/{protocol_id}/websso',
  ],
  ['ext/OS-FEDERATION/1.0/rel/mapping', '/v3/OS-FEDERATION/mappings/{mapping_id}'],
  ['ext/OS-FEDERATION/1.0/rel/mappings', '/v3/OS-FEDERATION/mappings'],
  ['ext/OS-FEDERATION/1.0/rel/metadata', '/v3/OS-FEDERATION/saml2/metadata'],
  ['ext/OS-FEDERATION/1.0/rel/projects', '/v3/auth/projects'],
  ['ext/OS-FEDERATION/1.0/rel/saml2', '/v3/auth/OS-FEDERATION/saml2'],
  ['ext/OS-FEDERATION/1.0/rel/service_provider', '/v3/OS-FEDERATION/service_providers/{sp_id}'],
  ['ext/OS-FEDERATION/1.0/rel/service_providers', '/v3/OS-FEDERATION/service_providers'],
  ['ext/OS-FEDERATION/1.0/rel/websso', '/v3/auth/OS-FEDERATION/websso/{protocol_id}'],
  [
    'ext/OS-INHERIT/1.0/rel/domain_group_role_inherited_to_projects',
    '/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects',
  ],
  [
    'ext/OS-INHERIT/1.0/rel/domain_group_roles_inherited_to_projects',
    '/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects',
  ],
  [
    'ext/OS-INHERIT/1.0/rel/domain_user_role_inherited_to_projects',
    '/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/{role_id}/inherited_to_projects',
  ],
  [
    'ext/OS-INHERIT/1.0/rel/domain_user_roles_inherited_to_projects',
    '/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects',
  ],
  [
    'ext/OS-INHERIT/1.0/rel/project_group_role_inherited_to_projects',
    '/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}/roles/{role_id}/inherited_to_projects',
  ],
  [
    'ext/OS-INHERIT/1.0/rel/project_user_role_inherited_to_projects',
    '/v3/OS-INHERIT/projects/{project_id}/users/{user_id}/roles/{role_id}/inherited_to_projects',
  ],
  ['ext/OS-OAUTH1/1.0/rel/access_tokens', '/v3/OS-OAUTH1/access_token'],
  ['ext/OS-OAUTH1/1.0/rel/authorize_request_token', '/v3/OS-OAUTH1/authorize/{request_token_id}'],
  ['ext/OS-OAUTH1/1.0/rel/consumer', '/v3/OS-OAUTH1/consumers/{consumer_id}'],
  ['ext/OS-OAUTH1/1.0/rel/consumers', '/v3/OS-OAUTH1/consumers'],
  ['ext/OS-OAUTH1/1.0/rel/request_tokens', '/v3/OS-OAUTH1/request_token'],
  [
    'ext/OS-OAUTH1/1.0/rel/user_access_token',
    '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}',
  ],
  [
    'ext/OS-OAUTH1/1.0/rel/user_access_token_role',
    '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}',
  ],
  [
    'ext/OS-OAUTH1/1.0/rel/user_access_token_roles',
    '/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles',
  ],
  ['ext/OS-OAUTH1/1.0/rel/user_access_tokens', '/v3/users/{user_id}/OS-OAUTH1/access_tokens'],
  ['ext/OS-OAUTH2/1.0/rel/token', '/v3/OS-OAUTH2/token'],
  ['ext/OS-PKI/1.0/rel/revocations', '/v3/auth/tokens/OS-PKI/revoked'],
  ['ext/OS-REVOKE/1.0/rel/events', '/v3/OS-REVOKE/events'],
  ['ext/OS-SIMPLE-CERT/1.0/rel/ca_certificate', '/v3/OS-SIMPLE-CERT/ca'],
  ['ext/OS-SIMPLE-CERT/1.0/rel/certificates', '/v3/OS-SIMPLE-CERT/certificates'],
  ['ext/OS-TRUST/1.0/rel/trust', '/v3/OS-TRUST/trusts/{trust_id}'],
  ['ext/OS-TRUST/1.0/rel/trust_role', '/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}'],
  ['ext/OS-TRUST/1.0/rel/trust_roles', '/v3/OS-TRUST/trusts/{trust_id}/roles'],
  ['ext/OS-TRUST/1.0/rel/trusts', '/v3/OS-TRUST/trusts'],
  ['ext/s3tokens/1.0/rel/s3tokens', '/v3/s3tokens'],
  ['rel/access_rule', '/v3/users/{user_id}/access_rules/{access_rule_id}'],
  ['rel/access_rules', '/v3/users/{user_id}/access_rules'],
  ['rel/application_credential', '/v3/users/{user_id}/application_credentials/{application_credential_id}'],
  ['rel/application_credentials', '/v3/users/{user_id}/application_credentials'],
  ['rel/auth_catalog', '/v3/auth/catalog'],
  ['rel/auth_domains', '/v3/auth/domains'],
  ['rel/auth_projects', '/v3/auth/projects'],
  ['rel/auth_system', '/v3/auth/system'],
  ['rel/auth_tokens', '/v3/auth/tokens'],
  ['rel/credential', '/v3/credentials/{credential_id}'],
  ['rel/credentials', '/v3/credentials'],
  ['rel/domain', '/v3/domains/{domain_id}'],
  ['rel/domain_config', '/v3/domains/{domain_id}/config'],
  ['rel/domain_config_default', '/v3/domains/config/default'],
  ['rel/domain_config_default_group', '/v3/domains/config/{group}/default'],
  ['rel/domain_config_default_option', '/v3/domains/config/{group}/{option}/default'],
  ['rel/domain_config_group', '/v3/domains/{domain_id}/config/{group}'],
  ['rel/domain_config_option', '/v3/domains/{domain_id}/config/{group}/{option}'],
  ['rel/domain_group_role', '/v3/domains/{domain_id}/groups/{group_id}/roles/{role_id}'],
  ['rel/domain_group_roles', '/v3/domains/{domain_id}/groups/{group_id}/roles'],
  ['rel/domain_user_role', '/v3/domains/{domain_id}/users/{user_id}/roles/{role_id}'],
  ['rel/domain_user_roles', '/v3/domains/{domain_id}/users/{user_id}/roles'],
  ['rel/domains', '/v3/domains'],
  ['rel/endpoint', '/v3/endpoints/{endpoint_id}'],
  ['rel/endpoints', '/v3/endpoints'],
  ['rel/group', '/v3/groups/{group_id}'],
  ['rel/group_user', '/v3/groups/{group_id}/users/{user_id}'],
  ['rel/group_users', '/v3/groups/{group_id}/users'],
  ['rel/groups', '/v3/groups'],
  ['rel/implied_role', '/v3/roles/{prior_role_id}/implies/{implied_role_id}'],
  ['rel/implied_roles', '/v3/roles/{prior_role_id}/implies'],
  ['rel/limit', '/v3/limits/{limit_id}', { hints: { status: 'experimental' } }],
  ['rel/limit_model', '/v3/limits/model', { hints: { status: 'experimental' } }],
  ['rel/limits', '/v3/limits', { hints: { status: 'experimental' } }],
  ['rel/policies', '/v3/policies'],
  ['rel/policy', '/v3/policies/{policy_id}'],
  ['rel/project', '/v3/projects/{project_id}'],
  ['rel/project_group_role', '/v3/projects/{project_id}/groups/{group_id}/roles/{role_id}'],
  ['rel/project_group_roles', '/v3/projects/{project_id}/groups/{group_id}/roles'],
  ['rel/project_tags', '/v3/projects/{project_id}/tags/{value}'],
  ['rel/project_user_role', '/v3/projects/{project_id}/users/{user_id}/roles/{role_id}'],
  ['rel/project_user_roles', '/v3/projects/{project_id}/users/{user_id}/roles'],
  ['rel/projects', '/v3/projects'],
  ['rel/region', '/v3/regions/{region_id}'],
  ['rel/regions', '/v3/regions'],
  [
    'rel/registered_limit',
    '/v3/registered_limits/{registered_limit_id}',
    { hints: { status: 'experimental' } },
  ],
  ['rel/registered_limits', '/v3/registered_limits', { hints: { status: 'experimental' } }],
  ['rel/role', '/v3/roles/{role_id}'],
  ['rel/role_assignments', '/v3/role_assignments'],
  ['rel/role_inferences', '/v3/role_inferences'],
  ['rel/roles', '/v3/roles'],
  ['rel/service', '/v3/services/{service_id}'],
  ['rel/services', '/v3/services'],
  ['rel/system_group_role', '/v3/system/groups/{group_id}/roles/{role_id}'],
  ['rel/system_group_roles', '/v3/system/groups/{group_id}/roles'],
  ['rel/system_user_role', '/v3/system/users/{user_id}/roles/{role_id}'],
  ['rel/system_user_roles', '/v3/system/users/{user_id}/roles'],
  ['rel/user', '/v3/users/{user_id}'],
  ['rel/user_change_password', '/v3/users/{user_id}/password'],
  ['rel/user_groups', '/v3/users/{user_id}/groups'],
  ['rel/user_projects', '/v3/users/{user_id}/projects'],
  ['rel/users', '/v3/users'],
];

export type JsonHome = { resources: Record<string, Record<string, unknown>> };

/**
 * The document for the routes `served` answers GET for. `prefix` '' gives Keystone's /v3 form
 * (paths relative to /v3), '/v3' its root form.
 */
export function jsonHome(served: (path: string) => boolean, prefix: '' | '/v3'): JsonHome {
  const resources: JsonHome['resources'] = {};
  for (const [rel, path, extra] of relations) {
    if (!served(path.replace(/\{(\w+)\}/g, ':$1'))) continue;
    const href = prefix + path.slice('/v3'.length);
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string);
    const resource: Record<string, unknown> =
      names.length === 0
        ? { href }
        : {
            'href-template': href,
            'href-vars': Object.fromEntries(names.map((n) => [n, BASE + (PARAMS[n] ?? `param/${n}`)])),
          };
    if (extra?.hints) resource.hints = extra.hints;
    resources[BASE + rel] = resource;
  }
  return { resources };
}
