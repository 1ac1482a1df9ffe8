/**
 * A small oslo.policy. `Policy` compiles the effective rules once, as oslo.policy's Enforcer
 * does on load: an operator's rule (the policy file) replaces the default; otherwise, unless
 * new defaults are enforced, a rule with a deprecated form is `new or deprecated`. Then it
 * evaluates them against the caller's credentials and the action's target, after the scope
 * check (`enforce_scope`). Syntax: `or`, `and`, `not`, parentheses, `@`, `!`, `rule:`, `role:`,
 * `key:value`, `key:%(path)s`, literals on the left (`None:`, `'member':`, `True:`). No HTTP
 * types: api/ builds both objects.
 */
import { forbidden } from '../errors.js';
import { type Action, defaults, type RuleDefault, type ScopeType } from './rules.js';

/** The caller, as oslo.policy sees a token (keys as in keystone's policy credentials). */
export interface Credentials {
  user_id: string;
  user_domain_id: string;
  project_id: string | null;
  project_domain_id: string | null;
  /** The domain of a domain-scoped token. */
  domain_id: string | null;
  system_scope: 'all' | null;
  roles: readonly string[];
}

export type PolicyTarget = Record<string, unknown>;

export interface PolicyOptions {
  /** oslo.policy's `enforce_scope`: a token whose scope the action does not accept gets 403. */
  enforceScope: boolean;
  /** oslo.policy's `enforce_new_defaults`: deprecated rules are no longer OR-ed in. */
  enforceNewDefaults: boolean;
  /** Operator rules (a policy file): rule name to check string. */
  overrides?: Readonly<Record<string, string>>;
}

type Node =
  | { op: 'true' }
  | { op: 'false' }
  | { op: 'and' | 'or'; of: Node[] }
  | { op: 'not'; of: Node }
  | { op: 'rule'; name: string }
  | { op: 'role'; value: string }
  | { op: 'check'; key: string; literal: string | null; value: string };

/** Why a check string cannot be parsed (message names the offending token). */
export class PolicySyntaxError extends Error {}

/** oslo.policy's tokenizer: split on spaces, peel parentheses off each word's ends. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const open = /^\(*/.exec(word)?.[0].length ?? 0;
    const close = /\)*$/.exec(word.slice(open))?.[0].length ?? 0;
    for (let i = 0; i < open; i++) tokens.push('(');
    const core = word.slice(open, word.length - close);
    if (core) tokens.push(['and', 'or', 'not'].includes(core.toLowerCase()) ? core.toLowerCase() : core);
    for (let i = 0; i < close; i++) tokens.push(')');
  }
  return tokens;
}

/** ast.literal_eval for the left side of a generic check: the string it compares, or null. */
function literalOf(key: string): string | null {
  if (key === 'None' || key === 'True' || key === 'False') return key;
  const quoted = /^'([^']*)'$|^"([^"]*)"$/.exec(key);
  if (quoted) return quoted[1] ?? quoted[2] ?? '';
  if (/^-?\d+$/.test(key)) return String(Number(key));
  return null;
}

export function parse(text: string): Node {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at];
  const orExpr = (): Node => {
    const of = [andExpr()];
    while (peek() === 'or') {
      at++;
      of.push(andExpr());
    }
    return of.length === 1 ? (of[0] as Node) : { op: 'or', of };
  };
  const andExpr = (): Node => {
    const of = [unary()];
    while (peek() === 'and') {
      at++;
      of.push(unary());
    }
    return of.length === 1 ? (of[0] as Node) : { op: 'and', of };
  };
  const unary = (): Node => {
    const token = tokens[at++];
    if (token === undefined) throw new PolicySyntaxError(`unexpected end of "${text}"`);
    if (token === 'not') return { op: 'not', of: unary() };
    if (token === '(') {
      const inner = orExpr();
      if (tokens[at++] !== ')') throw new PolicySyntaxError(`missing ) in "${text}"`);
      return inner;
    }
    if (token === ')' || token === 'and' || token === 'or')
      throw new PolicySyntaxError(`unexpected "${token}" in "${text}"`);
    if (token === '@') return { op: 'true' };
    if (token === '!') return { op: 'false' };
    const colon = token.indexOf(':');
    if (colon < 1 || colon === token.length - 1)
      throw new PolicySyntaxError(`"${token}" is not a check (kind:match) in "${text}"`);
    const key = token.slice(0, colon);
    const value = token.slice(colon + 1);
    if (key === 'rule') return { op: 'rule', name: value };
    if (key === 'role') return { op: 'role', value };
    if (/%\(/.test(value) && !/^(?:[^%]|%\([^)]+\)s)*$/.test(value))
      throw new PolicySyntaxError(`"${token}": a substitution is written %(name)s, in "${text}"`);
    return { op: 'check', key, literal: literalOf(key), value };
  };
  if (tokens.length === 0) return { op: 'true' }; // '' : anyone with a valid token
  const node = orExpr();
  if (at !== tokens.length) throw new PolicySyntaxError(`unexpected "${tokens[at]}" in "${text}"`);
  return node;
}

