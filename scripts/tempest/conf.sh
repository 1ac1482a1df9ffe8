#!/usr/bin/env bash
# Writes a tempest.conf for a Gatehouse stack to stdout: conf.sh URL ADMIN_PASSWORD
# Identity only: every other service is declared absent. The identity features are the ones
# Keystone 22 has; the security-compliance figures match what scripts/tempest.sh starts the stack
# with. TEMPEST_ENFORCE_SCOPE=true describes a stack run with secure RBAC
# (IDENTITY_POLICY_ENFORCE_SCOPE and IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS).
set -euo pipefail
url=${1:?usage: conf.sh URL ADMIN_PASSWORD}
password=${2:?usage: conf.sh URL ADMIN_PASSWORD}
scope=${TEMPEST_ENFORCE_SCOPE:-false}
cat <<CONF
[DEFAULT]
use_stderr = false
log_file = tempest.log

[auth]
admin_username = admin
admin_password = $password
admin_project_name = admin
admin_domain_name = Default
admin_system = true
use_dynamic_credentials = true
create_isolated_networks = false
tempest_roles = member

[identity]
uri_v3 = $url/v3
auth_version = v3
region = RegionOne
v3_endpoint_type = public
default_domain_id = default
admin_role = admin
user_lockout_failure_attempts = ${IDENTITY_LOCKOUT_FAILURE_ATTEMPTS:-2}
user_lockout_duration = ${IDENTITY_LOCKOUT_DURATION:-5}
user_unique_last_password_count = ${IDENTITY_UNIQUE_LAST_PASSWORD_COUNT:-2}

[identity-feature-enabled]
api_v2 = false
api_v2_admin = false
api_v3 = true
api_extensions = all
trust = true
project_tags = true
application_credentials = true
access_rules = true
security_compliance = true
immutable_user_source = false
federation = true
external_idp = false
enforce_scope = $scope

[enforce_scope]
keystone = $scope

[service_available]
cinder = false
glance = false
neutron = false
nova = false
swift = false
horizon = false
placement = false

[validation]
run_validation = false
CONF
