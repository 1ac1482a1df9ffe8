#!/usr/bin/python3
"""Runs Keystone 22's own mapping engine over its test fixtures and writes what it maps.

Every mapping in keystone/tests/unit/mapping_fixtures.py is checked against Keystone's schema
(the message it gives, '' when valid), and every valid one is run
against every assertion there (python3-keystone must be installed; run with /usr/bin/python3):
the result, or the error Keystone raises, becomes one case of
app/test/fixtures/keystone-mapping-cases.json, which app/test/federation-engine.test.ts replays
against app/src/federation/engine.ts. Python sets make the order of group_ids (and of whitelist
and blacklist results) arbitrary: the file keeps group_ids sorted, and whitelist and blacklist
results in the assertion's order (Keystone's own result, reordered).

    /usr/bin/python3 scripts/keystone-mapping-cases.py > app/test/fixtures/keystone-mapping-cases.json
    npx biome format --write app/test/fixtures/keystone-mapping-cases.json
"""
import json
import sys

from keystone import exception
from keystone.federation import utils
from keystone.tests.unit import mapping_fixtures as fixtures


_evaluate = utils.RuleProcessor._evaluate_requirement


def _in_assertion_order(self, values, assertion_values, eval_type, regex):
    """Keystone's result, its list (a Python set's, in hash order) put in the assertion's order."""
    result = _evaluate(self, values, assertion_values, eval_type, regex)
    if isinstance(result, list):
        result.sort(key=assertion_values.index)
    return result


utils.RuleProcessor._evaluate_requirement = _in_assertion_order


def plain(value):
    try:
        json.dumps(value)
        return True
    except TypeError:
        return False


def main():
    names = sorted(dir(fixtures))
    mappings = [(n, getattr(fixtures, n)) for n in names
                if isinstance(getattr(fixtures, n), dict) and 'rules' in getattr(fixtures, n)]
    assertions = [(n, getattr(fixtures, n)) for n in names
                  if n.endswith('ASSERTION') and isinstance(getattr(fixtures, n), dict)
                  and plain(getattr(fixtures, n))]
    cases = []
    schema = {}
    for mname, mapping in mappings:
        try:
            utils.validate_mapping_structure(mapping)
            schema[mname] = ''
        except exception.ValidationError as e:
            schema[mname] = str(e)
            continue
        for aname, assertion in assertions:
            case = {'mapping': mname, 'assertion': aname}
            try:
                mapped = utils.RuleProcessor('m', mapping['rules']).process(assertion)
                mapped['group_ids'] = sorted(mapped['group_ids'], key=str)
                case['mapped'] = mapped
            except exception.Error as e:
                case['error'] = {'type': type(e).__name__, 'message': str(e)}
            except Exception as e:  # Keystone itself fails (a 500)
                case['crash'] = type(e).__name__
            cases.append(case)
    json.dump({
        'mappings': {n: m for n, m in mappings},
        'schema': schema,
        'assertions': {n: a for n, a in assertions},
        'cases': cases,
    }, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
