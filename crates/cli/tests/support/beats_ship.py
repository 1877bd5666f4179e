"""Ships JSON documents (one a line in --file) to a Beats receiver with pylogbeat, an
independent client implementation of the protocol (PyPI), --window documents a window.
Prints "ACKED <n>" after each acknowledged window. Like a Beat, a window whose connection
fails (the receiver died before acknowledging it) is sent again, whole, on a new connection
— for up to --retry-for seconds; then "ERROR <why>" and exit status 1."""

import argparse
import sys
import time

import pylogbeat


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--file", required=True)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--pause", type=float, default=0.0, help="seconds between windows")
    p.add_argument("--retry-for", type=float, default=0.0)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()

    with open(a.file, encoding="utf-8") as f:
        import json
        docs = [json.loads(line) for line in f if line.strip()]

    def connect():
        return pylogbeat.PyLogBeatClient(
            "127.0.0.1", a.port, timeout=10, ssl_enable=a.ca is not None, ssl_verify=True,
            ca_certs=a.ca, certfile=a.cert, keyfile=a.key)

    client, i = connect(), 0
    failing_since = None
    while i < len(docs):
        window = docs[i:i + a.window]
        try:
            client.send(window)
        except (pylogbeat.ConnectionException, OSError) as e:
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > a.retry_for:
                print(f"ERROR {type(e).__name__}: {e}", flush=True)
                sys.exit(1)
            print(f"RESEND {type(e).__name__}: {e}", flush=True)
            try:
                client.close()
            except OSError:
                pass
            time.sleep(0.1)
            client = connect()
            continue
        failing_since = None
        print(f"ACKED {len(window)}", flush=True)
        i += len(window)
        if a.pause:
            time.sleep(a.pause)
    client.close()


if __name__ == "__main__":
    main()
