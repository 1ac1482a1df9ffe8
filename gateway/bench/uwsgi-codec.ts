/**
 * Micro benchmark of the uwsgi codec: what decoding an nginx request costs the gateway, and what
 * encoding one costs a client or health check. No sockets; a few seconds in all.
 *
 *   node gateway/dist/bench/uwsgi-codec.js
 */
import { encodeRequest, encodeVars, UwsgiDecoder } from '../src/protocol/uwsgi/index.js';

/** The vars nginx sends with nginx/snippets/uwsgi.conf for an API call, then its headers. */
const vars: Array<[string, string]> = [
  ['QUERY_STRING', ''],
  ['REQUEST_METHOD', 'GET'],
  ['CONTENT_TYPE', ''],
  ['CONTENT_LENGTH', ''],
  ['SCRIPT_NAME', ''],
  ['PATH_INFO', '/v3/auth/tokens'],
  ['REQUEST_URI', '/v3/auth/tokens'],
  ['DOCUMENT_URI', '/v3/auth/tokens'],
  ['SERVER_PROTOCOL', 'HTTP/1.1'],
  ['REQUEST_SCHEME', 'http'],
  ['GATEWAY_INTERFACE', 'CGI/1.1'],
  ['SERVER_SOFTWARE', 'nginx'],
  ['REMOTE_ADDR', '127.0.0.1'],
  ['REMOTE_PORT', '51234'],
  ['SERVER_ADDR', '127.0.0.1'],
  ['SERVER_PORT', '8080'],
  ['SERVER_NAME', 'localhost'],
  ['HTTP_HOST', '127.0.0.1:8080'],
  ['HTTP_X_REQUEST_ID', '9c64e17272a52072ac79b52c2ade3ae0'],
  ['HTTP_USER_AGENT', 'python-keystoneclient'],
  ['HTTP_ACCEPT', 'application/json'],
  ['HTTP_X_AUTH_TOKEN', 'gAAAAABn'.padEnd(183, 'x')],
  ['HTTP_X_SUBJECT_TOKEN', 'gAAAAABn'.padEnd(183, 'y')],
];
const json = Buffer.from('{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"u1"}}}}}');
const postVars = vars.map(([k, v]): [string, string] =>
  k === 'REQUEST_METHOD'
    ? [k, 'POST']
    : k === 'CONTENT_LENGTH'
      ? [k, String(json.length)]
      : k === 'CONTENT_TYPE'
        ? [k, 'application/json']
        : [k, v],
);
const get = encodeRequest(vars);
const post = encodeRequest(postVars, json);
// As a TCP read might deliver it: the header cut in two, the vars block cut in the middle.
const getSplit = [get.subarray(0, 2), get.subarray(2, 300), get.subarray(300)];

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
  console.log(`${name.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/request`);
}

let sink = 0;
const count = () => {
  sink++;
};
console.log(`nginx GET packet: ${get.length} bytes, ${vars.length} vars; POST: ${post.length} bytes`);
bench('decode an nginx GET (header + vars, one chunk)', () => {
  const decoder = new UwsgiDecoder();
  decoder.push(get, count);
  decoder.end();
});
bench('decode an nginx GET in three chunks', () => {
  const decoder = new UwsgiDecoder();
  for (const chunk of getSplit) decoder.push(chunk, count);
  decoder.end();
});
bench(`decode an nginx POST with a ${json.length}-byte JSON body`, () => {
  const decoder = new UwsgiDecoder();
  decoder.push(post, count);
  decoder.end();
});
bench('encode the GET (encodeRequest)', () => {
  sink += encodeRequest(vars).length;
});
bench('encode its vars block alone (encodeVars)', () => {
  sink += encodeVars(vars).length;
});
if (sink < 0) console.log(sink);
