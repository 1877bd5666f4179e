#!/usr/bin/env bash
# The DNS check stage's throughput (issue 17): dns-query events through the trusted filters,
# the (client, domain) dedup, a generated 1 M-domain threat list (bench/gen_dns.py, matched by
# name and every parent) and the heuristics, on one core — the agent's DnsCheck::check as the
# pipeline calls it (crates/agent/examples/dns_check_bench.rs). Two mixes: every query a new
# pair from an untrusted client (the worst case), and the seed's shape (a fifth from trusted
# clients, each name asked four times). Beside them, building the events alone. Events per
# second of the thread's CPU time, median of PASSES passes, RUNS runs (medians of those).
#
#   bash bench/dns_check.sh            # RUNS=3 PASSES=3 DOMAINS=1000000 QUERIES=1000000
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
RUNS=${RUNS:-3}
PASSES=${PASSES:-3}
DOMAINS=${DOMAINS:-1000000}
QUERIES=${QUERIES:-1000000}
NO_BUILD=1
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

data="$WORK/dns-$DOMAINS-$QUERIES"
[ -s "$data/expected.txt" ] || python3 "$here/gen_dns.py" "$data" "$DOMAINS" "$QUERIES"
(cd "$root" && cargo build --release --locked -q -p logward-agent --example dns_check_bench)
ex="${CARGO_TARGET_DIR:-$root/target}/release/examples/dns_check_bench"

out="$WORK/dns_check.out"
: > "$out"
for r in $(seq "$RUNS"); do
  "${pin[@]}" "$ex" "$data/list.txt" "$data/queries.txt" "$PASSES" 2>/dev/null >> "$out"
done
OUT="$out" python3 - <<'PY'
import os, re, statistics
rows = {}
for line in open(os.environ["OUT"]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    rows.setdefault(kv["mix"], []).append(kv)
for mix, rs in rows.items():
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    r0 = rs[0]
    print(f"{mix:<12} {int(r0['events']):>9,} events, {int(r0['checked']):>9,} checked, {int(r0['findings']):>7,} findings; "
          f"stage {med('stage_events_per_cpu_s'):>10,.0f} events/CPU s ({med('ns_per_event'):.0f} ns an event), "
          f"building the events alone {med('build_events_per_cpu_s'):>11,.0f}/CPU s; {len(rs)} runs, medians")
PY
