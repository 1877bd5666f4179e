#!/usr/bin/env bash
# The issue-3 agent benchmark, each figure beside its baseline in the same run:
#
#   latency    append -> console alert of a release `logward run` following a file
#              (bench/agent_latency.py), p50/p99 over the ssh-bruteforce alerts of LINES
#              appended sshd failures; reference: the seed scripts' 1 s polling.
#   replay     `logward scan --rules default --format summary` vs `logward scan --format
#              summary` (decode only) on the peers' 5 M-line file (seed 42, as bench/scan.sh).
#   idle RSS   `logward run` (default rules, fresh state dir, one quiet file source) after
#              2 s, VmRSS from /proc; beside `tail -F` on the same file.
#
#   bash bench/agent.sh
#   LINES=5000 SIZE=1000000 RUNS=1 bash bench/agent.sh      # a quick run
#
# Work files go to $WORK (default: a temp dir), never the repository. The 5 M-line file is
# shared with bench/scan.sh ($WORK/auth-<n>.log).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
LINES=${LINES:-50000}
INTERVAL_MS=${INTERVAL_MS:-0.5}
SIZE=${SIZE:-5000000}
RUNS=${RUNS:-3}
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
CPU=${CPU:-0}
mkdir -p "$WORK"

[ -f "$shared/gen_authlog.py" ] || { echo "bench: $shared/gen_authlog.py not found (set SHARED=)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required (package time)" >&2; exit 2; }

(cd "$root" && cargo build --release --locked -q -p logward)
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
lw="$target/release/logward"
pin=(taskset -c "$CPU")
command -v taskset >/dev/null || pin=()

echo "# logward agent benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$lw" --version))"

# ---- latency ---------------------------------------------------------------------------
run_dir=$(mktemp -d "$WORK/agent-latency.XXXXXX")
lat=$(python3 "$here/agent_latency.py" "$lw" "$run_dir" --lines "$LINES" --interval-ms "$INTERVAL_MS")
LAT="$lat" python3 - <<'PY'
import json, os
m = json.loads(os.environ["LAT"])
print(f"\nlatency: {m['lines']:,} sshd failures appended {m['interval_ms']} ms apart, "
      f"{m['alerts']:,}/{m['expected_alerts']:,} ssh-bruteforce alerts matched to their line")
print(f"  {'':34} {'p50 ms':>10} {'p99 ms':>10} {'max ms':>10}")
print(f"  {'logward run (file source, text)':34} {m['p50_ms']:>10.2f} {m['p99_ms']:>10.2f} {m['max_ms']:>10.2f}")
print(f"  {'reference: 1 s polling (computed)':34} {500:>10.2f} {990:>10.2f} {1000:>10.2f}")
ok = m["p99_ms"] <= 10 and m["alerts"] == m["expected_alerts"]
print(f"  target p99 <= 10 ms: {'met' if ok else 'NOT met'}"
      f"{'' if m['alerts'] == m['expected_alerts'] else ' (alerts missing)'}")
PY
rm -rf "$run_dir"

# ---- replay throughput -----------------------------------------------------------------
log="$WORK/auth-$SIZE.log"; truth="$WORK/truth-$SIZE.json"
if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
  python3 "$shared/gen_authlog.py" --lines "$SIZE" --seed 42 --year 2026 --truth "$truth" > "$log"
fi
cat "$log" > /dev/null
m_dec=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --format summary --year 2026 "$log")
m_rul=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --rules default --format summary --year 2026 "$log")
N="$SIZE" RUNS="$RUNS" M_DEC="$m_dec" M_RUL="$m_rul" python3 - <<'PY'
import json, os
n = int(os.environ["N"])
dec, rul = json.loads(os.environ["M_DEC"]), json.loads(os.environ["M_RUL"])
print(f"\nreplay: {n:,} lines (gen_authlog.py seed 42), median of {os.environ['RUNS']}, one core")
print(f"  {'':44} {'median s':>9} {'lines/s':>12} {'RSS MiB':>8}")
for name, m in (("scan --format summary (decode only)", dec),
                ("scan --rules default --format summary", rul)):
    print(f"  {name:44} {m['median_s']:>9.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>8.1f}")
print(f"  rules / decode-only time: {rul['median_s'] / dec['median_s']:.2f}x; "
      f"target >= 1.5 M lines/s with rules: {'met' if n / rul['median_s'] >= 1.5e6 else 'NOT met'}")
PY

# ---- idle RSS --------------------------------------------------------------------------
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
idle=$(mktemp -d "$WORK/agent-idle.XXXXXX")
: > "$idle/quiet.log"
printf 'sources:\n  - {type: file, path: %s}\n' "$idle/quiet.log" > "$idle/agent.yaml"
agent_kib=(); tail_kib=()
for i in $(seq "$RUNS"); do
  rm -rf "$idle/state"
  LOGWARD_LOG=warn "$lw" run --config "$idle/agent.yaml" --state-dir "$idle/state" >/dev/null 2>"$idle/stderr" &
  pid=$!
  sleep 2
  agent_kib+=("$(rss_of "$pid")")
  kill -TERM "$pid"; wait "$pid" || { echo "bench: logward run exited $? (see $idle/stderr)" >&2; exit 1; }
  tail -F "$idle/quiet.log" >/dev/null 2>&1 &
  pid=$!
  sleep 2
  tail_kib+=("$(rss_of "$pid")")
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
A="${agent_kib[*]}" T="${tail_kib[*]}" python3 - <<'PY'
import os, statistics
a = [int(x) for x in os.environ["A"].split()]
t = [int(x) for x in os.environ["T"].split()]
print(f"\nidle RSS after 2 s (VmRSS, median of {len(a)}; all runs KiB: logward {a}, tail {t})")
print(f"  {'logward run (default rules, 1 quiet file)':44} {statistics.median(a) / 1024:>7.1f} MiB")
print(f"  {'tail -F on the same file':44} {statistics.median(t) / 1024:>7.1f} MiB")
print(f"  target <= 15 MB: {'met' if statistics.median(a) * 1024 <= 15e6 else 'NOT met'}")
PY
rm -rf "$idle"
