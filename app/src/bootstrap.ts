/**
 * What `keystone-manage bootstrap` does, idempotently: the Default domain, the admin project
 * and user, the roles admin ⇒ manager ⇒ member ⇒ reader and service, the admin grant on the
 * project and on the system, the region, and the identity service with its public, internal
 * and admin endpoints.
 */
import { randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { type Db, transaction } from './db.js';

export interface BootstrapOptions {
  adminUsername: string;
  adminPassword: string;
  adminProject: string;
  region: string;
  /** Base URL of the service; endpoints are `${publicUrl}/v3/`. */
  publicUrl: string;
  hashRounds: number;
}

const id = () => randomUUID().replaceAll('-', '');

export async function bootstrap(db: Db, o: BootstrapOptions): Promise<void> {
  const hash = await bcrypt.hash(o.adminPassword, o.hashRounds);
  await transaction(db, async (tx) => {
    await tx.query(
      `INSERT INTO domain (id, name, description) VALUES ('default', 'Default', 'The default domain')
       ON CONFLICT (id) DO NOTHING`,
    );
    await tx.query(
      `INSERT INTO project (id, name, domain_id, description) VALUES ($1, $2, 'default', 'Bootstrap project for initializing the cloud.')
       ON CONFLICT (domain_id, name) DO NOTHING`,
      [id(), o.adminProject],
    );
    const project = (
      await tx.query<{ id: string }>(`SELECT id FROM project WHERE domain_id = 'default' AND name = $1`, [
        o.adminProject,
      ])
    ).rows[0]!.id;
    await tx.query(
      `INSERT INTO "user" (id, name, domain_id) VALUES ($1, $2, 'default') ON CONFLICT (domain_id, name) DO NOTHING`,
      [id(), o.adminUsername],
    );
    const user = (
      await tx.query<{ id: string }>(`SELECT id FROM "user" WHERE domain_id = 'default' AND name = $1`, [
        o.adminUsername,
      ])
    ).rows[0]!.id;
    // The given password becomes current unless it already is.
    const current = (
      await tx.query<{ hash: string }>(
        'SELECT hash FROM password WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1',
        [user],
      )
    ).rows[0];
    if (!current || !(await bcrypt.compare(o.adminPassword, current.hash))) {
      await tx.query('INSERT INTO password (user_id, hash) VALUES ($1, $2)', [user, hash]);
    }
    const roles: Record<string, string> = {};
    for (const name of ['admin', 'manager', 'member', 'reader', 'service']) {
      await tx.query(
        `INSERT INTO role (id, name) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM role WHERE name = $2 AND domain_id IS NULL)`,
        [id(), name],
      );
      roles[name] = (
        await tx.query<{ id: string }>('SELECT id FROM role WHERE name = $1 AND domain_id IS NULL', [name])
      ).rows[0]!.id;
    }
    for (const [prior, implied] of [
      ['admin', 'manager'],
      ['manager', 'member'],
      ['member', 'reader'],
    ] as const) {
      await tx.query(
        'INSERT INTO implied_role (prior_role_id, implied_role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [roles[prior], roles[implied]],
      );
    }
    // Older releases implied admin ⇒ member directly; bootstrap removes it, as Keystone's does.
    await tx.query('DELETE FROM implied_role WHERE prior_role_id = $1 AND implied_role_id = $2', [
      roles.admin,
      roles.member,
    ]);
    for (const [type, target] of [
      ['project', project],
      ['system', 'all'],
    ] as const) {
      await tx.query(
        `INSERT INTO assignment (actor_type, actor_id, target_type, target_id, role_id) VALUES ('user', $1, $2, $3, $4) ON CONFLICT DO NOTHING`,
        [user, type, target, roles.admin],
      );
    }
    await tx.query('INSERT INTO region (id) VALUES ($1) ON CONFLICT DO NOTHING', [o.region]);
    await tx.query(
      `INSERT INTO service (id, type, name) SELECT $1, 'identity', 'keystone' WHERE NOT EXISTS (SELECT 1 FROM service WHERE type = 'identity')`,
      [id()],
    );
    const service = (
      await tx.query<{ id: string }>(`SELECT id FROM service WHERE type = 'identity' ORDER BY id LIMIT 1`)
    ).rows[0]!.id;
    const url = `${o.publicUrl.replace(/\/+$/, '')}/v3/`;
    for (const iface of ['public', 'internal', 'admin']) {
      const existing = await tx.query(
        'SELECT id FROM endpoint WHERE service_id = $1 AND interface = $2 AND region_id = $3',
        [service, iface, o.region],
      );
      if (existing.rows.length > 0)
        await tx.query(
          'UPDATE endpoint SET url = $1 WHERE service_id = $2 AND interface = $3 AND region_id = $4',
          [url, service, iface, o.region],
        );
      else
        await tx.query(
          'INSERT INTO endpoint (id, service_id, region_id, interface, url) VALUES ($1, $2, $3, $4, $5)',
          [id(), service, o.region, iface, url],
        );
    }
  });
}
