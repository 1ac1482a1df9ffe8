/**
 * Response heads. Node's ServerResponse renders `HTTP/1.1 200 OK` + headers; FastCGI wants a CGI
 * head (`Status: 200 OK`), uwsgi an HTTP status line. Either way hop-by-hop headers go: the
 * connection to the web server is not the client's connection.
 */

export type HeadFormat = 'cgi' | 'http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

/**
 * The first letters of the hop-by-hop names, as bits from `a` (either case maps onto them): a
 * line starting with any other character is kept without a closer look.
 */
const HOP_BY_HOP_INITIALS = [...HOP_BY_HOP].reduce(
  (bits, name) => bits | (1 << (name.charCodeAt(0) - 97)),
  0,
);
const mayBeHopByHop = (code: number) => {
  const letter = (code | 0x20) - 97;
  return letter >= 0 && letter < 26 && (HOP_BY_HOP_INITIALS & (1 << letter)) !== 0;
};

const STATUS_LINE = /^HTTP\/\d\.\d (\d{3})(?: (.*))?$/;

export interface RewrittenHead {
  head: string;
  status: number;
  /** True when the app itself asked for chunked framing: the body must be de-chunked. */
  chunked: boolean;
}

/**
 * Rewrites a rendered HTTP/1.x response head (status line through the blank line) into the
 * given format. Returns null when the head is not an HTTP response head.
 *
 * Header lines are copied as runs of the rendered string: only a line that starts like a
 * hop-by-hop name is looked at, and only those lines are cut (the adapter keeps ServerResponse
 * from adding a Connection header of its own, so usually there are none).
 */
export function rewriteResponseHead(rendered: string, format: HeadFormat): RewrittenHead | null {
  const lineEnd = rendered.indexOf('\r\n');
  const status = statusOf(lineEnd === -1 ? rendered : rendered.slice(0, lineEnd));
  if (!status) return null;
  let out = format === 'cgi' ? status.cgi : status.http;
  let chunked = false;
  let start = lineEnd + 2;
  let kept = start;
  for (;;) {
    const end = rendered.indexOf('\r\n', start);
    if (end === -1 || end === start) break;
    if (mayBeHopByHop(rendered.charCodeAt(start))) {
      const colon = rendered.indexOf(':', start);
      const nameEnd = colon === -1 || colon > end ? end : colon;
      const name = rendered.slice(start, nameEnd).trim().toLowerCase();
      if (HOP_BY_HOP.has(name)) {
        if (name === 'transfer-encoding' && /chunked/i.test(rendered.slice(nameEnd + 1, end))) chunked = true;
        out += rendered.slice(kept, start);
        kept = end + 2;
      }
    }
    start = end + 2;
  }
  out += rendered.slice(kept, start);
  if (format === 'http') out += 'Connection: close\r\n';
  return { head: `${out}\r\n`, status: status.code, chunked };
}

interface StatusLine {
  code: number;
  /** `Status: 200 OK` and `HTTP/1.1 200 OK`, each with its line end. */
  cgi: string;
  http: string;
}

/** Parsed status lines: a server answers with a handful of distinct ones. */
const statusLines = new Map<string, StatusLine>();

/** The last status line seen: most responses repeat it, and comparing beats hashing. */
let lastLine = '';
let lastStatus: StatusLine | null = null;

function statusOf(line: string): StatusLine | null {
  if (line === lastLine) return lastStatus;
  let status = statusLines.get(line);
  if (status) {
    lastLine = line;
    lastStatus = status;
    return status;
  }
  const match = STATUS_LINE.exec(line);
  if (!match) return null;
  const code = Number(match[1]);
  const reason = match[2] ?? '';
  status = {
    code,
    cgi: `Status: ${code}${reason ? ` ${reason}` : ''}\r\n`,
    http: `HTTP/1.1 ${code} ${reason}\r\n`,
  };
  if (statusLines.size < 256) statusLines.set(line, status);
  return status;
}
