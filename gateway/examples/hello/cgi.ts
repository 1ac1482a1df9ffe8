/** The hello app as a classic CGI program, for measuring CGI against FastCGI with the same handler. */
import { serveCgiRequest } from '../../src/cgi/program.js';
import { hello } from './index.js';

await serveCgiRequest(hello);
