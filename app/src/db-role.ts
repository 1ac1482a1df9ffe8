/**
 * The application's own database role (least privilege). The role that runs `manage migrate`
 * owns the schema; the gateway and the app connect as a role that can log in and read and write
 * rows, and nothing more: no superuser, no role or database creation, no DDL (it owns no table and
 * may not create in the schema), and no writes to the migration record. Applied by
 * `manage app-role` after the migrations; every statement is idempotent, so it also updates a
 * role that exists (attributes, password, grants on tables added since).
 */
import pg from 'pg';
import type { Db } from './db.js';

export interface AppRoleOptions {
  role: string;
  /** Sets (or changes) the role's password; null leaves it as it is. */
  password: string | null;
}

/** Attributes that keep the role an ordinary one, whatever it was given before. */
const ATTRIBUTES = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT';

export async function applyAppRole(db: Db, options: AppRoleOptions): Promise<'created' | 'updated'> {
  const role = pg.escapeIdentifier(options.role);
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const me = (
      await client.query<{ user: string; db: string }>(
        'SELECT current_user AS user, current_database() AS db',
      )
    ).rows[0] as { user: string; db: string };
    if (me.user === options.role)
      throw new Error(`app-role: ${options.role} runs the migrations; the app's role must be another one`);
    const exists =
      (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [options.role])).rowCount === 1;
    await client.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${role} ${ATTRIBUTES}`);
    if (options.password !== null)
      await client.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(options.password)}`);
    const database = pg.escapeIdentifier(me.db);
    await client.query(`GRANT CONNECT ON DATABASE ${database} TO ${role}`);
    // Nobody but the owner creates in the schema (PostgreSQL 14 and older let everyone).
    await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    await client.query(`REVOKE CREATE ON SCHEMA public FROM ${role}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await client.query(`REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM ${role}`);
    await client.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    // The migration record is the owner's: readable, never written.
    await client.query(`REVOKE INSERT, UPDATE, DELETE ON TABLE schema_migration FROM ${role}`);
    // Tables a later migration adds get the same rows-only grants.
    await client.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${role}`,
    );
    await client.query(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ${role}`,
    );
    await client.query('COMMIT');
    return exists ? 'updated' : 'created';
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
