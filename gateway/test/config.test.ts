import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { declarations, loadConfig, parseDuration, parseListen } from '../src/config.js';
import { isGatewayError } from '../src/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('configuration', () => {
  test("the README's table lists every variable with its declared default, and no other", () => {
    const block = readme.slice(
      readme.indexOf('<!-- config:start -->'),
      readme.indexOf('<!-- config:end -->'),
    );
    const rows = [...block.matchAll(/^\|\s*`(GATEWAY_[A-Z0-9_]+)`\s*\|\s*(?:`([^`]*)`|—)\s*\|/gm)].map(
      (m) => [m[1], m[2] ?? null],
    );
    assert.deepEqual(
      rows,
      declarations.map((d) => [d.name, d.default]),
    );
  });

  test('defaults load without any environment', () => {
    const config = loadConfig({});
    assert.equal(config.protocol, 'fastcgi');
    assert.deepEqual(config.listen, { kind: 'tcp', host: '127.0.0.1', port: 9000 });
    assert.equal(config.idleTimeoutMs, 75_000);
    assert.ok(config.pmMaxChildren >= 1);
  });

  test('listen addresses: host:port, [v6]:port, bare port, unix:/path', () => {
    assert.deepEqual(parseListen('127.0.0.1:9001'), { kind: 'tcp', host: '127.0.0.1', port: 9001 });
    assert.deepEqual(parseListen('[::1]:9001'), { kind: 'tcp', host: '::1', port: 9001 });
    assert.deepEqual(parseListen('9001'), { kind: 'tcp', host: '127.0.0.1', port: 9001 });
    assert.deepEqual(parseListen('unix:/run/gw.sock'), { kind: 'unix', path: '/run/gw.sock' });
  });

  test('durations', () => {
    assert.equal(parseDuration('30', 'X'), 30_000);
    assert.equal(parseDuration('250ms', 'X'), 250);
    assert.equal(parseDuration('2m', 'X'), 120_000);
  });

  const bad: Array<[string, string]> = [
    ['GATEWAY_PROTOCOL', 'scgi'],
    ['GATEWAY_LISTEN', 'localhost'],
    ['GATEWAY_LISTEN', '127.0.0.1:70000'],
    ['GATEWAY_LISTEN', 'unix:relative.sock'],
    ['GATEWAY_PM_MAX_CHILDREN', 'many'],
    ['GATEWAY_IDLE_TIMEOUT', 'soon'],
    ['GATEWAY_FCGI_MPXS_CONNS', 'perhaps'],
    ['GATEWAY_STATUS_PATH', 'status'],
  ];
  for (const [name, value] of bad) {
    test(`${name}=${value} stops start-up with one line naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err) =>
          isGatewayError(err, 'GW_ERR_CONFIG') && err.message.includes(name) && !err.message.includes('\n'),
      );
    });
  }

  // PHP-FPM refuses these dynamic pools at start-up; so does the gateway, naming the variable.
  const badDynamic: Array<[string, Record<string, string>]> = [
    [
      'GATEWAY_PM_MIN_SPARE_SERVERS',
      { GATEWAY_PM_MIN_SPARE_SERVERS: '3', GATEWAY_PM_MAX_SPARE_SERVERS: '2' },
    ],
    ['GATEWAY_PM_MAX_SPARE_SERVERS', { GATEWAY_PM_MAX_SPARE_SERVERS: '5' }],
    ['GATEWAY_PM_START_SERVERS', { GATEWAY_PM_START_SERVERS: '4', GATEWAY_PM_MAX_SPARE_SERVERS: '2' }],
  ];
  for (const [name, env] of badDynamic) {
    test(`dynamic with ${JSON.stringify(env)} stops start-up naming ${name}`, () => {
      assert.throws(
        () => loadConfig({ GATEWAY_PM: 'dynamic', GATEWAY_PM_MAX_CHILDREN: '4', ...env }),
        (err) =>
          isGatewayError(err, 'GW_ERR_CONFIG') && err.message.startsWith(`invalid configuration: ${name}=`),
      );
    });
  }

  test('dynamic defaults follow PHP-FPM: start_servers between min and max spare', () => {
    const config = loadConfig({
      GATEWAY_PM: 'dynamic',
      GATEWAY_PM_MAX_CHILDREN: '5',
      GATEWAY_PM_MAX_SPARE_SERVERS: '3',
    });
    assert.equal(config.pmMinSpareServers, 1);
    assert.equal(config.pmStartServers, 2);
    assert.equal(config.pmBusyUtilization, 0.75);
    assert.throws(() => loadConfig({ GATEWAY_PM_BUSY_UTILIZATION: '0' }), /GATEWAY_PM_BUSY_UTILIZATION/);
  });
});
