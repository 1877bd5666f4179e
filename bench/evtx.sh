#!/usr/bin/env bash
# The issue-16 evtx benchmark: `logward scan --format ndjson` (records → ECS NDJSON) over every
# corpus .evtx file (../shared/corpus/windows-evtx), side by side in the same run with the
# evtx crate's own `evtx_dump -t 1 -o jsonl` (records → JSON lines) on the same files, every
# tool pinned to one core. evtx_dump reads one file per process, so the like-for-like rows run
# each tool once per file; logward's own use, one process over all files, is a third row.
# Each run reads the file set REPEAT times; the runs of the tools are interleaved (one run of
# each in turn) so that the machine's noise falls on all of them alike. Prints the median wall
# and CPU seconds (the processes' user + system time: a loaded machine's waiting is not in it),
# records per CPU second and the ratios.
#
#   bash bench/evtx.sh                    # RUNS=7 REPEAT=5
#   RUNS=11 REPEAT=10 bash bench/evtx.sh
#   EVTX_DUMP=path/to/evtx_dump bash bench/evtx.sh
#   BASELINE=path/to/older/logward bash bench/evtx.sh   # and an older build's rows, same run
#
# evtx_dump is built once with `cargo install evtx --version 0.15.1 --locked` into
# target/evtx-dump (the registry's crate, not a workspace dependency) when it is not there.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
corpus=${CORPUS:-$root/../shared/corpus/windows-evtx}
RUNS=${RUNS:-7}
REPEAT=${REPEAT:-5}
[ -d "$corpus" ] || { echo "bench: $corpus not found (set CORPUS=)" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

dump=${EVTX_DUMP:-${CARGO_TARGET_DIR:-$root/target}/evtx-dump/bin/evtx_dump}
if [ ! -x "$dump" ]; then
  echo "bench: building evtx_dump (cargo install evtx 0.15.1) into $(dirname "$(dirname "$dump")")" >&2
  cargo install evtx --version 0.15.1 --locked --root "$(dirname "$(dirname "$dump")")" -q
fi

if [ -n "${BASELINE:-}" ] && [ ! -x "$BASELINE" ]; then
  echo "bench: BASELINE=$BASELINE is not an executable" >&2
  exit 2
fi

LW="$lw" BASELINE="${BASELINE:-}" DUMP="$dump" CORPUS="$corpus" RUNS="$RUNS" REPEAT="$REPEAT" PIN="${pin[*]}" python3 - <<'PY'
import os, resource, statistics, subprocess, sys, time
from pathlib import Path

lw, dump, runs, repeat = os.environ["LW"], os.environ["DUMP"], int(os.environ["RUNS"]), int(os.environ["REPEAT"])
baseline = os.environ["BASELINE"]
pin = os.environ["PIN"].split()
files = sorted(str(p) for p in Path(os.environ["CORPUS"]).rglob("*.evtx"))
null = subprocess.DEVNULL

def count(cmd):
    out = subprocess.run(pin + cmd, stdout=subprocess.PIPE, stderr=null, check=True).stdout
    return out.count(b"\n")

# The records each tool writes: one line per record, every file whole.
records = sum(count([dump, "-t", "1", "-o", "jsonl", f]) for f in files)
ours = count([lw, "scan", "--format", "ndjson", *files])
if ours != records:
    sys.exit(f"bench: logward wrote {ours} events, evtx_dump {records} records")

tools = {
    "evtx_dump -t 1 -o jsonl, a process per file": lambda: [[dump, "-t", "1", "-o", "jsonl", f] for f in files],
    "logward scan --format ndjson, a process per file": lambda: [[lw, "scan", "--format", "ndjson", f] for f in files],
    "logward scan --format ndjson, all files at once": lambda: [[lw, "scan", "--format", "ndjson", *files]],
}
if baseline:
    if count([baseline, "scan", "--format", "ndjson", *files]) != records:
        sys.exit("bench: the baseline logward wrote a different number of events")
    tools["baseline logward, a process per file"] = lambda: [[baseline, "scan", "--format", "ndjson", f] for f in files]
    tools["baseline logward, all files at once"] = lambda: [[baseline, "scan", "--format", "ndjson", *files]]
def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

# Wall time, and the CPU time the tools' processes used (what a loaded machine's waiting
# does not add to).
times = {name: [] for name in tools}
cpus = {name: [] for name in tools}
for _ in range(runs):
    for name, cmds in tools.items():
        t0, c0 = time.perf_counter(), cpu()
        for _ in range(repeat):
            for cmd in cmds():
                subprocess.run(pin + cmd, stdout=null, stderr=null, check=True)
        times[name].append(time.perf_counter() - t0)
        cpus[name].append(cpu() - c0)

print(f"{len(files)} files, {records} records, read {repeat} times a run; {runs} runs, one core ({' '.join(pin) or 'unpinned'})")
print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
print(f"{'tool':<50} {'wall s':>8} {'CPU s':>8} {'records/CPU s':>14}  ratio (CPU time)")
dump_name = "evtx_dump -t 1 -o jsonl, a process per file"
base = statistics.median(cpus[dump_name])
for name in tools:
    wall, c = statistics.median(times[name]), statistics.median(cpus[name])
    ratio = "" if name == dump_name else f"{base / c:.2f}x evtx_dump's speed"
    print(f"{name:<50} {wall:>8.3f} {c:>8.3f} {records * repeat / c:>14,.0f}  {ratio}")
PY
