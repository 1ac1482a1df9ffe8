/** uwsgi packet constants (uWSGI docs, "The uwsgi protocol"). */

/** modifier1 (u8), datasize (u16 little-endian), modifier2 (u8). */
export const UWSGI_HEADER_LEN = 4;
/** datasize is a u16: the vars block is at most 65535 bytes. */
export const UWSGI_MAX_VARS_SIZE = 0xffff;
/** modifier1 values. Only 0 (a WSGI-style request: vars, then the body) is served. */
export const Modifier1 = { Wsgi: 0 } as const;
