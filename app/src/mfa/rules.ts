/**
 * A user's multi-factor rules (the `multi_factor_auth_rules` and `multi_factor_auth_enabled`
 * options) as Keystone reads and checks them (keystone/auth/core.py UserMFARulesValidator,
 * keystone/models/receipt_model.py required_methods), and as its API validates them on write
 * (the option's JSON schema, keystone/identity/backends/resource_options.py), with the texts
 * Keystone's jsonschema validator gives. Pure.
 */
import { validation } from '../errors.js';

export interface MfaOptions {
  multi_factor_auth_enabled?: boolean;
  multi_factor_auth_rules?: unknown;
}

/**
 * The stored rules made usable: only lists of strings, no empty ones, duplicates dropped
 * (Keystone's _parse_rule_structure: corrupt data means no rules).
 */
export function parseRules(rules: unknown): string[][] {
  if (!Array.isArray(rules)) return [];
  const out: string[][] = [];
  for (const rule of rules) {
    if (!Array.isArray(rule) || rule.length === 0) continue;
    if (!rule.every((m): m is string => typeof m === 'string')) continue;
    out.push([...new Set(rule)]);
  }
  return out;
}

/**
 * Whether the methods that succeeded satisfy the user's rules: yes when the rules are off
 * (`multi_factor_auth_enabled` false; absent counts as on) or empty, or when some rule's methods,
 * as far as they are loaded, are all among them.
 */
export function satisfiesRules(
  options: MfaOptions,
  methods: ReadonlySet<string>,
  loaded: readonly string[],
): boolean {
  const rules = parseRules(options.multi_factor_auth_rules);
  if (rules.length === 0 || options.multi_factor_auth_enabled === false) return true;
  return rules.some((rule) => rule.filter((m) => loaded.includes(m)).every((m) => methods.has(m)));
}

/** The rules (loaded methods only) that share a method with those given: a receipt's "required_auth_methods". */
export function requiredMethods(
  options: MfaOptions,
  methods: ReadonlySet<string>,
  loaded: readonly string[],
): string[][] {
  return parseRules(options.multi_factor_auth_rules)
    .map((rule) => rule.filter((m) => loaded.includes(m)))
    .filter((rule) => rule.some((m) => methods.has(m)));
}

// --- validation on write --------------------------------------------------------------------

/** Python's repr() of a JSON value, as jsonschema's messages show instances. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = quote;
    for (const ch of value) {
      const code = ch.codePointAt(0) as number;
      if (ch === '\\') out += '\\\\';
      else if (ch === quote) out += `\\${quote}`;
      else if (ch === '\n') out += '\\n';
      else if (ch === '\r') out += '\\r';
      else if (ch === '\t') out += '\\t';
      else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
      else out += ch;
    }
    return out + quote;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

// The option's schema as Keystone's message prints it (pprint, width 72), at each level.
const RULES_SCHEMA = `{'items': {'items': {'type': 'string'},
               'minItems': 1,
               'type': 'array',
               'uniqueItems': True},
     'type': ['array', 'null'],
     'uniqueItems': True}`;
const RULE_SCHEMA = `{'items': {'type': 'string'},
     'minItems': 1,
     'type': 'array',
     'uniqueItems': True}`;
const METHOD_SCHEMA = `{'type': 'string'}`;
const SCHEMA_PATH = "schema['properties']['options']['properties']['multi_factor_auth_rules']";
const INSTANCE_PATH = "instance['options']['multi_factor_auth_rules']";

function schemaError(
  message: string,
  level: { schema: string; schemaPath: string; indices: number[]; keyword: string },
  instance: unknown,
): never {
  const field = ['options', 'multi_factor_auth_rules', ...level.indices].join('/');
  const at = level.indices.map((i) => `[${i}]`).join('');
  throw validation(
    `Invalid input for field '${field}': ${message}\n\nFailed validating '${level.keyword}' in ${level.schemaPath}:\n    ${level.schema}\n\nOn ${INSTANCE_PATH}${at}:\n    ${pyRepr(instance)}`,
  );
}

const unique = (items: unknown[]) => new Set(items.map((i) => JSON.stringify(i))).size === items.length;

/**
 * `multi_factor_auth_rules` as Keystone's schema accepts it: null (remove), or a list of
 * non-empty lists of strings, neither with duplicates. The first failure in the order
 * jsonschema finds it, worded as Keystone words it (400).
 */
export function validateRulesOption(value: unknown): void {
  if (value === null) return;
  const top = { schema: RULES_SCHEMA, schemaPath: SCHEMA_PATH, indices: [] };
  if (!Array.isArray(value))
    schemaError(`${pyRepr(value)} is not of type 'array', 'null'`, { ...top, keyword: 'type' }, value);
  value.forEach((rule: unknown, i) => {
    const level = { schema: RULE_SCHEMA, schemaPath: `${SCHEMA_PATH}['items']`, indices: [i] };
    if (!Array.isArray(rule))
      schemaError(`${pyRepr(rule)} is not of type 'array'`, { ...level, keyword: 'type' }, rule);
    rule.forEach((method: unknown, j) => {
      if (typeof method !== 'string')
        schemaError(
          `${pyRepr(method)} is not of type 'string'`,
          {
            schema: METHOD_SCHEMA,
            schemaPath: `${SCHEMA_PATH}['items']['items']`,
            indices: [i, j],
            keyword: 'type',
          },
          method,
        );
    });
    if (rule.length === 0) schemaError('[] is too short', { ...level, keyword: 'minItems' }, rule);
    if (!unique(rule))
      schemaError(`${pyRepr(rule)} has non-unique elements`, { ...level, keyword: 'uniqueItems' }, rule);
  });
  if (!unique(value))
    schemaError(`${pyRepr(value)} has non-unique elements`, { ...top, keyword: 'uniqueItems' }, value);
}
