/**
 * The real `openstack` client (python3-openstackclient) against an Identity URL: token issue,
 * catalog list, endpoint list, token issue with --os-token, token revoke, and the revoked token
 * refused. Shared by osc.test.ts (GATEHOUSE_URL) and osc-stack.test.ts (scripts/stack.sh).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export interface OscResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Asynchronous, so that a server in this same process keeps answering while the client runs. */
export function openstack(env: Record<string, string>, ...args: string[]): Promise<OscResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('openstack', args, { env: { ...process.env, ...env }, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout: stdout.trim(), stderr: stderr.trim() }));
  });
}

/** OS_* variables for the bootstrap admin, project-scoped, at `authUrl` (…/v3). */
export function adminEnv(authUrl: string, password: string): Record<string, string> {
  return {
    OS_AUTH_URL: authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_AUTH_TYPE: 'password',
    OS_USERNAME: 'admin',
    OS_PASSWORD: password,
    OS_USER_DOMAIN_NAME: 'Default',
    OS_PROJECT_NAME: 'admin',
    OS_PROJECT_DOMAIN_NAME: 'Default',
    OS_INTERFACE: 'public',
    OS_REGION_NAME: 'RegionOne',
  };
}

/**
 * `args` go before every command (e.g. --os-cacert FILE); the identity endpoints' URLs of the
 * catalog are returned.
 */
export async function openstackScenario(
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<{ endpointUrls: string[] }> {
  const os = (e: Record<string, string>, ...rest: string[]) => openstack(e, ...args, ...rest);
  const authUrl = env.OS_AUTH_URL as string;
  const issued = await os(env, 'token', 'issue', '-f', 'json');
  assert.equal(issued.status, 0, issued.stderr);
  const token = JSON.parse(issued.stdout) as { id: string; project_id: string; user_id: string };
  assert.match(token.id, /^gAAAAA[\w-]+$/);
  assert.match(token.project_id, /^[0-9a-f]{32}$/);

  const catalog = await os(env, 'catalog', 'list', '-f', 'json');
  assert.equal(catalog.status, 0, catalog.stderr);
  const services = JSON.parse(catalog.stdout) as Array<{ Name: string; Type: string; Endpoints: unknown }>;
  const identity = services.find((s) => s.Type === 'identity');
  assert.equal(identity?.Name, 'keystone');

  const endpoints = await os(env, 'endpoint', 'list', '-f', 'json');
  assert.equal(endpoints.status, 0, endpoints.stderr);
  const rows = JSON.parse(endpoints.stdout) as Array<{
    'Service Type': string;
    Interface: string;
    URL: string;
  }>;
  assert.deepEqual(
    rows
      .filter((r) => r['Service Type'] === 'identity')
      .map((r) => r.Interface)
      .sort(),
    ['admin', 'internal', 'public'],
  );

  // With the token instead of a password (the password variables would conflict).
  const tokenEnv = {
    ...env,
    OS_AUTH_TYPE: 'token',
    OS_TOKEN: token.id,
    OS_USERNAME: '',
    OS_PASSWORD: '',
    OS_USER_DOMAIN_NAME: '',
  };
  const reissued = await os(tokenEnv, 'token', 'issue', '-f', 'json');
  assert.equal(reissued.status, 0, reissued.stderr);
  assert.equal(JSON.parse(reissued.stdout).project_id, token.project_id);

  const revoked = await os(env, 'token', 'revoke', token.id);
  assert.equal(revoked.status, 0, revoked.stderr);
  const refused = await os(tokenEnv, 'token', 'issue');
  assert.notEqual(refused.status, 0, 'a revoked token is refused');
  // Keystone 22 answers the token method with a revoked token 404 "Failed to validate token".
  assert.match(refused.stderr, /Failed to validate token \(HTTP 404\)/);

  const wrong = await os({ ...env, OS_PASSWORD: 'not the password' }, 'token', 'issue');
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /requires authentication.*HTTP 401/);
  assert.ok(authUrl);
  return { endpointUrls: rows.filter((r) => r['Service Type'] === 'identity').map((r) => r.URL) };
}
