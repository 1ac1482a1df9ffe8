/** What nginx sends the gateway for a GET, with the parameters of our snippet. */

/** The meta-variables for `GET uri`, then `headers` (as HTTP_* names), in nginx's order. */
export function nginxParams(uri: string, headers: Record<string, string>): Array<[string, string]> {
  return Object.entries({
    QUERY_STRING: '',
    REQUEST_METHOD: 'GET',
    CONTENT_TYPE: '',
    CONTENT_LENGTH: '',
    SCRIPT_NAME: uri,
    REQUEST_URI: uri,
    DOCUMENT_URI: uri,
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_SCHEME: 'http',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'nginx',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '51234',
    SERVER_ADDR: '127.0.0.1',
    SERVER_PORT: '8080',
    SERVER_NAME: 'localhost',
    HTTP_HOST: '127.0.0.1:8080',
    ...headers,
  });
}
