/**
 * Keystone 22's mapping engine (keystone/federation/utils.py RuleProcessor) as a pure module:
 * an assertion (attribute -> value, `;` separating a list) and a mapping's rules in, the mapped
 * properties out ({user, group_ids, group_names, projects}), with Keystone's rule semantics:
 *
 * - remote: each requirement names an attribute that must be present; any_one_of / not_any_of
 *   (plain or regex) decide whether the rule applies; blacklist / whitelist filter the values
 *   kept for direct mapping; a plain requirement keeps all of them.
 * - local: `{0}`, `{1}`… are replaced by the kept values, Python's str.format over Keystone's
 *   DirectMaps (one value: itself; several: Python's list repr, which `groups` and `group_ids`
 *   read back as a list, as ast.literal_eval does).
 * - the locals of every rule that applies are merged: the first user, groups by id, by name and
 *   domain (`group`, `groups`), `group_ids`, the last `projects`; the user's type defaults to
 *   ephemeral.
 *
 * Where Keystone goes through a Python set (whitelist and blacklist results, group_ids) its order
 * depends on Python's string hashing, so it changes from one process to the next; here it is the
 * assertion's order (and for group_ids the order first seen). Keystone 22's mappings have no
 * schema_version (that came with Keystone 23), so there is none here either.
 */
import { IdentityError, validation } from '../errors.js';
import { pyRepr } from './schema.js';

export type Assertion = Record<string, unknown>;

export interface GroupRef {
  name?: string;
  id?: string;
  domain?: { id?: string; name?: string };
  [key: string]: unknown;
}

export interface MappedProperties {
  user: Record<string, unknown>;
  group_ids: unknown[];
  group_names: unknown[];
  projects: unknown[];
}

interface Requirement {
  type: string;
  any_one_of?: unknown[];
  not_any_of?: unknown[];
  blacklist?: unknown[];
  whitelist?: unknown[];
  regex?: boolean;
}

export interface Rule {
  local: Record<string, unknown>[];
  remote: Requirement[];
}

/** What the engine reports as it goes (Keystone's LOG.debug lines), when asked. */
export type DebugLog = (message: string) => void;

export const NO_IDENTITY_VALUES =
  'Could not map any federated user properties to identity values. Check debug logs or the mapping used for additional details.';

/** Keystone's DirectMappingError: a 500 whose details stay in the log. */
export const directMappingError = (mappingId: string) =>
  new IdentityError(
    'IDN_ERR_INTERNAL',
    'An unexpected error prevented the server from fulfilling your request.',
    {
      detail: `Local section in mapping ${mappingId} refers to a remote match that doesn't exist (e.g. {0} in a local section).`,
    },
  );

/** Keystone's DirectMaps: one list of kept values per requirement; `{i}` reads one. */
class DirectMaps {
  readonly matches: string[][] = [];
  add(values: string[]): void {
    this.matches.push(values);
  }
  /** Python's str() of what `{i}` reads: the value alone, or the list's repr. */
  formatted(i: number): string | undefined {
    const value = this.matches[i];
    if (value === undefined) return undefined;
    return value.length === 1 ? (value[0] as string) : pyRepr(value);
  }
  toString(): string {
    return pyRepr(this.matches);
  }
}

export class RuleProcessor {
  readonly mappingId: string;
  readonly rules: Rule[];
  readonly #debug: DebugLog;

  constructor(mappingId: string, rules: Rule[], debug: DebugLog = () => {}) {
    this.mappingId = mappingId;
    this.rules = rules;
    this.#debug = debug;
  }

  process(assertionData: Assertion): MappedProperties {
    this.#debug(`assertion data: ${pyRepr(assertionData)}`);
    const assertion: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(assertionData))
      if (typeof value === 'string') assertion[name] = value.split(';');
    this.#debug(`assertion: ${pyRepr(assertion)}`);
    const identityValues: Record<string, unknown>[] = [];
    this.#debug(`rules: ${pyRepr(this.rules)}`);
    for (const rule of this.rules) {
      const directMaps = this.#verifyAllRequirements(rule.remote, assertion);
      if (directMaps === null) continue;
      // Keystone's `if not direct_maps` never holds (DirectMaps has no length): every local is
      // formatted, so a {0} in a rule whose requirements keep no value is a DirectMappingError.
      for (const local of rule.local) identityValues.push(this.#updateLocal(local, directMaps));
    }
    this.#debug(`identity_values: ${pyRepr(identityValues)}`);
    const mapped = this.#transform(identityValues);
    this.#debug(`mapped_properties: ${pyRepr(mapped)}`);
    return mapped;
  }

