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
#   flood      peak RSS (VmHWM) of `logward run` once it has processed FLOOD sshd failures
#              from FLOOD distinct addresses (bench/gen_flood.py, bench/agent_flood.py), and
#              its counter tables against `counters.max_keys`; beside the same run with the
#              same number of lines from 1,000 addresses.
#   restore    `logward run` start -> "stored bans re-applied" with BANS active bans in the
#              store (seeded by crates/store/examples/seed_bans.rs), bans enabled, inside a
#              network namespace of its own (bench/agent_restore.py; needs root, ip, nft);
#              beside `nft -f` of the same script in a fresh namespace.
#
#   bash bench/agent.sh
#   LINES=5000 SIZE=1000000 RUNS=1 bash bench/agent.sh      # a quick run
#   SECTIONS="flood restore" bash bench/agent.sh            # only some sections
#   BASELINE=path/to/old/logward SECTIONS=replay bash bench/agent.sh  # replay beside that binary
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
FLOOD=${FLOOD:-1000000}
BANS=${BANS:-100000}
SECTIONS=${SECTIONS:-latency replay idle flood restore}
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
CPU=${CPU:-0}
mkdir -p "$WORK"

[ -f "$shared/gen_authlog.py" ] || { echo "bench: $shared/gen_authlog.py not found (set SHARED=)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required (package time)" >&2; exit 2; }

[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --locked -q -p logward)
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
lw="$target/release/logward"
pin=(taskset -c "$CPU")
command -v taskset >/dev/null || pin=()

echo "# logward agent benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$lw" --version))"

# ---- latency ---------------------------------------------------------------------------
if want latency; then
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
fi

# ---- replay throughput -----------------------------------------------------------------
if want replay; then
log="$WORK/auth-$SIZE.log"; truth="$WORK/truth-$SIZE.json"
if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
  python3 "$shared/gen_authlog.py" --lines "$SIZE" --seed 42 --year 2026 --truth "$truth" > "$log"
fi
cat "$log" > /dev/null
m_dec=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --format summary --year 2026 "$log")
m_rul=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --rules default --format summary --year 2026 "$log")
b_dec=null; b_rul=null
if [ -n "${BASELINE:-}" ]; then
  b_dec=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$BASELINE" scan --format summary --year 2026 "$log")
  b_rul=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$BASELINE" scan --rules default --format summary --year 2026 "$log")
fi
N="$SIZE" RUNS="$RUNS" M_DEC="$m_dec" M_RUL="$m_rul" B_DEC="$b_dec" B_RUL="$b_rul" python3 - <<'PY'
import json, os
n = int(os.environ["N"])
dec, rul = json.loads(os.environ["M_DEC"]), json.loads(os.environ["M_RUL"])
bdec, brul = json.loads(os.environ["B_DEC"]), json.loads(os.environ["B_RUL"])
print(f"\nreplay: {n:,} lines (gen_authlog.py seed 42), median of {os.environ['RUNS']}, one core")
print(f"  {'':44} {'median s':>9} {'lines/s':>12} {'RSS MiB':>8}")
rows = [("scan --format summary (decode only)", dec), ("scan --rules default --format summary", rul)]
if bdec:
    rows += [("baseline: decode only", bdec), ("baseline: --rules default", brul)]
for name, m in rows:
    print(f"  {name:44} {m['median_s']:>9.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>8.1f}")
if bdec:
    print(f"  this build vs baseline (speed ratio): decode only {bdec['median_s'] / dec['median_s']:.3f}x, "
          f"with rules {brul['median_s'] / rul['median_s']:.3f}x")
print(f"  rules / decode-only time: {rul['median_s'] / dec['median_s']:.2f}x; "
      f"target >= 1.5 M lines/s with rules: {'met' if n / rul['median_s'] >= 1.5e6 else 'NOT met'}")
PY
fi

# ---- idle RSS --------------------------------------------------------------------------
if want idle; then
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
fi

# ---- flood: 1 M distinct addresses -----------------------------------------------------
if want flood; then
flood=$(mktemp -d "$WORK/agent-flood.XXXXXX")
python3 "$here/gen_flood.py" --lines "$FLOOD" > "$flood/distinct.log"
python3 "$here/gen_flood.py" --lines "$FLOOD" --distinct 1000 > "$flood/few.log"
m_many=$(python3 "$here/agent_flood.py" "$lw" "$flood" "$flood/distinct.log" --lines "$FLOOD")
m_few=$(python3 "$here/agent_flood.py" "$lw" "$flood" "$flood/few.log" --lines "$FLOOD")
M_MANY="$m_many" M_FEW="$m_few" python3 - <<'PY'
import json, os
many, few = json.loads(os.environ["M_MANY"]), json.loads(os.environ["M_FEW"])
print(f"\nflood: {many['lines']:,} sshd failures through `logward run` (file source, default rules, "
      f"bans off, --format none), peak RSS once all were processed")
print(f"  {'':40} {'s':>7} {'VmHWM MiB':>10} {'keys':>9} {'largest':>8} {'max':>8} {'evicted':>10}")
for name, m in ((f"{many['lines']:,} distinct addresses", many), ("1,000 addresses (baseline)", few)):
    print(f"  {name:40} {m['seconds']:>7.1f} {m['vm_hwm_kib'] / 1024:>10.1f} {m['keys']:>9,} "
          f"{m['largest']:>8,} {m['max_keys']:>8,} {m['evicted']:>10,}")
bounded = many["largest"] <= many["max_keys"]
print(f"  counter tables within max_keys: {'yes' if bounded else 'NO'}; "
      f"target <= 250 MB peak RSS: {'met' if many['vm_hwm_kib'] * 1024 <= 250e6 and bounded else 'NOT met'}")
PY
rm -rf "$flood"
fi

# ---- restore: stored bans re-applied at start-up --------------------------------------
if want restore; then
if [ "$(id -u)" != 0 ] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
  echo -e "\nrestore: skipped (needs root, ip and nft: it runs nft in a network namespace it creates)"
else
(cd "$root" && cargo build --release --locked -q -p logward-store --example seed_bans)
restore=$(mktemp -d "$WORK/agent-restore.XXXXXX")
"$target/release/examples/seed_bans" "$restore/seeded" "$BANS" >/dev/null
m_res=$(python3 "$here/agent_restore.py" "$lw" "$restore" "$restore/seeded" --bans "$BANS" --runs "$RUNS")
M="$m_res" python3 - <<'PY'
import json, os
m = json.loads(os.environ["M"])
print(f"\nrestore: {m['bans']:,} active bans in the store, `logward run` in its own network namespace, "
      f"median of {m['runs']}")
print(f"  {'':52} {'median s':>9}  all runs")
print(f"  {'logward run start -> stored bans re-applied':52} {m['agent_median_s']:>9.3f}  "
      f"{', '.join(f'{x:.3f}' for x in m['agent_s'])}")
print(f"  {'nft -f of the same script (%.1f MB), fresh netns' % (m['script_bytes'] / 1e6):52} "
      f"{m['nft_median_s']:>9.3f}  {', '.join(f'{x:.3f}' for x in m['nft_s'])}")
print(f"  {m['bans']:,} elements in the sets after each run; "
      f"target < 1 s: {'met' if m['agent_median_s'] < 1 else 'NOT met'}")
PY
rm -rf "$restore"
fi
fi
