#!/usr/bin/env python3
"""Runs a command N times and prints the median wall time and the peak RSS of its process
tree (from wait4's rusage, so no /usr/bin/time is needed). Output: one JSON line.

    measure.py RUNS -- CMD ARG...
"""
import json
import os
import statistics
import subprocess
import sys
import time


def main():
    runs = int(sys.argv[1])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    times, rss, out = [], [], b""
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        times.append(time.perf_counter() - t0)
        rss.append(ru.ru_maxrss)  # KiB on Linux
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # rg -c exits 1 when nothing matches
            sys.exit(f"{cmd[0]} exited {code}")
    print(json.dumps({
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_rss_kib": max(rss),
        "stdout": out.decode("utf-8", "replace"),
    }))


main()
