/** The shape of a default policy rule, as oslo.policy's RuleDefault holds it. */
export type ScopeType = 'system' | 'domain' | 'project';

export interface KeystoneRule {
  readonly name: string;
  /** The new default check string (oslo.policy syntax). */
  readonly check: string;
  /** Token scopes the action accepts; null: not scope-checked (base rules, /v3/auth/*). */
  readonly scopeTypes: readonly ScopeType[] | null;
  /** The rule this one replaced, still OR-ed in unless new defaults are enforced. */
  readonly deprecated?: { readonly check: string; readonly since: string };
  /** Set when Keystone deprecated the action itself for removal (the release). */
  readonly deprecatedForRemoval?: string;
  readonly description: string;
  /** "METHOD /v3/path" for each operation the rule protects. */
  readonly operations: readonly string[];
}
