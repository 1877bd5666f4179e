#!/usr/bin/env python3
"""A collector stand-in for the forward tests: docs/COLLECTOR.md implemented independently
of logward's Rust code (its own HMAC check, gzip, seq dedup), standard library only.

    receiver.py --dir D [--port P] [--cert PEM --key PEM]

Prints `PORT <n>` once listening. Everything it saw is recorded in D:

- agents.json      {agent_id: secret} (written by the test or by /v1/enroll)
- tokens           one enrolment token per line (used tokens are removed)
- items.ndjson     every item stored, one line each (lower or equal seqs are duplicates)
- requests.ndjson  one line per request: path, query, status, gzip, items, time
- bad.ndjson       every request refused for its authentication, with the reason
- heartbeats.ndjson
- decisions.json   (read) the fleet decisions to serve: [{"id": n, "target": …}, …]
- throttle         (read) "N S": answer the next N event requests 429, Retry-After S
- max_items        (read) N: answer 413 to an event request of more than N lines
"""

import argparse
import gzip
import hashlib
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

LOCK = threading.Lock()
NONCES = {}
MAX_SKEW = 300


def path_in(d, name):
    return os.path.join(d, name)


def append(d, name, obj):
    with open(path_in(d, name), "a") as f:
        f.write(json.dumps(obj) + "\n")
        f.flush()


def load_json(d, name, default):
    try:
        with open(path_in(d, name)) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return default


def highest_seq(d):
    """The highest stored seq, from what was recorded (so a restart keeps it)."""
    top = 0
    try:
        with open(path_in(d, "items.ndjson")) as f:
            for line in f:
                top = max(top, json.loads(line)["seq"])
    except FileNotFoundError:
        pass
    return top


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("content-length") or 0)
        return self.rfile.read(n) if n else b""

    def authenticate(self, method, body):
        """The agent id, or None after answering 401 (the reason recorded)."""
        d = self.server.dir
        agent = self.headers.get("x-logward-agent")
        ts = self.headers.get("x-logward-timestamp")
        nonce = self.headers.get("x-logward-nonce")
        sig = self.headers.get("x-logward-signature")
        reason = None
        secret = load_json(d, "agents.json", {}).get(agent) if agent else None
        if not (agent and ts and nonce and sig):
            reason = "missing header"
        elif secret is None:
            reason = "unknown agent"
        elif not ts.lstrip("-").isdigit() or abs(time.time() - int(ts)) > MAX_SKEW:
            reason = "stale timestamp"
        elif not (16 <= len(nonce) <= 64 and all(c in "0123456789abcdefABCDEF" for c in nonce)):
            reason = "bad nonce"
        else:
            text = "\n".join([
                method.upper(),
                self.path,
                ts,
                nonce,
                hashlib.sha256(body).hexdigest(),
            ]).encode()
            want = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, sig.lower()):
                reason = "bad signature"
            else:
                with LOCK:
                    now = time.time()
                    for k in [k for k, t in NONCES.items() if now - t > MAX_SKEW]:
                        del NONCES[k]
                    if nonce in NONCES:
                        reason = "nonce reused"
                    else:
                        NONCES[nonce] = now
        if reason:
            append(d, "bad.ndjson", {"path": self.path, "reason": reason})
            self.answer(401, {"error": reason})
            return None
        return agent

    def record(self, status, **kw):
        u = urlsplit(self.path)
        append(self.server.dir, "requests.ndjson",
               dict(path=u.path, query=u.query, status=status, time=time.time(), **kw))

    def do_GET(self):
        d = self.server.dir
        u = urlsplit(self.path)
        if u.path != "/v1/decisions":
            return self.answer(404, {"error": "not found"})
        if self.authenticate("GET", b"") is None:
            return
        since = int((parse_qs(u.query).get("since") or ["0"])[0])
        rows = [r for r in load_json(d, "decisions.json", []) if r["id"] > since]
        nxt = max([r["id"] for r in rows], default=since)
        self.record(200)
        self.answer(200, {"decisions": rows, "next": nxt})

    def do_POST(self):
        d = self.server.dir
        u = urlsplit(self.path)
        body = self.body()
        if u.path == "/v1/enroll":
            req = json.loads(body)
            with LOCK:
                try:
                    with open(path_in(d, "tokens")) as f:
                        tokens = [t.strip() for t in f if t.strip()]
                except FileNotFoundError:
                    tokens = []
                if req.get("token") not in tokens:
                    self.record(401)
                    return self.answer(401, {"error": "token unknown, used or expired"})
                tokens.remove(req["token"])
                with open(path_in(d, "tokens"), "w") as f:
                    f.write("".join(t + "\n" for t in tokens))
                agents = load_json(d, "agents.json", {})
                agent_id = "agent-%d" % (len(agents) + 1)
                agents[agent_id] = secrets.token_hex(32)
                with open(path_in(d, "agents.json"), "w") as f:
                    json.dump(agents, f)
            self.record(200, host=req.get("host"), version=req.get("version"))
            return self.answer(200, {"agent_id": agent_id, "secret": agents[agent_id]})
        if self.authenticate("POST", body) is None:
            return
        if u.path == "/v1/heartbeat":
            append(d, "heartbeats.ndjson", json.loads(body))
            self.record(200)
            return self.answer(200, {})
        if u.path != "/v1/events":
            return self.answer(404, {"error": "not found"})
        with LOCK:
            try:
                with open(path_in(d, "throttle")) as f:
                    n, secs = f.read().split()
                n = int(n)
            except (FileNotFoundError, ValueError):
                n = 0
            if n > 0:
                with open(path_in(d, "throttle"), "w") as f:
                    f.write("%d %s" % (n - 1, secs))
                self.record(429)
                return self.answer(429, {"error": "slow down"}, [("retry-after", secs)])
        is_gzip = self.headers.get("content-encoding") == "gzip"
        try:
            raw = gzip.decompress(body) if is_gzip else body
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            self.record(400, gzip=is_gzip)
            return self.answer(400, {"error": "not gzip or not UTF-8"})
        try:
            with open(path_in(d, "max_items")) as f:
                max_items = int(f.read())
        except (FileNotFoundError, ValueError):
            max_items = None
        lines = [l for l in text.splitlines() if l.strip()]
        if max_items is not None and len(lines) > max_items:
            self.record(413, gzip=is_gzip, items=len(lines))
            return self.answer(413, {"error": "too large"})
        accepted = duplicates = rejected = 0
        errors = []
        with LOCK:
            for i, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    seq = item["seq"]
                    kinds = [k for k in ("event", "alert") if k in item]
                    if not isinstance(seq, int) or len(kinds) != 1 or not isinstance(item[kinds[0]], dict):
                        raise ValueError("not {seq, event|alert}")
                except (ValueError, KeyError, TypeError) as e:
                    rejected += 1
                    if len(errors) < 10:
                        errors.append({"line": i, "error": str(e)})
                    continue
                if seq <= self.server.highest:
                    duplicates += 1
                    continue
                self.server.highest = seq
                accepted += 1
                append(d, "items.ndjson", item)
        self.record(200, gzip=is_gzip, items=accepted + duplicates + rejected,
                    duplicates=duplicates)
        self.answer(200, {"accepted": accepted, "duplicates": duplicates,
                          "rejected": rejected, "errors": errors})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.dir = a.dir
    srv.highest = highest_seq(a.dir)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
