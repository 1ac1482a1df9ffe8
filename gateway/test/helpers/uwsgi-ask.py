#!/usr/bin/env python3
"""A uwsgi client, as nginx speaks the protocol and independent of the gateway's own codec.

    uwsgi-ask.py HOST:PORT|/unix/socket VARS_JSON BODY_SIZE

Sends one packet (modifier1 0: the variables as little-endian length-prefixed pairs) and
BODY_SIZE bytes of 'b' on a new connection, without half-closing it, and writes every byte of
the answer to stdout until the server closes. Exit status 0 when the server closed the connection
(FIN), 3 when it reset it: a uwsgi response has no framing of its own, and a reset is how a server
says the response was cut short.
"""
import json
import socket
import struct
import sys
import threading


def packet(variables):
    block = b"".join(
        struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
        for k, v in ((k.encode("latin-1"), v.encode("latin-1")) for k, v in variables)
    )
    return struct.pack("<BHB", 0, len(block), 0) + block


def main():
    address, variables, body_size = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    if address.startswith("/"):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(address)
    else:
        host, port = address.rsplit(":", 1)
        conn = socket.create_connection((host, int(port)))
    out = sys.stdout.buffer

    def send():
        try:
            conn.sendall(packet(variables))
            if body_size:
                conn.sendall(b"b" * body_size)
        except OSError:
            pass  # the server answered without reading the body: its answer may still be there

    # Sent beside the reading, as nginx does: a server may answer before it has read the body.
    threading.Thread(target=send, daemon=True).start()
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return 0
            out.write(data)
    except ConnectionResetError:
        return 3
    finally:
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
