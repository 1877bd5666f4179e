#!/usr/bin/env python3
"""A stand-in for the Chinese chat services, for crates/notify/tests/chat_cn.rs.

One HTTP server on 127.0.0.1 acts as:
  POST /dingtalk/robot/send?access_token=…[&timestamp=…&sign=…]   DingTalk custom robot
  POST /feishu/open-apis/bot/v2/hook/<id>                         Feishu/Lark custom bot
  POST /wecom/cgi-bin/webhook/send?key=…                          WeCom group robot
  GET  /cgi-bin/gettoken?corpid=…&corpsecret=…                    WeCom application API
  POST /cgi-bin/message/send?access_token=…

It checks signatures with its own implementation of each service's documented recipe (not
logward's), checks payload shapes and size limits, and answers like the service would.

Control:
  GET /_requests                          every request so far, as a JSON array
  GET /_next?service=S&answers=a,b,…      the next answers for service S (dingtalk, feishu,
                                          wecom, wecom_app), one per request, then "ok":
                                          ok | 429 | 500 | code:N | sleep:SECONDS | expire

Prints the port it listens on (the first line of stdout), then serves until killed.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
REQUESTS = []
NEXT = {}  # service -> [answer, …]
TOKENS = {"current": None, "issued": 0}

FRESH_MS = 3600 * 1000  # both services refuse timestamps more than an hour off


def dingtalk_sign(secret, timestamp):
    # DingTalk: HMAC-SHA256 keyed with the secret over "timestamp\nsecret", base64.
    msg = ("%s\n%s" % (timestamp, secret)).encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).digest()).decode()


def feishu_sign(secret, timestamp):
    # Feishu: "timestamp\nsecret" is the HMAC key, the message is empty.
    key = ("%s\n%s" % (timestamp, secret)).encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def fresh(ts_ms):
    return abs(time.time() * 1000 - ts_ms) <= FRESH_MS


def next_answer(service):
    with LOCK:
        queue = NEXT.get(service) or []
        return queue.pop(0) if queue else "ok"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, service, query, raw, body, verdict):
        with LOCK:
            REQUESTS.append({
                "service": service,
                "method": self.command,
                "path": urllib.parse.urlsplit(self.path).path,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "raw_len": len(raw),
                "body": body,
                "verdict": verdict,
            })

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        # parse_qs undoes percent-encoding, as the services do.
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = url.path
        if path == "/_requests":
            with LOCK:
                return self.reply(200, REQUESTS)
        if path == "/_next":
            with LOCK:
                NEXT.setdefault(query["service"], []).extend(query["answers"].split(","))
            return self.reply(200, {"ok": True})
        if path.startswith("/dingtalk/"):
            service, check, code_key, msg_key = "dingtalk", self.dingtalk, "errcode", "errmsg"
        elif path.startswith("/feishu/"):
            service, check, code_key, msg_key = "feishu", self.feishu, "code", "msg"
        elif path.startswith("/wecom/"):
            service, check, code_key, msg_key = "wecom", self.wecom, "errcode", "errmsg"
        elif path.startswith("/cgi-bin/"):
            service, check, code_key, msg_key = "wecom_app", self.wecom_app, "errcode", "errmsg"
        else:
            return self.reply(404, {"error": "no such path"})
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            self.record(service, query, raw, None, "bad-json")
            return self.reply(400, {code_key: 40001, msg_key: "invalid json"})

        answer = next_answer(service)
        if answer.startswith("sleep:"):
            self.record(service, query, raw, body, answer)
            time.sleep(float(answer[6:]))
            try:
                return self.reply(200, {code_key: 0, msg_key: "too late"})
            except OSError:
                return None  # the client gave up, as it should
        if answer in ("429", "500"):
            self.record(service, query, raw, body, answer)
            return self.reply(int(answer), {code_key: -1, msg_key: "HTTP " + answer})
        if answer.startswith("code:"):
            self.record(service, query, raw, body, answer)
            return self.reply(200, {code_key: int(answer[5:]), msg_key: "told to fail"})
        if answer == "expire":
            with LOCK:
                TOKENS["expired"] = TOKENS["current"]
        code, msg, extra = check(path, query, raw, body)
        self.record(service, query, raw, body, "ok" if code == 0 else "%d %s" % (code, msg))
        out = {code_key: code, msg_key: msg}
        out.update(extra)
        return self.reply(200, out)

    # Each check returns (service code, message, extra answer fields).

    def dingtalk(self, path, query, raw, body):
        if query.get("access_token") != ARGS.ding_token:
            return 300001, "token is not exist", {}
        if ARGS.ding_secret:
            ts, sign = query.get("timestamp", ""), query.get("sign", "")
            if not ts.isdigit() or not fresh(int(ts)):
                return 310000, "sign not match: timestamp", {}
            if not hmac.compare_digest(sign, dingtalk_sign(ARGS.ding_secret, ts)):
                return 310000, "sign not match", {}
        kind = body.get("msgtype")
        if kind == "markdown":
            md = body.get("markdown") or {}
            if not isinstance(md.get("title"), str) or not isinstance(md.get("text"), str):
                return 40035, "missing markdown title or text", {}
            content = md["title"] + md["text"]
        elif kind == "text":
            content = (body.get("text") or {}).get("content")
            if not isinstance(content, str):
                return 40035, "missing text.content", {}
        else:
            return 40035, "bad msgtype", {}
        if len(content.encode("utf-8")) > 20000 + 200:
            return 460101, "message too long", {}
        if ARGS.ding_keyword and ARGS.ding_keyword not in content:
            return 310000, "keywords not in content", {}
        return 0, "ok", {}

    def feishu(self, path, query, raw, body):
        if len(raw) > 20000:
            return 9499, "request body too large", {}
        if ARGS.feishu_secret:
            ts, sign = body.get("timestamp"), body.get("sign")
            if not isinstance(ts, str) or not ts.isdigit() or not fresh(int(ts) * 1000):
                return 19021, "sign match fail or timestamp is not within one hour", {}
            if not isinstance(sign, str) or not hmac.compare_digest(sign, feishu_sign(ARGS.feishu_secret, ts)):
                return 19021, "sign match fail or timestamp is not within one hour", {}
        kind = body.get("msg_type")
        if kind == "text":
            ok = isinstance((body.get("content") or {}).get("text"), str)
        elif kind == "post":
            post = ((body.get("content") or {}).get("post") or {}).get("zh_cn") or {}
            ok = isinstance(post.get("title"), str) and isinstance(post.get("content"), list)
        elif kind == "interactive":
            card = body.get("card") or {}
            ok = isinstance(card.get("header"), dict) and isinstance(card.get("elements"), list)
        else:
            ok = False
        if not ok:
            return 19002, "params error, msg format error", {}
        return 0, "success", {"data": {}}

    def wecom(self, path, query, raw, body):
        if query.get("key") != ARGS.wecom_key:
            return 93000, "invalid webhook url", {}
        kind = body.get("msgtype")
        content = (body.get(kind) or {}).get("content") if kind in ("text", "markdown") else None
        if not isinstance(content, str):
            return 40008, "invalid message type", {}
        limit = 2048 if kind == "text" else 4096
        if len(content.encode("utf-8")) > limit:
            return 40058, "%s.content exceed max length %d" % (kind, limit), {}
        return 0, "ok", {}

    def wecom_app(self, path, query, raw, body):
        if path == "/cgi-bin/gettoken":
            if query.get("corpid") != ARGS.corpid:
                return 40013, "invalid corpid", {}
            if query.get("corpsecret") != ARGS.corpsecret:
                return 40001, "invalid credential", {}
            with LOCK:
                TOKENS["issued"] += 1
                TOKENS["current"] = "tok-%d" % TOKENS["issued"]
                return 0, "ok", {"access_token": TOKENS["current"], "expires_in": 7200}
        if path != "/cgi-bin/message/send":
            return 404, "no such api", {}
        token = query.get("access_token")
        with LOCK:
            if token is not None and token == TOKENS.get("expired"):
                return 42001, "access_token expired", {}
            if token is None or token != TOKENS["current"]:
                return 40014, "invalid access_token", {}
        kind = body.get("msgtype")
        content = (body.get(kind) or {}).get("content") if kind in ("text", "markdown") else None
        if not isinstance(content, str) or not isinstance(body.get("touser"), str):
            return 40008, "invalid message type", {}
        if body.get("agentid") != ARGS.agentid:
            return 301002, "not allow operate another agent with this accesstoken", {}
        if len(content.encode("utf-8")) > 2048:
            return 40058, "content exceed max length", {}
        return 0, "ok", {"invaliduser": "", "msgid": "m%d" % len(REQUESTS)}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ding-token", default="DTOKEN")
    p.add_argument("--ding-secret", default="")
    p.add_argument("--ding-keyword", default="")
    p.add_argument("--feishu-secret", default="")
    p.add_argument("--wecom-key", default="WKEY")
    p.add_argument("--corpid", default="ww-corp")
    p.add_argument("--corpsecret", default="APPSECRET")
    p.add_argument("--agentid", type=int, default=1000002)
    ARGS = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
