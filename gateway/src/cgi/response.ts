/**
 * Response heads. Node's ServerResponse renders `HTTP/1.1 200 OK` + headers; FastCGI wants a CGI
 * head (`Status: 200 OK`), uwsgi an HTTP status line. Either way hop-by-hop headers go: the
 * connection to the web server is not the client's connection.
 */

export type HeadFormat = 'cgi' | 'http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

export interface RewrittenHead {
  head: string;
  status: number;
  /** True when the app itself asked for chunked framing: the body must be de-chunked. */
  chunked: boolean;
}

/**
 * Rewrites a rendered HTTP/1.x response head (status line through the blank line) into the
 * given format. Returns null when the head is not an HTTP response head.
 */
export function rewriteResponseHead(rendered: string, format: HeadFormat): RewrittenHead | null {
  const lineEnd = rendered.indexOf('\r\n');
  const match = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/.exec(
    lineEnd === -1 ? rendered : rendered.slice(0, lineEnd),
  );
  if (!match) return null;
  const status = Number(match[1]);
  const reason = match[2] ?? '';
  let out =
    format === 'cgi'
      ? `Status: ${status}${reason ? ` ${reason}` : ''}\r\n`
      : `HTTP/1.1 ${status} ${reason}\r\n`;
  let chunked = false;
  let start = lineEnd + 2;
  for (;;) {
    const end = rendered.indexOf('\r\n', start);
    if (end === -1 || end === start) break;
    const line = rendered.slice(start, end);
    start = end + 2;
    const colon = line.indexOf(':');
    const name = (colon === -1 ? line : line.slice(0, colon)).trim().toLowerCase();
    if (HOP_BY_HOP.has(name)) {
      if (name === 'transfer-encoding' && /chunked/i.test(line.slice(colon + 1))) chunked = true;
      continue;
    }
    out += `${line}\r\n`;
  }
  if (format === 'http') out += 'Connection: close\r\n';
  return { head: `${out}\r\n`, status, chunked };
}
