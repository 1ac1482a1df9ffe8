/**
 * What `keystone-manage bootstrap` does, idempotently: the Default domain, the admin project
 * and user, the roles admin ⇒ manager ⇒ member ⇒ reader and service, the admin grant on the
 * project and on the system, the region, and the identity service with its public, internal
 * and admin endpoints. Every step creates what is missing and leaves what exists.
 */
import { randomUUID } from 'node:crypto';
import type { Services } from './services.js';

export interface BootstrapOptions {
  adminUsername: string;
  adminPassword: string;
  adminProject: string;
  region: string;
  /** Base URL of the service; endpoints are `${publicUrl}/v3/`. */
  publicUrl: string;
  internalUrl?: string;
  adminUrl?: string;
}

const id = () => randomUUID().replaceAll('-', '');

export async function bootstrap(
  s: Services,
  o: BootstrapOptions,
): Promise<{ userId: string; projectId: string }> {
  await s.resource.ensureDomain('default', 'Default', 'The default domain');
  const projectId = await s.resource.ensureProject({
    id: id(),
    name: o.adminProject,
    domainId: 'default',
    description: 'Bootstrap project for initializing the cloud.',
  });
  const userId = await s.identity.ensureUser(id(), o.adminUsername, 'default');
  // The given password becomes current unless it already is.
  if (!(await s.identity.hasPassword(userId, o.adminPassword)))
    await s.identity.setPassword(userId, o.adminPassword);
  const roles: Record<string, string> = {};
  for (const name of ['admin', 'manager', 'member', 'reader', 'service'])
    roles[name] = await s.assignment.ensureGlobalRole(id(), name);
  const role = (name: string) => roles[name] as string;
  await s.assignment.addImpliedRole(role('admin'), role('manager'));
  await s.assignment.addImpliedRole(role('manager'), role('member'));
  await s.assignment.addImpliedRole(role('member'), role('reader'));
  // Older releases implied admin ⇒ member directly; bootstrap removes it, as Keystone's does.
  await s.assignment.removeImpliedRole(role('admin'), role('member'));
  const actor = { type: 'user', id: userId } as const;
  await s.assignment.grant({ actor, target: { type: 'project', id: projectId }, roleId: role('admin') });
  await s.assignment.grant({ actor, target: { type: 'system', id: 'all' }, roleId: role('admin') });
  await s.catalog.ensureRegion(o.region);
  const serviceId = await s.catalog.ensureService(id(), 'identity', 'keystone');
  const url = (base: string) => `${base.replace(/\/+$/, '')}/v3/`;
  for (const [iface, base] of [
    ['public', o.publicUrl],
    ['internal', o.internalUrl ?? o.publicUrl],
    ['admin', o.adminUrl ?? o.publicUrl],
  ] as const) {
    await s.catalog.upsertEndpoint({
      id: id(),
      serviceId,
      interface: iface,
      regionId: o.region,
      url: url(base),
    });
  }
  return { userId, projectId };
}