const lookup = (from: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' && k in v ? (v as Record<string, unknown>)[k] : undefined),
      from,
    );

/** Python's str() of a value, as oslo.policy compares them. */
const pyStr = (v: unknown): string =>
  v === null ? 'None' : v === true ? 'True' : v === false ? 'False' : String(v);

/**
 * `%(target.x)s` and `%(x)s` both read the target (Keystone flattens it under "target." and
 * adds the path's parameters; api/ gives both in one object). A missing key fails the check,
 * as oslo.policy's KeyError does. Returns null for a missing key; `substituted` says whether
 * the value came from the target.
 */
function substitute(
  value: string,
  target: PolicyTarget,
): { text: string; substituted: boolean; nullish: boolean } | null {
  if (!value.includes('%(')) return { text: value, substituted: false, nullish: false };
  let missing = false;
  let nullish = false;
  const text = value.replace(/%\(([^)]+)\)s/g, (_, path: string) => {
    const v = lookup(target, path.replace(/^target\./, ''));
    if (v === undefined) missing = true;
    if (v === null) nullish = true;
    return pyStr(v);
  });
  return missing ? null : { text, substituted: true, nullish };
}

/** Credentials keys Keystone exposes with dotted names (token.domain.id …). */
function credential(who: Credentials, key: string): unknown {
  switch (key) {
    case 'token.domain.id':
      return who.domain_id;
    case 'token.project.id':
      return who.project_id;
    case 'token.project.domain.id':
      return who.project_domain_id;
    case 'token.user.id':
      return who.user_id;
    case 'token.user.domain.id':
      return who.user_domain_id;
    case 'system':
      return who.system_scope;
    default:
      return lookup(who, key);
  }
}

/** The scope of a token as oslo.policy tells it: system, else domain, else project (unscoped too). */
export function scopeOf(who: Credentials): ScopeType {
  return who.system_scope ? 'system' : who.domain_id ? 'domain' : 'project';
}

function references(node: Node, out: string[] = []): string[] {
  if (node.op === 'rule') out.push(node.name);
  else if (node.op === 'and' || node.op === 'or') for (const n of node.of) references(n, out);
  else if (node.op === 'not') references(node.of, out);
  return out;
}

/** A rule as the enforcer applies it, for `manage policy-generate` and the docs. */
export interface EffectiveRule {
  name: string;
  /** The check string applied. */
  check: string;
  /** Where it comes from. */
  source: 'default' | 'default or deprecated' | 'policy file';
  rule: RuleDefault | null;
}

/** Problems with operator rules, each naming the rule: empty when the file is usable. */
export function validateOverrides(overrides: Readonly<Record<string, string>>): string[] {
  const known = new Set(defaults.map((d) => d.name));
  const problems: string[] = [];
  const parsed = new Map<string, Node>();
  for (const [name, text] of Object.entries(overrides)) {
    try {
      parsed.set(name, parse(text));
    } catch (err) {
      problems.push(`rule "${name}": ${(err as Error).message}`);
    }
  }
  // A name the defaults lack is allowed only as a helper some rule refers to (rule:<name>);
  // otherwise it is a typo that would silently leave the intended default in place.
  const referenced = new Set<string>();
  for (const node of parsed.values()) for (const r of references(node)) referenced.add(r);
  for (const d of defaults)
    if (!(d.name in overrides)) for (const r of references(parse(d.check))) referenced.add(r);
  for (const name of Object.keys(overrides))
    if (!known.has(name) && !referenced.has(name)) problems.push(`unknown rule "${name}"`);
  for (const [name, node] of parsed)
    for (const r of references(node))
      if (!known.has(r) && !(r in overrides)) problems.push(`rule "${name}": rule:${r} is not defined`);
  return problems;
}

