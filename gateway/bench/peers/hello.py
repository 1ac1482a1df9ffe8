# The same hello as gateway/examples/hello, as a WSGI app for uWSGI: the peer uwsgi mode is measured against.
BODY = b'{"hello":"world"}'


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(BODY)))])
    return [BODY]
