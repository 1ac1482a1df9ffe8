/**
 * The identity service as a classic CGI program (RFC 3875): meta-variables from the environment,
 * the body (CONTENT_LENGTH bytes) from stdin, one CGI response on stdout. One request per
 * process is this entry's job, so it answers through app.inject().
 */
import { build } from './app.js';
import { loadConfig } from './config.js';
import { createPool } from './db.js';
import { createAppLogger } from './log.js';

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

const config = loadConfig();
// One request per process: lines are written as they come, nothing is left queued at exit.
const logger = createAppLogger({ level: config.logLevel, async: false });
const db = createPool(config.databaseUrl, 1, { log: logger, slowMs: config.slowQueryMs });
const app = await build({ config, db, cache: false, logger });
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
