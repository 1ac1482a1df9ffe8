/**
 * List filters as Keystone's driver hints: exact matches (`name=x`), the inexact name filters
 * (`name__contains`, `__startswith`, `__endswith`, `__equals` and their case-insensitive `i`
 * forms), booleans read as oslo's bool_from_string, and `password_expires_at=lt:<time>`. A
 * repository turns them into one parameterised WHERE clause; unknown query keys never get here.
 */
import { validation } from './errors.js';

export type Comparison = 'lt' | 'lte' | 'gt' | 'gte' | 'eq' | 'neq';

export type Hint =
  | { kind: 'exact'; field: string; value: string }
  | { kind: 'bool'; field: string; value: boolean }
  | { kind: 'like'; field: string; pattern: string; insensitive: boolean }
  | { kind: 'time'; field: string; op: Comparison; value: Date };

const INEXACT = /^(\w+?)__(i?)(contains|startswith|endswith|equals)$/;

/** oslo.utils strutils.bool_from_string, strict=False: anything else is false. */
export function boolFromString(value: string): boolean {
  return ['1', 't', 'true', 'on', 'y', 'yes'].includes(value.toLowerCase());
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Hints from a query object. `exact` and `bool` name the filters the resource supports;
 * `inexact` the fields that accept `__contains` and friends; `time` the comparison fields.
 */
export function buildHints(
  query: Record<string, unknown>,
  fields: { exact?: string[]; bool?: string[]; inexact?: string[]; time?: string[] },
): Hint[] {
  const hints: Hint[] = [];
  for (const [key, raw] of Object.entries(query)) {
    if (typeof raw !== 'string') continue;
    if (fields.exact?.includes(key)) hints.push({ kind: 'exact', field: key, value: raw });
    else if (fields.bool?.includes(key)) hints.push({ kind: 'bool', field: key, value: boolFromString(raw) });
    else if (fields.time?.includes(key)) {
      for (const part of raw.split(',')) {
        const m = /^(lt|lte|gt|gte|eq|neq):(.+)$/.exec(part);
        const value = m ? new Date(m[2] as string) : null;
        if (!m || !value || Number.isNaN(value.getTime()))
          throw validation(
            'Timestamp not in expected format. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
          );
        hints.push({ kind: 'time', field: key, op: m[1] as Comparison, value });
      }
    } else {
      const m = INEXACT.exec(key);
      if (m && fields.inexact?.includes(m[1] as string)) {
        const v = escapeLike(raw);
        const how = m[3];
        const pattern =
          how === 'contains' ? `%${v}%` : how === 'startswith' ? `${v}%` : how === 'endswith' ? `%${v}` : v;
        hints.push({ kind: 'like', field: m[1] as string, pattern, insensitive: m[2] === 'i' });
      }
    }
  }
  return hints;
}

const SQL_OP: Record<Comparison, string> = { lt: '<', lte: '<=', gt: '>', gte: '>=', eq: '=', neq: '<>' };

/**
 * Appends the hints to `where` (clauses joined by AND) and `params`. `columns` maps each field to
 * its SQL expression; fields missing from it are ignored.
 */
export function applyHints(
  hints: Hint[],
  columns: Record<string, string>,
  where: string[],
  params: unknown[],
): void {
  for (const hint of hints) {
    const column = columns[hint.field];
    if (!column) continue;
    params.push(hint.kind === 'like' ? hint.pattern : hint.value);
    const p = `$${params.length}`;
    if (hint.kind === 'exact' || hint.kind === 'bool') where.push(`${column} = ${p}`);
    else if (hint.kind === 'like') where.push(`${column} ${hint.insensitive ? 'ILIKE' : 'LIKE'} ${p}`);
    else where.push(`${column} ${SQL_OP[hint.op]} ${p}`);
  }
}
