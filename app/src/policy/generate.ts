/**
 * `manage policy-generate`: the rules in force as a commented policy.yaml, in the layout of
 * oslopolicy-sample-generator (description, operations, intended scopes, the rule commented
 * out, its deprecated form). Rules the policy file sets are written uncommented, so the output
 * is itself a valid IDENTITY_POLICY_FILE that reproduces the running configuration.
 */
import type { Policy } from './enforcer.js';

/** oslo.policy's _format_help_text: the text wrapped at 70 columns (textwrap), each line `# `. */
function help(text: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > 70) {
      lines.push(`# ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(`# ${line}`);
  return lines.join('\n');
}

export function generateSample(policy: Policy): string {
  const { enforceScope, enforceNewDefaults } = policy.options;
  const out: string[] = [
    help(
      `Gatehouse identity policy, as in force with IDENTITY_POLICY_ENFORCE_SCOPE=${enforceScope} and IDENTITY_POLICY_ENFORCE_NEW_DEFAULTS=${enforceNewDefaults}. Defaults are Keystone 22.0.2's unless a rule names a later release. Uncomment a rule to override it.`,
    ),
    '',
  ];
  for (const rule of policy.effective) {
    const d = rule.rule;
    const text: string[] = [];
    if (d?.description) text.push(help(d.description));
    for (const op of d?.operations ?? []) {
      const [method, path] = op.split(' ');
      text.push(`# ${method}  ${path}`);
    }
    if (d?.scopeTypes) text.push(`# Intended scope(s): ${d.scopeTypes.join(', ')}`);
    if (d && !d.release.startsWith('Keystone 22')) text.push(`# Default from ${d.release}`);
    if (rule.source === 'policy file') {
      text.push(`${JSON.stringify(rule.name)}: ${JSON.stringify(rule.check)}`);
      if (d) text.push(`# Default: "${d.check}"`);
    } else {
      text.push(`#"${rule.name}": "${d?.check ?? rule.check}"`);
    }
    if (d?.deprecatedForRemoval)
      text.push('', '# DEPRECATED', help(`"${d.name}" has been deprecated since ${d.deprecatedForRemoval}.`));
    else if (d?.deprecated) {
      text.push(
        '',
        '# DEPRECATED',
        help(
          `"${d.name}":"${d.deprecated.check}" has been deprecated since ${d.deprecated.since} in favor of "${d.name}":"${d.check}".`,
        ),
      );
      if (rule.source === 'default or deprecated')
        text.push(help('In force now (new defaults not enforced): the new rule or the deprecated one.'));
    }
    out.push(text.join('\n'), '');
  }
  return out.join('\n');
}
