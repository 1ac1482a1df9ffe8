#!/usr/bin/python3
"""A service's quota check as oslo.limit makes it, against an Identity URL.

    oslo_limit_enforce.py CONFIG_FILE PROJECT_ID RESOURCE_NAME USAGE DELTA

CONFIG_FILE holds the service's [oslo_limit] section (keystoneauth options and the endpoint_id
of the service's endpoint in the catalog). The Enforcer asks Identity for the enforcement model,
the endpoint (its service and region), then the project's limit or the registered default;
USAGE is what the usage callback reports for RESOURCE_NAME, DELTA the claim. Prints one JSON
line: {"result": "within"} (exit 0) or {"result": "over", "over": [...]} (exit 3).
"""
import json
import sys

from oslo_config import cfg
from oslo_limit import exception
from oslo_limit import limit


def main() -> int:
    config_file, project_id, resource_name, usage, delta = sys.argv[1:6]
    cfg.CONF([], project='gatehouse-limit-check', default_config_files=[config_file])

    def usage_callback(project, resource_names):
        assert project == project_id, project
        return {name: int(usage) for name in resource_names}

    enforcer = limit.Enforcer(usage_callback, cache=False)
    try:
        enforcer.enforce(project_id, {resource_name: int(delta)})
    except exception.ProjectOverLimit as over:
        print(json.dumps({
            'result': 'over',
            'project_id': over.project_id,
            'over': [
                {'resource_name': o.resource_name, 'limit': o.limit,
                 'current_usage': o.current_usage, 'delta': o.delta}
                for o in over.over_limit_info_list
            ],
        }))
        return 3
    print(json.dumps({'result': 'within'}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
