/**
 * The identity service as a classic CGI program (RFC 3875): meta-variables from the environment,
 * the body (CONTENT_LENGTH bytes) from stdin, one CGI response on stdout. One request per
 * process is this entry's job, so it answers through app.inject().
 */
import { build } from './app.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';

const env = process.env;
const chunks: Buffer[] = [];
const length = Number(env.CONTENT_LENGTH || 0);
if (length > 0) for await (const chunk of process.stdin) chunks.push(chunk as Buffer);

const headers: Record<string, string> = {};
for (const [name, value] of Object.entries(env)) {
  if (value === undefined) continue;
  if (name.startsWith('HTTP_') && name !== 'HTTP_PROXY')
    headers[name.slice(5).toLowerCase().replaceAll('_', '-')] = value;
}
if (env.CONTENT_TYPE) headers['content-type'] = env.CONTENT_TYPE;

// app.inject()'s socket is never a TLS one, so HTTPS=on (nginx's word that the client used TLS)
// reaches the links as this one request's base URL, unless IDENTITY_PUBLIC_ENDPOINT sets one.
const loaded = loadConfig();
const https = env.HTTPS?.toLowerCase() === 'on' || env.HTTPS === '1';
const config =
  https && !loaded.publicEndpoint
    ? { ...loaded, publicEndpoint: `https://${env.HTTP_HOST || env.SERVER_NAME || 'localhost'}` }
    : loaded;
const db = createPool(config.databaseUrl, 1);
const app = await build({ config, db, cache: false });
const response = await app.inject({
  method: (env.REQUEST_METHOD ?? 'GET') as 'GET',
  url:
    env.REQUEST_URI ??
    `${env.SCRIPT_NAME ?? ''}${env.PATH_INFO ?? ''}${env.QUERY_STRING ? `?${env.QUERY_STRING}` : ''}`,
  headers,
  remoteAddress: env.REMOTE_ADDR ?? '127.0.0.1',
  ...(length > 0 ? { payload: Buffer.concat(chunks) } : {}),
});
let head = `Status: ${response.statusCode} ${response.statusMessage}\r\n`;
for (const [name, value] of Object.entries(response.headers)) {
  if (['connection', 'transfer-encoding', 'keep-alive', 'date'].includes(name) || value === undefined)
    continue;
  for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${v}\r\n`;
}
process.stdout.write(`${head}\r\n`);
process.stdout.write(response.rawPayload);
await app.close();
await db.end();
