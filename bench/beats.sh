#!/usr/bin/env bash
# The Beats input's throughput, protocol only (issue 16): CLIENTS concurrent loopback
# connections sending Winlogbeat-like windows as Beats do (one zlib frame per window, level
# 3), a consumer completing every batch; events/s through the server beside the frame
# reader alone on one thread (crates/beats/examples/beats_bench.rs), RUNS times, then the
# medians; then the same windows into a real collector and its store (below).
#   [RUNS=3] bash bench/beats.sh [SECONDS] [CLIENTS] [WINDOW]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --locked -q -p logward-beats --example beats_bench)
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/beats_bench"
out=()
for _ in $(seq "$RUNS"); do
  line=$("$bin" "${1:-10}" "${2:-4}" "${3:-2048}")
  echo "$line"
  out+=("$line")
done
summary=$(cat <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin]
med = lambda k: statistics.median(r[k] for r in runs)
print(f"median of {len(runs)}: {med('events_per_s'):,.0f} events/s through the server, "
      f"{med('reader_alone_events_per_s'):,.0f} events/s frame reader alone, "
      f"peak RSS {med('peak_rss_mib'):.1f} MiB")
PY
)
printf '%s\n' "${out[@]}" | python3 -c "$summary"

# Into the collector (crates/collector/examples/beats_load.rs): the real collector with
# `beats:` and its SQLite store, CLIENTS clients each sending WINDOWS windows of WINDOW
# distinct Winlogbeat 4625 documents, each ACKed after its commit; the events stored per
# second (checked against the store). Target: >= 50 k events/s from 4 clients.
#   COLLECTOR_WINDOWS=25 (windows per client)
[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --locked -q -p logward-collector --example beats_load)
load="${CARGO_TARGET_DIR:-$root/target}/release/examples/beats_load"
out=()
for _ in $(seq "$RUNS"); do
  line=$("$load" "${2:-4}" "${COLLECTOR_WINDOWS:-25}" "${3:-2048}")
  echo "$line"
  out+=("$line")
done
summary=$(cat <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin]
med = lambda k: statistics.median(r[k] for r in runs)
print(f"median of {len(runs)}: {med('stored_events_per_s'):,.0f} events/s stored by the "
      f"collector (target >= 50,000), peak RSS {med('peak_rss_mib'):.1f} MiB")
PY
)
printf '%s\n' "${out[@]}" | python3 -c "$summary"