  #verifyAllRequirements(
    requirements: Requirement[],
    assertion: Record<string, string[]>,
  ): DirectMaps | null {
    const directMaps = new DirectMaps();
    for (const requirement of requirements) {
      let values = assertion[requirement.type];
      const regex = requirement.regex ?? false;
      if (!values || values.length === 0) return null;
      if (requirement.any_one_of != null) {
        if (matches(requirement.any_one_of, values, regex).length > 0) continue;
        return null;
      }
      if (requirement.not_any_of != null) {
        if (matches(requirement.not_any_of, values, regex).length === 0) continue;
        return null;
      }
      if (requirement.blacklist != null) {
        const found = new Set(matches(requirement.blacklist, values, regex));
        values = unique(values).filter((v) => !found.has(v));
      } else if (requirement.whitelist != null)
        values = unique(matches(requirement.whitelist, values, regex));
      directMaps.add(values);
      this.#debug(`updating a direct mapping: ${pyRepr(values)}`);
    }
    return directMaps;
  }

  /** Replaces {0}, {1}… in every string of a local, as Keystone's _update_local_mapping. */
  #updateLocal(local: unknown, directMaps: DirectMaps): Record<string, unknown> {
    this.#debug(`direct_maps: ${directMaps}`);
    this.#debug(`local: ${pyRepr(local)}`);
    const update = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map((item) => this.#updateLocal(item, directMaps));
      if (value !== null && typeof value === 'object') return this.#updateLocal(value, directMaps);
      return pyFormat(String(value), directMaps, this.mappingId);
    };
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(local as Record<string, unknown>)) out[key] = update(value);
    return out;
  }

  #transform(identityValues: Record<string, unknown>[]): MappedProperties {
    if (identityValues.length === 0) throw validation(NO_IDENTITY_VALUES);
    let user: Record<string, unknown> | null = null;
    const groupIds: unknown[] = [];
    const addGroupId = (id: unknown) => {
      if (!groupIds.some((g) => pyEqual(g, id))) groupIds.push(id);
    };
    const groupNames: unknown[] = [];
    const groupsByDomain = new Map<string, GroupRef[]>();
    let projects: unknown[] = [];
    for (const value of identityValues) {
      if ('user' in value) {
        if (user && Object.keys(user).length > 0) this.#debug('Ignoring user name');
        else user = value.user as Record<string, unknown>;
      }
      if ('group' in value) {
        const group = value.group as GroupRef;
        if ('id' in group) addGroupId(group.id);
        else if ('name' in group) {
          const domain = group.domain ?? {};
          const key = String(domain.name || domain.id);
          const list = groupsByDomain.get(key) ?? [];
          list.push(group);
          groupsByDomain.set(key, list);
        }
        // Keystone adds every group named so far again each time (its extract_groups).
        for (const groups of groupsByDomain.values()) {
          const byName = new Map<unknown, GroupRef>();
          for (const g of groups) byName.set(g.name, g);
          groupNames.push(...byName.values());
        }
      }
      if ('groups' in value) groupNames.push(...normalizeGroups(value));
      if ('group_ids' in value) for (const id of literalList(String(value.group_ids))) addGroupId(id);
      if ('projects' in value) projects = value.projects as unknown[];
    }
    const mappedUser = user ?? {};
    const type = mappedUser.type;
    if (type && type !== 'ephemeral' && type !== 'local')
      throw validation(`User type ${String(type)} not supported`);
    if (type === undefined || type === null) mappedUser.type = 'ephemeral';
    return { user: mappedUser, group_ids: groupIds, group_names: groupNames, projects };
  }
}

/** The assertion values a requirement's values match: equal strings, or any regex found in them. */
function matches(values: unknown[], assertionValues: string[], regex: boolean): string[] {
  if (regex) return assertionValues.filter((a) => values.some((r) => pyRegex(String(r)).test(a)));
  return assertionValues.filter((a) => values.some((v) => v === a));
}

const unique = (values: string[]) => [...new Set(values)];

/**
 * A Python `re.search` pattern as a JavaScript RegExp: the common syntax is the same; Python's
 * named groups `(?P<name>…)` and backreferences `(?P=name)` are rewritten.
 */
