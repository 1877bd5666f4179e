#!/usr/bin/env python3
"""A TLS syslog receiver (RFC 5425) for the syslog notifier test, on Python's ssl module.

    python3 tls_syslog.py CERT KEY OUT

Prints the port it listens on (127.0.0.1), accepts one connection, reads it to the end and
writes the bytes to OUT (renamed into place when complete), then exits; exits quietly when
the client refuses the certificate.
"""

import os
import socket
import ssl
import sys


def main():
    cert, key, out = sys.argv[1:4]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", 0)) as srv:
        print(srv.getsockname()[1], flush=True)
        conn, _ = srv.accept()
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except ssl.SSLError:
            return 0  # the client refused our certificate: the test wanted that
        with tls:
            data = b""
            while True:
                try:
                    chunk = tls.recv(65536)
                except ssl.SSLEOFError:
                    break
                if not chunk:
                    break
                data += chunk
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.rename(out + ".tmp", out)


if __name__ == "__main__":
    sys.exit(main())
