#!/usr/bin/env python3
"""Writes N sshd `Failed password` lines from DISTINCT source addresses to stdout.

    gen_flood.py [--lines N] [--distinct D] [--ipv6-every K]

Line i comes from address i mod D, so with D = N (the default) every line has its own
address: the flood that fills the engine's per-address counter tables. Addresses are
deterministic: IPv4 spread over 10.0.0.0/8 (i times an odd constant mod 2^24, so every
index below 2^24 maps to a different address), and every K-th one an IPv6 address in
2001:db8::/32 with a different /64 each. Timestamps are the generation time, so a live
agent counts every line inside its windows.
"""
import argparse
import sys
import time


def address(i, ipv6_every):
    if ipv6_every and i % ipv6_every == ipv6_every - 1:
        return f"2001:db8:{(i >> 16) & 0xffff:x}:{i & 0xffff:x}::{(i * 7) & 0xffff:x}"
    a = (i * 2654435761) & 0xFFFFFF
    return f"10.{a >> 16}.{(a >> 8) & 255}.{a & 255}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=0, help="addresses (default: --lines)")
    ap.add_argument("--ipv6-every", type=int, default=10)
    a = ap.parse_args()
    distinct = a.distinct or a.lines
    if distinct > 1 << 24:
        sys.exit("gen_flood: at most 2^24 distinct addresses")
    ts = time.strftime("%b %e %H:%M:%S")
    out = sys.stdout
    buf = []
    for i in range(a.lines):
        k = i % distinct
        buf.append(f"{ts} flood sshd[{10000 + i % 50000}]: Failed password for "
                   f"{'root' if i % 3 else 'admin'} from {address(k, a.ipv6_every)} "
                   f"port {1024 + i % 60000} ssh2\n")
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
    out.write("".join(buf))


main()
