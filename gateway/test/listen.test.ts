/**
 * The gateway port is a trust boundary: whoever reaches it chooses REMOTE_ADDR, HTTPS and every
 * other meta-variable. Each test is an attack on a port reachable by more than the web server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { isGatewayError } from '../src/errors.js';
import { nginxParams } from './helpers/exchange.js';
import { FastcgiClient, parseCgiResponse } from './helpers/fastcgi-client.js';
import { startGateway } from './helpers/gateway.js';
import { plain } from './helpers/plain-app.js';
import { type RunningPool, startPool } from './helpers/pool.js';

/** Resolves with the bytes received once the gateway closes the connection. */
function closedBy(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the gateway kept the connection open'));
    }, 10_000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

function groupId(name: string): number {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [group, , gid] = line.split(':');
    if (group === name) return Number(gid);
  }
  throw new Error(`no group ${name}`);
}
function groupName(gid: number): string {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [group, , id] = line.split(':');
    if (Number(id) === gid && group) return group;
  }
  throw new Error(`no group ${gid}`);
}

describe('the gateway port as a trust boundary', () => {
  const pools: RunningPool[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'gw-listen-'));
  after(() => {
    for (const pool of pools) pool.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('attack: a gateway started with no GATEWAY_LISTEN is reachable from other hosts (it listens on loopback)', () => {
    assert.deepEqual(loadConfig({}).listen, { kind: 'tcp', host: '127.0.0.1', port: 9000 });
  });

  test('attack: any local user connects to the unix socket (it is 0660, not 0666)', async () => {
    const path = join(dir, 'default.sock');
    const pool = await startPool('fastcgi', { GATEWAY_LISTEN: `unix:${path}` });
    pools.push(pool);
    assert.equal(statSync(path).mode & 0o777, 0o660);
    pool.kill();
  });

  test('the unix socket takes GATEWAY_LISTEN_MODE and GATEWAY_LISTEN_GROUP (a name or an id), as listen.mode and listen.group', async () => {
    const path = join(dir, 'group.sock');
    // As root any group will do; otherwise the gateway's own, by name.
    const group = process.getuid?.() === 0 ? 'nogroup' : groupName(process.getgid?.() ?? 0);
    const pool = await startPool('fastcgi', {
      GATEWAY_LISTEN: `unix:${path}`,
      GATEWAY_LISTEN_MODE: '0600',
      GATEWAY_LISTEN_GROUP: group,
      GATEWAY_PM: 'ondemand',
    });
    pools.push(pool);
    const stat = statSync(path);
    assert.equal(stat.mode & 0o777, 0o600);
    assert.equal(stat.gid, groupId(group));
    pool.kill();
  });

  test('attack: a client outside GATEWAY_LISTEN_ALLOWED_CLIENTS sends params (refused, counted and logged)', async () => {
    const gateway = await startGateway({
      protocol: 'fastcgi',
      listener: plain,
      env: { GATEWAY_LISTEN_ALLOWED_CLIENTS: '192.0.2.0/24, 2001:db8::1' },
    });
    try {
      const port = (gateway.address as { port: number }).port;
      assert.deepEqual(await closedBy(port), Buffer.alloc(0));
      assert.deepEqual(await closedBy(port), Buffer.alloc(0));
      const stats = gateway.server.stats();
      assert.equal(stats.refusedConnections, 2);
      assert.equal(stats.acceptedConnections, 0);
      const refusals = gateway.logLines
        .map((line) => JSON.parse(line) as { code?: string; remote?: string })
        .filter((line) => line.code === 'GW_ERR_CLIENT_NOT_ALLOWED');
      // One line a second at most, naming the client.
      assert.equal(refusals.length, 1);
      assert.equal(refusals[0]?.remote, '127.0.0.1');
    } finally {
      await gateway.close();
    }
  });

  test('a client inside GATEWAY_LISTEN_ALLOWED_CLIENTS is served', async () => {
    const gateway = await startGateway({
      protocol: 'fastcgi',
      listener: plain,
      env: { GATEWAY_LISTEN_ALLOWED_CLIENTS: '192.0.2.1,127.0.0.0/8' },
    });
    try {
      const client = await FastcgiClient.connect(gateway.address);
      const r = await client.request({ params: nginxParams('GET', '/info') });
      assert.equal(parseCgiResponse(r.stdout).status, 200);
      assert.equal(gateway.server.stats().refusedConnections, 0);
    } finally {
      await gateway.close();
    }
  });

  test('the listen settings refuse what they cannot mean, with one line naming the variable', () => {
    for (const [name, value] of [
      ['GATEWAY_LISTEN_ALLOWED_CLIENTS', 'nginx'],
      ['GATEWAY_LISTEN_ALLOWED_CLIENTS', '10.0.0.0/33'],
      ['GATEWAY_LISTEN_MODE', '666x'],
      ['GATEWAY_LISTEN_OWNER', 'no-such-user-here'],
      ['GATEWAY_LISTEN_GROUP', 'no-such-group-here'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: Error) =>
          isGatewayError(err, 'GW_ERR_CONFIG') && err.message.includes(name) && !err.message.includes('\n'),
      );
    }
  });
});
