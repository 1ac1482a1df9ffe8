/**
 * FastCGI 1.0 constants (Open Market FastCGI specification, §8 "Types and constants").
 */

/** `FCGI_VERSION_1`: the only version there is. */
export const FCGI_VERSION_1 = 1;
/** `FCGI_HEADER_LEN`: every record starts with an 8-byte header. */
export const FCGI_HEADER_LEN = 8;
/** contentLength is a u16: a record carries at most 65535 bytes. */
export const FCGI_MAX_CONTENT_LENGTH = 0xffff;
/** `FCGI_KEEP_CONN` flag of BEGIN_REQUEST: the web server keeps the connection open afterwards. */
export const FCGI_KEEP_CONN = 1;
/** `FCGI_NULL_REQUEST_ID`: management records use request id 0. */
export const FCGI_NULL_REQUEST_ID = 0;

/** Record types (§8). */
export const RecordType = {
  BeginRequest: 1,
  AbortRequest: 2,
  EndRequest: 3,
  Params: 4,
  Stdin: 5,
  Stdout: 6,
  Stderr: 7,
  Data: 8,
  GetValues: 9,
  GetValuesResult: 10,
  UnknownType: 11,
} as const;

/** Roles of BEGIN_REQUEST (§6). */
export const Role = { Responder: 1, Authorizer: 2, Filter: 3 } as const;

/** protocolStatus of END_REQUEST (§5.5). */
export const ProtocolStatus = { RequestComplete: 0, CantMpxConn: 1, Overloaded: 2, UnknownRole: 3 } as const;

/** Stream record types: PARAMS, STDIN, STDOUT, STDERR, DATA. */
export type StreamRecordType = 4 | 5 | 6 | 7 | 8;

export function isStreamType(type: number): type is StreamRecordType {
  return type >= RecordType.Params && type <= RecordType.Data;
}

/** Management record types: always request id 0. */
export function isManagementType(type: number): boolean {
  return (
    type === RecordType.GetValues || type === RecordType.GetValuesResult || type === RecordType.UnknownType
  );
}
