/** SQL for domain-specific configuration options. */
import type { Queryable } from '../db.js';

export interface OptionRow {
  group: string;
  option: string;
  value: unknown;
  sensitive: boolean;
}

/** The domain's options (whitelisted or sensitive), narrowed to a group and an option. */
export async function listOptions(
  db: Queryable,
  domainId: string,
  sensitive: boolean,
  group: string | null = null,
  option: string | null = null,
): Promise<OptionRow[]> {
  const { rows } = await db.query<OptionRow>(
    `SELECT "group", option, value, sensitive FROM domain_config
      WHERE domain_id = $1 AND sensitive = $2 AND ($3::text IS NULL OR "group" = $3)
        AND ($4::text IS NULL OR option = $4)
      ORDER BY "group", option`,
    [domainId, sensitive, group, option],
  );
  return rows;
}

/** Writes the options, each replacing the one of the same group and name. */
export async function putOptions(db: Queryable, domainId: string, options: OptionRow[]): Promise<void> {
  for (const o of options)
    await db.query(
      `INSERT INTO domain_config (domain_id, "group", option, value, sensitive) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (domain_id, "group", option) DO UPDATE SET value = EXCLUDED.value, sensitive = EXCLUDED.sensitive`,
      [domainId, o.group, o.option, JSON.stringify(o.value), o.sensitive],
    );
}

/** Deletes the domain's options, or a group's, or one option. */
export async function deleteOptions(
  db: Queryable,
  domainId: string,
  group: string | null = null,
  option: string | null = null,
): Promise<void> {
  await db.query(
    `DELETE FROM domain_config WHERE domain_id = $1 AND ($2::text IS NULL OR "group" = $2)
        AND ($3::text IS NULL OR option = $3)`,
    [domainId, group, option],
  );
}
