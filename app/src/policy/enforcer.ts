/**
 * A small oslo.policy: parses the rule strings of rules.ts (`or`, `and`, `not`, parentheses,
 * `@`, `!`, `rule:`, `role:`, `key:value` and `key:%(path)s`) once, then evaluates them against
 * the caller's credentials and the action's target. No HTTP types: api/ builds both objects.
 */
import { forbidden } from '../errors.js';
import { type Action, baseRules, rules } from './rules.js';

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

type Node =
  | { op: 'true' }
  | { op: 'false' }
  | { op: 'and' | 'or'; of: Node[] }
  | { op: 'not'; of: Node }
  | { op: 'rule'; name: string }
  | { op: 'check'; key: string; value: string };

function parse(text: string): Node {
  // As oslo.policy: split on spaces, then peel parentheses off the ends of each word (a
  // `%(target.x)s` reference has them inside, never at the ends).
  const tokens: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const open = /^\(*/.exec(word)?.[0].length ?? 0;
    const close = /\)*$/.exec(word.slice(open))?.[0].length ?? 0;
    for (let i = 0; i < open; i++) tokens.push('(');
    const core = word.slice(open, word.length - close);
    if (core) tokens.push(core);
    for (let i = 0; i < close; i++) tokens.push(')');
  }
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
    if (token === undefined) throw new Error(`policy "${text}": unexpected end`);
    if (token === 'not') return { op: 'not', of: unary() };
    if (token === '(') {
      const inner = orExpr();
      if (tokens[at++] !== ')') throw new Error(`policy "${text}": missing )`);
      return inner;
    }
    if (token === '@') return { op: 'true' };
    if (token === '!') return { op: 'false' };
    const colon = token.indexOf(':');
    if (colon < 1) throw new Error(`policy "${text}": bad check ${token}`);
    const key = token.slice(0, colon);
    const value = token.slice(colon + 1);
    return key === 'rule' ? { op: 'rule', name: value } : { op: 'check', key, value };
  };
  if (tokens.length === 0) return { op: 'true' }; // '' : anyone with a valid token
  const node = orExpr();
  if (at !== tokens.length) throw new Error(`policy "${text}": unexpected ${tokens[at]}`);
  return node;
}

const lookup = (from: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
      from,
    );

/** Credentials keys Keystone exposes with dotted names (token.domain.id …). */
function credential(who: Credentials, key: string): unknown {
  switch (key) {
    case 'token.domain.id':
      return who.domain_id;
    case 'token.project.domain.id':
      return who.project_domain_id;
    case 'token.user.domain.id':
      return who.user_domain_id;
    default:
      return (who as unknown as Record<string, unknown>)[key];
  }
}

const LITERALS = new Set(['None', 'True', 'False']);

function evaluate(node: Node, who: Credentials, target: PolicyTarget): boolean {
  switch (node.op) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return node.of.every((n) => evaluate(n, who, target));
    case 'or':
      return node.of.some((n) => evaluate(n, who, target));
    case 'not':
      return !evaluate(node.of, who, target);
    case 'rule': {
      const named = compiled.get(node.name);
      if (!named) throw new Error(`policy: no rule named ${node.name}`);
      return evaluate(named, who, target);
    }
    case 'check': {
      if (node.key === 'role') return who.roles.includes(node.value);
      if (node.key === 'is_admin') return false; // the legacy admin_token is not supported
      const ref = /^%\((.+)\)s$/.exec(node.value);
      // `%(target.x)s` and `%(x)s` both read the target (Keystone flattens it under "target.").
      const expected = ref ? lookup(target, (ref[1] as string).replace(/^target\./, '')) : node.value;
      if (expected === undefined) return false;
      // A Python literal on the left (`None:%(target.role.domain_id)s`) is compared with the
      // target's value, as oslo.policy's GenericCheck does.
      if (LITERALS.has(node.key)) return node.key === (expected === null ? 'None' : String(expected));
      const actual = credential(who, node.key);
      if (node.value === 'None') return actual === null || actual === undefined;
      return actual !== null && actual !== undefined && String(actual) === String(expected);
    }
  }
}

const compiled = new Map<string, Node>();
for (const [name, text] of Object.entries({ ...baseRules, ...rules })) compiled.set(name, parse(text));

export function allowed(action: Action, who: Credentials, target: PolicyTarget = {}): boolean {
  return evaluate(compiled.get(action) as Node, who, target);
}

/** Throws Keystone's 403 unless the caller may perform the action. */
export function enforce(action: Action, who: Credentials, target: PolicyTarget = {}): void {
  if (!allowed(action, who, target)) throw forbidden();
}
