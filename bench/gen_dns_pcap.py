#!/usr/bin/env python3
"""Writes a classic pcap (Ethernet, IPv4, UDP port 53) of DNS traffic for bench/dns_pcap.sh:
PAIRS queries each followed by its reply (a CNAME and an A record, the name compressed), and
every 50th query unanswered, from 250 clients with their own ports and ids, 1 microsecond
apart. Names are a random label under a few dozen domains, so no two questions are alike.

    python3 bench/gen_dns_pcap.py OUT.pcap PAIRS
"""
import random
import struct
import sys

out, pairs = sys.argv[1], int(sys.argv[2])
rng = random.Random(17)
domains = [f"{w}.{t}".encode() for w in ("example", "corp", "cdn", "mail", "shop", "news", "api", "static")
           for t in ("com", "net", "org", "io")]


def labels(name):
    return b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\0"


def checksum(h):
    s = sum(struct.unpack(f"!{len(h) // 2}H", h))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def frame(src, sport, dst, dport, dns):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(dns), 0) + dns
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


server = bytes([10, 0, 0, 53])
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t = 1_700_000_000_000_000
    chunk = []
    for i in range(pairs):
        client = bytes([10, 1, (i % 250) // 250, 1 + i % 250])
        port = 1024 + (i * 7919) % 60000
        qid = (i * 40503) & 0xFFFF
        name = f"h{rng.getrandbits(40):x}".encode() + b"." + domains[i % len(domains)]
        question = labels(name) + b"\x00\x01\x00\x01"
        query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
        target = b"\x04edge" + b"\xc0" + bytes([12 + 1 + name.index(b".")])
        answers = (b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 300, len(target)) + target
                   + struct.pack("!H", 0xC000 | (12 + len(question) + 12)) + struct.pack("!HHIH", 1, 1, 60, 4)
                   + bytes([192, 0, 2, i % 250 + 1]))
        reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 2, 0, 0) + question + answers
        packets = [frame(client, port, server, 53, query)]
        if i % 50 != 49:
            packets.append(frame(server, 53, client, port, reply))
        for p in packets:
            chunk.append(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(p), len(p)) + p)
            t += 1
        if len(chunk) >= 4096:
            f.write(b"".join(chunk))
            chunk = []
    f.write(b"".join(chunk))
