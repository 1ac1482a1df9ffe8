/** Evaluates an action's rule against the caller's token and the target. */
import { forbidden } from '../errors.js';
import type { TokenContext } from '../token/service.js';
import { type Action, type Check, rules } from './rules.js';

export interface PolicyTarget {
  token?: { user_id: string };
}

function passes(check: Check, who: TokenContext, target: PolicyTarget): boolean {
  if ('role' in check) return who.roles.some((r) => r.name === check.role);
  if ('system' in check) return who.payload.scope.kind === 'system';
  return target.token?.user_id === who.user.id;
}

export function allowed(action: Action, who: TokenContext, target: PolicyTarget = {}): boolean {
  return rules[action].some((all) => all.every((check: Check) => passes(check, who, target)));
}

/** Throws Keystone's 403 unless the caller may perform the action. */
export function enforce(action: Action, who: TokenContext, target: PolicyTarget = {}): void {
  if (!allowed(action, who, target)) throw forbidden();
}
