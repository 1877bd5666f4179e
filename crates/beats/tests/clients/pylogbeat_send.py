"""Ships JSON events to a Beats server with pylogbeat, an independent client implementation
of the protocol (PyPI): one window per --window events, "ACKED <n>" printed after each
acknowledged window, "ERROR <why>" and exit status 1 on a failure. With --resend, a window
whose connection fails is sent again on a new connection, as Beats do."""

import argparse
import sys

import pylogbeat


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--events", type=int, default=10)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--ca")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--resend", action="store_true")
    a = p.parse_args()

    def connect():
        return pylogbeat.PyLogBeatClient(
            "127.0.0.1", a.port, timeout=10, ssl_enable=a.ca is not None, ssl_verify=True,
            ca_certs=a.ca, certfile=a.cert, keyfile=a.key)

    events = [
        {"@timestamp": "2026-12-06T10:00:00.000Z", "message": f"event {i}",
         "winlog": {"channel": "Security", "event_id": 4625, "record_id": i}}
        for i in range(a.events)
    ]
    client, i, resent = connect(), 0, 0
    while i < len(events):
        window = events[i:i + a.window]
        try:
            client.send(window)
        except (pylogbeat.ConnectionException, OSError) as e:
            if not a.resend or resent >= 3:
                print(f"ERROR {type(e).__name__}: {e}", flush=True)
                sys.exit(1)
            print(f"RESEND {type(e).__name__}: {e}", flush=True)
            resent += 1
            try:
                client.close()
            except OSError:
                pass
            client = connect()
            continue
        print(f"ACKED {len(window)}", flush=True)
        i += len(window)
    client.close()


if __name__ == "__main__":
    main()
