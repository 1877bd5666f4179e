#!/usr/bin/env bash
# The issue-6 benchmarks, side by side in one run:
#  - `logward learn` over the peers' generated auth.log (../shared/bench/gen_authlog.py, seed
#    42) against `logward scan --format summary` (decode only) on the same file: lines/s and
#    the ratio (target: learn ≥ 1 M lines/s on the 5 M-line file);
#  - anomaly scoring with GeoIP+ASN enrichment from MaxMind's test databases
#    (crates/agent/examples/anomaly_bench.rs; target ≥ 200 k logins/s).
#
#   bash bench/anomaly.sh                  # 5 M lines, 3 runs; 1 M logins, 5 runs
#   SIZES=1000000 RUNS=3 LOGINS=300000 bash bench/anomaly.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$root/../shared}
SIZES=${SIZES:-5000000}
RUNS=${RUNS:-3}
LOGINS=${LOGINS:-1000000}
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
CPU=${CPU:-0}
mkdir -p "$WORK"
[ -f "$shared/bench/gen_authlog.py" ] || { echo "bench: $shared/bench/gen_authlog.py not found (set SHARED=)" >&2; exit 2; }
[ -d "$shared/corpus/geoip" ] || { echo "bench: $shared/corpus/geoip not found" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required (apt-get install time)" >&2; exit 2; }

(cd "$root" && cargo build --release --locked -q -p logward && cargo build --release --locked -q -p logward-agent --example anomaly_bench)
target=${CARGO_TARGET_DIR:-$root/target}/release
pin=(taskset -c "$CPU")
command -v taskset >/dev/null || pin=()

printf '%-9s %-40s %12s %12s %10s %s\n' lines tool "median s" "lines/s" "RSS MiB" "ratio"
for n in $SIZES; do
  log="$WORK/auth-$n.log"; truth="$WORK/truth-$n.json"
  if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
    python3 "$shared/bench/gen_authlog.py" --lines "$n" --seed 42 --year 2026 --truth "$truth" > "$log"
  fi
  cat "$log" > /dev/null
  state="$WORK/learn-state"
  m_scan=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$target/logward" scan --format summary --year 2026 "$log")
  m_learn=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" sh -c 'rm -rf "$1" && exec "$2" learn --year 2026 --geoip "$3" --state-dir "$1" "$4"' _ "$state" "$target/logward" "$shared/corpus/geoip" "$log")
  N="$n" M_SCAN="$m_scan" M_LEARN="$m_learn" python3 - <<'PY'
import json, os
n = int(os.environ["N"])
scan, learn = json.loads(os.environ["M_SCAN"]), json.loads(os.environ["M_LEARN"])
def row(tool, m, ratio=""):
    print(f"{n:<9} {tool:<40} {m['median_s']:>12.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>10.1f} {ratio}")
row("logward scan --format summary", scan)
row("logward learn --geoip (test mmdb)", learn, f"{scan['median_s'] / learn['median_s']:.2f}x scan")
PY
done
"${pin[@]}" "$target/examples/anomaly_bench" "$shared/corpus/geoip" "$LOGINS" 5
