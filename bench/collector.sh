#!/bin/sh
# The collector's ingest rate on loopback: 20 signed agents sending gzipped NDJSON batches
# for a bounded time (events/s, p50/p99 request latency), then the raw SQLite batched-insert
# rate of the same events (the ceiling), RUNS times; prints each run and the medians with
# the per-run ratio. Usage: [RUNS=3] bench/collector.sh [SECONDS] [AGENTS] [BATCH]
set -eu
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
cargo build --quiet --release --locked -p logward-collector --example load
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=1
while [ "$i" -le "$runs" ]; do
    echo "run $i/$runs"
    target/release/examples/load "${1:-10}" "${2:-20}" "${3:-500}" | tee -a "$out"
    i=$((i + 1))
done
python3 - "$out" <<'PY'
import re, statistics, sys
text = open(sys.argv[1]).read()
rate = [float(x) for x in re.findall(r"gzip, [\d.]+ s: \d+ events, (\d+) events/s", text)]
p50 = [float(x) for x in re.findall(r"p50 ([\d.]+) ms", text)]
p99 = [float(x) for x in re.findall(r"p99 ([\d.]+) ms", text)]
raw = [float(x) for x in re.findall(r"raw SQLite.* (\d+) events/s", text)]
ratios = [r / c for r, c in zip(rate, raw)]
med = statistics.median
print(f"median of {len(rate)} runs: {med(rate):.0f} events/s through the collector "
      f"(target >= 50000), latency p50 {med(p50):.1f} ms, p99 {med(p99):.1f} ms; "
      f"raw SQLite {med(raw):.0f} events/s; ratio per run "
      + ", ".join(f"{x:.2f}" for x in ratios) + f" (median {med(ratios):.2f})")
PY
