/**
 * Policy as data: one rule per API action, Keystone's in-code defaults. A rule is a list of
 * alternatives; an alternative passes when all its checks pass.
 */
export type Check = { role: string } | { system: true } | { subject: 'token' };

export const rules = {
  // admin_required OR (reader AND system scope) OR service OR the token's own user
  'identity:validate_token': [
    [{ role: 'admin' }],
    [{ role: 'reader' }, { system: true }],
    [{ role: 'service' }],
    [{ subject: 'token' }],
  ],
  'identity:check_token': [
    [{ role: 'admin' }],
    [{ role: 'reader' }, { system: true }],
    [{ subject: 'token' }],
  ],
  'identity:revoke_token': [[{ role: 'admin' }], [{ subject: 'token' }]],
} as const satisfies Record<string, ReadonlyArray<ReadonlyArray<Check>>>;

export type Action = keyof typeof rules;
