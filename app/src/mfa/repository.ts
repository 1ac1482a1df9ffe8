/** SQL for single-use TOTP passcodes (migration 0012). */
import type { Queryable } from '../db.js';

/**
 * Records `step` as the credential's latest accepted one when it is later than the one recorded;
 * false when it is not (the passcode, or an older one, was used already). Atomic: of two
 * requests with the same passcode only one gets true.
 */
export async function advanceTotpStep(db: Queryable, credentialId: string, step: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO totp_last_step (credential_id, step) VALUES ($1, $2)
     ON CONFLICT (credential_id) DO UPDATE SET step = EXCLUDED.step WHERE totp_last_step.step < EXCLUDED.step`,
    [credentialId, step],
  );
  return rowCount === 1;
}