function pyRegex(pattern: string): RegExp {
  return new RegExp(pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>'), 'u');
}

/** Python's str.format over the direct maps: `{0}`, `{}` (numbered in turn), `{{` and `}}`. */
function pyFormat(template: string, directMaps: DirectMaps, mappingId: string): string {
  let auto = 0;
  return template.replace(/\{\{|\}\}|\{([0-9]*)(![rs])?\}/g, (whole, index: string | undefined, conv) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const i = index === undefined || index === '' ? auto++ : Number(index);
    const value = directMaps.formatted(i);
    if (value === undefined) throw directMappingError(mappingId);
    return conv === '!r'
      ? pyRepr(directMaps.matches[i]?.length === 1 ? value : directMaps.matches[i])
      : value;
  });
}

/** Keystone's _ast_literal_eval: the value read as a Python list literal, else [value]. */
export function literalList(value: string): unknown[] {
  try {
    const parsed = new PyLiteral(value).parse();
    return Array.isArray(parsed) ? parsed : [value];
  } catch {
    return [value];
  }
}

/** Keystone's _normalize_groups: `groups` as names in a domain, or JSON objects naming theirs. */
function normalizeGroups(value: Record<string, unknown>): unknown[] {
  const groups = String(value.groups);
  const invalid = () =>
    validation(`Invalid rule: ${pyRepr(value)}. Both 'groups' and 'domain' keywords must be specified.`);
  // Keystone tests for the substring "name" in the groups string, as written.
  if (groups.includes('name')) {
    const list = literalList(groups).map((g) =>
      typeof g === 'string' && g.startsWith('JSON:') ? JSON.parse(g.replace(/^[JSON:]+/, '')) : g,
    );
    for (const g of list) {
      const hasDomain =
        typeof g === 'string' ? g.includes('domain') : g !== null && typeof g === 'object' && 'domain' in g;
      if (!hasDomain) throw invalid();
    }
    return list;
  }
  if (!('domain' in value)) throw invalid();
  return literalList(groups).map((name) => ({ name, domain: value.domain }));
}

function pyEqual(a: unknown, b: unknown): boolean {
  return typeof a === typeof b ? JSON.stringify(a) === JSON.stringify(b) : false;
}

/** A small reader of Python literals (lists, tuples, dicts, strings, numbers, True/False/None). */
class PyLiteral {
  #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s.trim();
  }
  parse(): unknown {
    const value = this.#value();
    this.#ws();
    if (this.#i !== this.#s.length) throw new Error('trailing');
    return value;
  }
  #ws(): void {
    while (/\s/.test(this.#s[this.#i] ?? '')) this.#i++;
  }
  #value(): unknown {
    this.#ws();
    const c = this.#s[this.#i];
    if (c === '[' || c === '(') return this.#sequence(c === '[' ? ']' : ')');
    if (c === '{') return this.#dict();
    if (c === "'" || c === '"') return this.#string();
    const word = /^(True|False|None|[-+]?(\d+\.?\d*(e[-+]?\d+)?|\.\d+))/i.exec(this.#s.slice(this.#i));
    if (!word) throw new Error('not a literal');
    this.#i += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0]);
  }
  #sequence(close: string): unknown[] {
    this.#i++;
    const items: unknown[] = [];
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === close) {
        this.#i++;
        return items;
      }
      items.push(this.#value());
      this.#ws();
      if (this.#s[this.#i] === ',') this.#i++;
      else if (this.#s[this.#i] !== close) throw new Error('expected , or close');
    }
  }
  #dict(): Record<string, unknown> {
    this.#i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.#ws();
      if (this.#s[this.#i] === '}') {
        this.#i++;
        return out;
      }
      const key = this.#value();
      this.#ws();
      if (this.#s[this.#i++] !== ':') throw new Error('expected :');
      out[String(key)] = this.#value();
      this.#ws();
      if (this.#s[this.#i] === ',') this.#i++;
      else if (this.#s[this.#i] !== '}') throw new Error('expected , or }');
    }
  }
  #string(): string {
    const quote = this.#s[this.#i++];
    let out = '';
    const escapes: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '\\': '\\',
      "'": "'",
      '"': '"',
      '0': '\0',
    };
    while (this.#i < this.#s.length) {
      const c = this.#s[this.#i++] as string;
      if (c === quote) return out;
      if (c === '\\') {
        const next = this.#s[this.#i++] as string;
        if (next === 'x') {
          out += String.fromCharCode(Number.parseInt(this.#s.slice(this.#i, this.#i + 2), 16));
          this.#i += 2;
        } else if (next === 'u') {
          out += String.fromCharCode(Number.parseInt(this.#s.slice(this.#i, this.#i + 4), 16));
          this.#i += 4;
        } else out += escapes[next] ?? `\\${next}`;
      } else out += c;
    }
    throw new Error('unterminated string');
  }
}
