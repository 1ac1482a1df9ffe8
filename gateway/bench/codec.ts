/**
 * Micro benchmark of the protocol codecs and the request mapping: what the gateway spends per
 * request before and after the app, without sockets. Bounded to a few seconds.
 *
 *   node gateway/dist/bench/codec.js
 */
import { buildRequestHead } from '../src/cgi/params.js';
import { rewriteResponseHead } from '../src/cgi/response.js';
import {
  encodeBeginRequest,
  encodeEndRequest,
  encodeParams,
  encodeRecord,
  encodeStream,
  FastcgiDecoder,
  forEachNameValuePair,
  RecordType,
} from '../src/protocol/fastcgi/index.js';
import { encodeRequest, UwsgiDecoder } from '../src/protocol/uwsgi/index.js';
import { nginxParams } from './nginx-request.js';

/** The parameters nginx sends for a token validation, with the headers the client sends. */
const params = nginxParams('/v3/auth/tokens', {
  HTTP_X_REQUEST_ID: '9c64e17272a52072ac79b52c2ade3ae0',
  HTTP_USER_AGENT: 'python-keystoneclient',
  HTTP_ACCEPT: 'application/json',
  HTTP_X_AUTH_TOKEN: 'gAAAAABn'.padEnd(183, 'x'),
  HTTP_X_SUBJECT_TOKEN: 'gAAAAABn'.padEnd(183, 'y'),
});
const fcgiRequest = Buffer.concat([
  encodeBeginRequest(1, 1, 1),
  encodeParams(1, params),
  encodeRecord(RecordType.Stdin, 1),
]);
const uwsgiRequest = encodeRequest(params);
const flat = params.flat();
const body = Buffer.from('{"token":{"methods":["password"]}}');
const renderedHead =
  'HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: 35\r\nx-subject-token: abc\r\nConnection: close\r\n\r\n';

function bench(name: string, fn: () => void, ms = 400): void {
  for (let i = 0; i < 5000; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = process.hrtime.bigint();
  }
  const ns = Number(now - start) / n;
  console.log(`${name.padEnd(52)} ${ns.toFixed(0).padStart(6)} ns/op`);
}

let sink = 0;
bench('FastCGI: decode an nginx request (records)', () => {
  new FastcgiDecoder().push(fcgiRequest, () => {
    sink++;
  });
});
let block: Buffer = Buffer.alloc(0);
new FastcgiDecoder().push(fcgiRequest, (r) => {
  if (r.kind === 'stream' && r.data.length > 0) block = r.data;
});
bench('FastCGI: name-value pairs of that request', () => {
  const out: string[] = [];
  forEachNameValuePair(block, (n, v) => out.push(n, v));
  sink += out.length;
});
bench('uwsgi: decode an nginx request (header + vars)', () => {
  new UwsgiDecoder().push(uwsgiRequest, () => {
    sink++;
  });
});
bench('CGI params to request head', () => {
  sink += buildRequestHead(flat).rawHeaders.length;
});
bench('response head rewrite (HTTP to CGI Status)', () => {
  sink += rewriteResponseHead(renderedHead, 'cgi')?.status ?? 0;
});
bench('FastCGI: encode STDOUT + end of stream + END_REQUEST', () => {
  sink += encodeStream(RecordType.Stdout, 1, body).length + encodeEndRequest(1, 0, 0).length;
});
if (sink < 0) console.log(sink);
