#!/usr/bin/env node
/**
 * A classic CGI program (RFC 3875) for any app with the gateway's contract: loads GATEWAY_APP
 * (default: the identity app's CGI entry, app/dist/src/cgi.js) and serves the one request in the
 * environment and on stdin through the gateway's adapter (cgi/program.ts), the same adapter that
 * serves FastCGI, uwsgi and HTTP. cgi mode's default GATEWAY_CGI_COMMAND runs it, so the app
 * needs no CGI code of its own and never imports the gateway.
 */
import { serveCgiRequest } from '../cgi/program.js';
import { loadApp } from '../pm/app.js';

const defaultCgiApp = new URL('../../../../app/dist/src/cgi.js', import.meta.url).href;

let app: Awaited<ReturnType<typeof loadApp>>;
try {
  app = await loadApp(process.env.GATEWAY_APP || defaultCgiApp);
} catch (err) {
  // No response head on stdout: the gateway answers 502 and logs this line from stderr.
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
await serveCgiRequest(app.handler);
await app.close();
