#!/usr/bin/env python3
"""A real SMTP server on 127.0.0.1 for the email notifier tests (aiosmtpd, Debian's
python3-aiosmtpd), which parses what it receives with Python's own email package.

    python3 smtp.py OUT_DIR [--tls none|starttls|implicit] [--cert PEM --key PEM]
                            [--auth USER:PASSWORD]

Prints the port it listens on, then serves. Each accepted message N is saved as N.eml (the
raw bytes) and N.json: envelope, decoded From/To/Subject/Message-ID, the raw Subject header,
the MIME parts (content type, charset, decoded content), whether the session was TLS and
who authenticated. Recipients starting with `temp` get 451 (try later), with `bad` 550.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("temp"):
            return "451 4.3.0 Mailbox busy, try again later"
        if address.startswith("bad"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "content": part.get_content(),
            })
        raw_subject = email.message_from_bytes(raw, policy=email.policy.compat32)["Subject"]
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": [str(a) for a in msg["To"].addresses],
            "subject": str(msg["Subject"]),
            "raw_subject": str(raw_subject),
            "message_id": str(msg["Message-ID"]),
            "content_type": msg.get_content_type(),
            "parts": parts,
            # session.ssl is set by STARTTLS; an implicit-TLS transport says so itself.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.auth_data if session.authenticated else None,
        }
        self.count += 1
        base = os.path.join(self.out, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w") as f:
            json.dump(record, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--tls", default="none", choices=["none", "starttls", "implicit"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    args = ap.parse_args()

    ctx = None
    if args.tls != "none":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)

    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            # handled=False: aiosmtpd then answers 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

        kwargs.update(authenticator=authenticator, auth_required=True)
    if args.tls == "starttls":
        kwargs.update(tls_context=ctx, require_starttls=True)

    handler = Handler(args.out)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, hostname="mx.test", **kwargs),
        "127.0.0.1", 0,
        ssl=ctx if args.tls == "implicit" else None,
    ))
    print(server.sockets[0].getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    sys.exit(main())
