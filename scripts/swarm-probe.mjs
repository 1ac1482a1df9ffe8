// Revocation across gateway replicas, run inside a gateway container (scripts/swarm-check.sh pipes
// it to `node --input-type=module -`): speaks FastCGI to every task behind tasks.gateway, as nginx
// does, with the image's own codec.
//   node --input-type=module - ADMIN_TOKEN SUBJECT_TOKEN
// Every replica validates SUBJECT_TOKEN (so each has it cached), one revokes it (DELETE
// /v3/auth/tokens), then every replica is asked in turn until each refuses it (404). Prints one JSON
// line: the replicas, and how many ms after the revocation was answered each one refused the token.
import { lookup } from 'node:dns/promises';
import { connect } from 'node:net';
import {
  encodeBeginRequest,
  encodeParams,
  encodeRecord,
  FastcgiDecoder,
  RecordType,
  Role,
} from '/srv/gatehouse/gateway/dist/src/protocol/fastcgi/index.js';

const [admin, subject] = process.argv.slice(2);
if (!admin || !subject) {
  process.stderr.write('usage: node --input-type=module - ADMIN_TOKEN SUBJECT_TOKEN\n');
  process.exit(2);
}

function ask(host, method, path) {
  return new Promise((resolve, reject) => {
    const socket = connect(9000, host);
    const decoder = new FastcgiDecoder();
    const out = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`${host}: no answer in 10 s`)));
    socket.on('error', reject);
    socket.on('connect', () => {
      const params = [
        ['REQUEST_METHOD', method],
        ['REQUEST_URI', path],
        ['DOCUMENT_URI', path],
        ['SCRIPT_NAME', path],
        ['QUERY_STRING', ''],
        ['SERVER_PROTOCOL', 'HTTP/1.1'],
        ['GATEWAY_INTERFACE', 'CGI/1.1'],
        ['REMOTE_ADDR', '127.0.0.1'],
        ['SERVER_NAME', 'localhost'],
        ['SERVER_PORT', '443'],
        ['HTTPS', 'on'],
        ['HTTP_HOST', 'localhost'],
        ['HTTP_X_AUTH_TOKEN', admin],
        ['HTTP_X_SUBJECT_TOKEN', subject],
      ];
      socket.write(
        Buffer.concat([
          encodeBeginRequest(1, Role.Responder, 0),
          encodeParams(1, params),
          encodeRecord(RecordType.Stdin, 1),
        ]),
      );
    });
    socket.on('data', (chunk) => {
      decoder.push(chunk, (record) => {
        if (record.kind === 'stream' && record.type === RecordType.Stdout) out.push(record.data);
        if (record.kind === 'end-request') {
          socket.destroy();
          const head = Buffer.concat(out).toString('latin1');
          resolve(Number(/^Status:\s*(\d{3})/im.exec(head)?.[1] ?? 200));
        }
      });
    });
  });
}

const replicas = (await lookup('tasks.gateway', { all: true, family: 4 })).map((a) => a.address).sort();
if (replicas.length < 2) throw new Error(`tasks.gateway has ${replicas.length} address(es): ${replicas}`);
for (let round = 0; round < 3; round++) {
  for (const host of replicas) {
    const status = await ask(host, 'GET', '/v3/auth/tokens');
    if (status !== 200)
      throw new Error(`${host}: the token did not validate before the revocation (${status})`);
  }
}
const via = replicas[0];
const revoked = await ask(via, 'DELETE', '/v3/auth/tokens');
if (revoked !== 204) throw new Error(`${via}: DELETE /v3/auth/tokens answered ${revoked}`);
const t0 = Date.now();
const refusedAfter = {};
while (Object.keys(refusedAfter).length < replicas.length) {
  if (Date.now() - t0 > 30_000) throw new Error(`still accepted after 30 s by some of ${replicas}`);
  for (const host of replicas) {
    if (host in refusedAfter) continue;
    const status = await ask(host, 'GET', '/v3/auth/tokens');
    if (status === 404) refusedAfter[host] = Date.now() - t0;
    else if (status !== 200) throw new Error(`${host}: answered ${status}`);
  }
}
process.stdout.write(
  `${JSON.stringify({ replicas: replicas.length, revokedVia: via, refusedAfterMs: refusedAfter, allRefusedAfterMs: Math.max(...Object.values(refusedAfter)) })}\n`,
);
