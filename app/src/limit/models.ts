/**
 * Keystone's limit enforcement models ([unified_limit] enforcement_model): what GET
 * /v3/limits/model reports, how deep a project tree may grow under each, and whether limit
 * writes are checked against the project hierarchy (keystone/limit/models/).
 */
export const enforcementModels = {
  flat: {
    name: 'flat',
    description: 'Limit enforcement and validation does not take project hierarchy into consideration.',
    /** No bound of its own: [DEFAULT] max_project_tree_depth alone applies. */
    maxProjectTreeDepth: null,
    hierarchical: false,
  },
  strict_two_level: {
    name: 'strict_two_level',
    description: 'This model requires project hierarchy never exceeds a depth of two',
    maxProjectTreeDepth: 2,
    hierarchical: true,
  },
} as const;

export type EnforcementModelName = keyof typeof enforcementModels;
export type EnforcementModel = (typeof enforcementModels)[EnforcementModelName];
