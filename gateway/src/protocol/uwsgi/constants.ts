/**
 * uwsgi packet constants (uWSGI docs, "The uwsgi protocol"; nginx ngx_http_uwsgi_module.c).
 * Unlike FastCGI, every integer on the wire is little-endian.
 */

/** modifier1 (u8), datasize (u16 little-endian, the vars block only), modifier2 (u8). */
export const UWSGI_HEADER_LEN = 4;
/** datasize is a u16, so the vars block is at most 65535 bytes (nginx refuses to send more). */
export const UWSGI_MAX_VARS_SIZE = 0xffff;
/**
 * modifier1 values the gateway knows. Only 0 (a WSGI-style request: vars, then the body) is
 * served: other values ask a uWSGI server for management, code evaluation or plugin routing,
 * which a gateway must never honour.
 */
export const Modifier1 = { Wsgi: 0 } as const;