export class Policy {
  readonly options: Readonly<PolicyOptions>;
  readonly #rules = new Map<string, Node>();
  readonly #scopes = new Map<string, readonly ScopeType[] | null>();
  readonly #effective: EffectiveRule[] = [];

  constructor(options: PolicyOptions) {
    this.options = options;
    const overrides = options.overrides ?? {};
    const problems = validateOverrides(overrides);
    if (problems.length > 0) throw new PolicySyntaxError(problems[0]);
    for (const rule of defaults) {
      const own = overrides[rule.name];
      let check = rule.check;
      let source: EffectiveRule['source'] = 'default';
      if (own !== undefined) {
        check = own;
        source = 'policy file';
      } else if (rule.deprecated && !options.enforceNewDefaults && rule.deprecated.check !== rule.check) {
        check = `(${rule.check}) or (${rule.deprecated.check})`;
        source = 'default or deprecated';
      }
      this.#rules.set(rule.name, parse(check));
      this.#scopes.set(rule.name, rule.scopeTypes);
      this.#effective.push({ name: rule.name, check, source, rule });
    }
    for (const [name, text] of Object.entries(overrides)) {
      if (this.#rules.has(name)) continue;
      this.#rules.set(name, parse(text));
      this.#effective.push({ name, check: text, source: 'policy file', rule: null });
    }
    const cycle = this.#findCycle();
    if (cycle) throw new PolicySyntaxError(`rules refer to each other in a cycle: ${cycle.join(' -> ')}`);
  }

  /** The rules as applied, defaults first in Keystone's order, then the file's own helpers. */
  get effective(): readonly EffectiveRule[] {
    return this.#effective;
  }

  /** Whether the token's scope is among the action's scope types (always, without enforce_scope). */
  scopeAllowed(action: string, who: Credentials): boolean {
    if (!this.options.enforceScope) return true;
    const scopes = this.#scopes.get(action);
    return !scopes || scopes.includes(scopeOf(who));
  }

  allowed(action: Action, who: Credentials, target: PolicyTarget = {}): boolean {
    const node = this.#rules.get(action);
    if (!node) return false; // oslo.policy fails closed on an unregistered rule
    return this.scopeAllowed(action, who) && this.#evaluate(node, who, target, 0);
  }

  /** Throws Keystone's 403 unless the caller may perform the action. */
  enforce(action: Action, who: Credentials, target: PolicyTarget = {}): void {
    if (!this.allowed(action, who, target)) throw forbidden();
  }

  #evaluate(node: Node, who: Credentials, target: PolicyTarget, depth: number): boolean {
    switch (node.op) {
      case 'true':
        return true;
      case 'false':
        return false;
      case 'and':
        return node.of.every((n) => this.#evaluate(n, who, target, depth));
      case 'or':
        return node.of.some((n) => this.#evaluate(n, who, target, depth));
      case 'not':
        return !this.#evaluate(node.of, who, target, depth);
      case 'rule': {
        const named = this.#rules.get(node.name);
        return named !== undefined && this.#evaluate(named, who, target, depth + 1);
      }
      case 'role': {
        const match = substitute(node.value, target);
        if (!match) return false;
        const wanted = match.text.toLowerCase();
        return who.roles.some((r) => r.toLowerCase() === wanted);
      }
      case 'check': {
        const match = substitute(node.value, target);
        if (!match) return false;
        if (node.literal !== null) return node.literal === match.text;
        const actual = credential(who, node.key);
        if (actual === undefined) return false;
        // Unlike oslo.policy, a caller's absent value (a project token's domain_id) never
        // equals a target's absent value: None == None granted access in Keystone until its
        // rules grew "not None:" guards. A literal `None` match still tests for absence.
        if (actual === null) return !match.substituted && match.text === 'None';
        if (Array.isArray(actual)) return actual.some((a) => pyStr(a) === match.text);
        return pyStr(actual) === match.text;
      }
    }
  }

  #findCycle(): string[] | null {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): string[] | null => {
      if (state.get(name) === 'done') return null;
      if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
      const node = this.#rules.get(name);
      if (!node) return null;
      state.set(name, 'visiting');
      for (const r of references(node)) {
        const found = visit(r, [...path, name]);
        if (found) return found;
      }
      state.set(name, 'done');
      return null;
    };
    for (const name of this.#rules.keys()) {
      const found = visit(name, []);
      if (found) return found;
    }
    return null;
  }
}
