#!/usr/bin/env python3
"""Stand-ins for Slack's incoming webhooks and Telegram's Bot API, for the notifier tests.

    python3 intl.py        # prints the port it listens on (127.0.0.1), then serves

Each receiver checks a request the way its service documents it and answers as the service
would, so the Rust side is tested against an independent reading of the documentation:

- POST /slack/<mode>[/…]: Block Kit checks (text or blocks present, header plain_text <= 150
  characters, section text 1..3000 characters, mrkdwn without Markdown's **bold**), then by
  <mode>: ok -> 200 "ok"; 429 -> 429 with Retry-After: 7; 500 -> 500 rollup_error;
  invalid_payload -> 400; no_service -> 404; channel_is_archived -> 410; sleep -> waits 5 s.
- POST /bot<token>/sendMessage: Bot API checks (chat_id, text 1..4096 characters after HTML
  entity parsing, well-formed HTML with Telegram's tags), then by the token's part after the
  colon: ok; ratelimited -> 429 with parameters.retry_after 3; badchat -> 400 chat not found;
  blocked -> 403; fail -> 502 with the error JSON; sleep -> waits 5 s.
- GET /_requests: every request received so far, as JSON [{path, headers, body}], with
  `shown`, the text a Telegram client would display, for Bot API requests.
"""

import html.parser
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUESTS = []
LOCK = threading.Lock()

# Tags Telegram's HTML parse mode accepts (core.telegram.org/bots/api#html-style).
TELEGRAM_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
}


class TelegramHtml(html.parser.HTMLParser):
    """Telegram's entity parsing: the visible text, and whether the markup is acceptable."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.stack = []
        self.error = None

    def handle_starttag(self, tag, attrs):
        if tag not in TELEGRAM_TAGS:
            self.error = f"Unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.error = f"Unmatched end tag \"{tag}\""

    def handle_data(self, data):
        self.text.append(data)


def slack_problem(payload):
    if not isinstance(payload, dict):
        return "invalid_payload"
    blocks = payload.get("blocks")
    if not payload.get("text") and not blocks:
        return "no_text"
    for b in blocks or []:
        t = b.get("type")
        if t == "header":
            txt = b["text"]
            if txt.get("type") != "plain_text" or not 1 <= len(txt.get("text", "")) <= 150:
                return "invalid_blocks"
        elif t == "section":
            txt = b["text"]
            if txt.get("type") != "mrkdwn" or not 1 <= len(txt.get("text", "")) <= 3000:
                return "invalid_blocks"
            if "**" in txt["text"]:
                return "invalid_blocks"  # not an error at Slack, but a sign of unconverted Markdown
        elif t == "context":
            if not 1 <= len(b.get("elements", [])) <= 10:
                return "invalid_blocks"
        else:
            return "invalid_blocks"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                self.reply(200, list(REQUESTS))
        else:
            self.reply(404, "not found")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode("utf-8", "replace")
        self.record = {"path": self.path, "headers": dict(self.headers), "body": raw}
        with LOCK:
            REQUESTS.append(self.record)
        if self.path.startswith("/slack/"):
            # /slack/<mode>[/<the rest of a real webhook's secret path>]
            self.slack(self.path.split("/")[2], raw)
        elif self.path.startswith("/bot") and self.path.endswith("/sendMessage"):
            token = self.path[len("/bot"):-len("/sendMessage")]
            self.telegram(token.split(":", 1)[-1], raw)
        else:
            self.reply(404, "not found")

    def slack(self, mode, raw):
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return self.reply(400, "invalid_payload")
        try:
            problem = slack_problem(json.loads(raw))
        except (ValueError, KeyError, TypeError, AttributeError):
            problem = "invalid_payload"
        if problem:
            return self.reply(400, problem)
        if mode == "sleep":
            time.sleep(5)
            return self.reply(200, "ok")
        answers = {
            "ok": (200, "ok", ()),
            "429": (429, "rate_limited", (("Retry-After", "7"),)),
            "500": (500, "rollup_error", ()),
            "invalid_payload": (400, "invalid_payload", ()),
            "no_service": (404, "no_service", ()),
            "channel_is_archived": (410, "channel_is_archived", ()),
        }
        status, body, headers = answers.get(mode, (404, "no_service", ()))
        self.reply(status, body, headers)

    def telegram(self, mode, raw):
        def error(code, description, **extra):
            body = {"ok": False, "error_code": code, "description": description}
            body.update(extra)
            return self.reply(code, body, (("Content-Type", "application/json"),))

        try:
            req = json.loads(raw)
        except ValueError:
            return error(400, "Bad Request: can't parse JSON")
        chat_id = req.get("chat_id")
        if not (isinstance(chat_id, int) or (isinstance(chat_id, str) and chat_id.startswith("@"))):
            return error(400, "Bad Request: chat_id is empty")
        text = req.get("text", "")
        mode_ = req.get("parse_mode")
        if mode_ == "HTML":
            p = TelegramHtml()
            p.feed(text)
            p.close()
            if p.error or p.stack:
                return error(400, "Bad Request: can't parse entities: " + (p.error or "unclosed tag"))
            text = "".join(p.text)
        elif mode_ is not None:
            return error(400, "Bad Request: unsupported parse_mode")
        with LOCK:
            self.record["shown"] = text
        if not 1 <= len(text) <= 4096:
            return error(400, "Bad Request: message is too long" if text else "Bad Request: message text is empty")
        if mode == "sleep":
            time.sleep(5)
        elif mode == "ratelimited":
            return error(429, "Too Many Requests: retry after 3", parameters={"retry_after": 3})
        elif mode == "badchat":
            return error(400, "Bad Request: chat not found")
        elif mode == "blocked":
            return error(403, "Forbidden: bot was blocked by the user")
        elif mode == "fail":
            return error(502, "Bad Gateway")
        self.reply(200, {"ok": True, "result": {"message_id": len(REQUESTS), "text": text}},
                   (("Content-Type", "application/json"),))


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
