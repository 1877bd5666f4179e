#!/usr/bin/env python3
"""Runs a command N times and prints the median wall time and the peak RSS of the command.
Output: one JSON line.

    measure.py RUNS -- CMD ARG...

Peak RSS comes from GNU time (`/usr/bin/time -f %M`): a small C parent, so the figure is the
command's own. (wait4 on a child forked from Python would report Python's resident set,
which the child inherits until it execs.)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

GNU_TIME = "/usr/bin/time"


def main():
    runs = int(sys.argv[1])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    if not os.path.exists(GNU_TIME):
        sys.exit("measure.py needs GNU time (Debian package `time`)")
    times, rss, out = [], [], b""
    for _ in range(runs):
        with tempfile.NamedTemporaryFile() as err:
            t0 = time.perf_counter()
            p = subprocess.run([GNU_TIME, "-o", err.name, "-f", "%M", *cmd], stdout=subprocess.PIPE)
            times.append(time.perf_counter() - t0)
            out = p.stdout
            lines = open(err.name).read().split()
        if p.returncode not in (0, 1):  # rg -c exits 1 when nothing matches
            sys.exit(f"{cmd[0]} exited {p.returncode}")
        rss.append(int(lines[-1]))  # KiB
    print(json.dumps({
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "peak_rss_kib": max(rss),
        "stdout": out.decode("utf-8", "replace"),
    }))


main()
