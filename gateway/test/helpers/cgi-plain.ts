/** The plain test app as a CGI program, so cgi mode serves the same app as the other modes. */
import { serveCgiRequest } from '../../src/cgi/program.js';
import { plain } from './plain-app.js';

await serveCgiRequest(plain);
