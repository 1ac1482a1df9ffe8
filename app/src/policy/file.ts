/**
 * The operator's policy file (IDENTITY_POLICY_FILE): YAML or JSON, rule name to check string,
 * as Keystone's policy.yaml. Read once per process at start-up (a gateway reload starts new
 * workers, which read it again); any problem stops start-up with one line naming the file and
 * the rule.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { IdentityError } from '../errors.js';
import { Policy, type PolicyOptions } from './enforcer.js';

export interface PolicySettings {
  policyEnforceScope: boolean;
  policyEnforceNewDefaults: boolean;
  policyFile: string | null;
}

/** Rule name to check string; throws a one-line Error for anything else. */
export function parsePolicyFile(text: string): Record<string, string> {
  let doc: unknown;
  try {
    // YAML 1.2 is a superset of JSON, as oslo.policy reads both with one loader.
    doc = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    throw new Error(`not YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new Error('expected a mapping of rule names to check strings');
  const rules: Record<string, string> = {};
  for (const [name, value] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof value !== 'string')
      throw new Error(
        `rule "${name}": expected a check string, got ${Array.isArray(value) ? 'a list' : typeof value}`,
      );
    rules[name] = value;
  }
  return rules;
}

/** The app's Policy from its settings: the switches, and the policy file when one is named. */
export function createPolicy(settings: PolicySettings): Policy {
  const options: PolicyOptions = {
    enforceScope: settings.policyEnforceScope,
    enforceNewDefaults: settings.policyEnforceNewDefaults,
  };
  const file = settings.policyFile;
  if (file === null) return new Policy(options);
  const fail = (problem: string): never => {
    throw new IdentityError('IDN_ERR_CONFIG', `IDENTITY_POLICY_FILE=${JSON.stringify(file)}: ${problem}`);
  };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    fail(`not readable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return new Policy({ ...options, overrides: parsePolicyFile(text) });
  } catch (err) {
    return fail((err as Error).message);
  }
}
