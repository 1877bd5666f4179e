#!/usr/bin/env bash
# The issue-2 benchmark: `logward scan --format summary` on one core, side by side in the
# same run with `wc -l` and ripgrep's 8-regex sshd alternation, on the peers' input
# (../shared/bench/gen_authlog.py, seed 42). Prints lines/s, both ratios, peak RSS, and
# checks that logward's failed-authentication count equals the generator's ground truth.
#
#   bash bench/scan.sh                 # 1 M and 5 M lines, 3 runs each
#   SIZES=1000000 RUNS=5 bash bench/scan.sh
#   BASELINE=path/to/old/logward bash bench/scan.sh   # adds that binary's row and the ratio
#
# Work files go to $WORK (default: a temp dir), never the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
SIZES=${SIZES:-"1000000 5000000"}
RUNS=${RUNS:-3}
[ -f "$shared/gen_authlog.py" ] || { echo "bench: $shared/gen_authlog.py not found (set SHARED=)" >&2; exit 2; }
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

printf '%-9s %-34s %12s %12s %10s %s\n' lines tool "median s" "lines/s" "RSS MiB" "ratio"
status=0
for n in $SIZES; do
  log="$WORK/auth-$n.log"; truth="$WORK/truth-$n.json"
  if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
    python3 "$shared/gen_authlog.py" --lines "$n" --seed 42 --year 2026 --truth "$truth" > "$log"
  fi
  # Warm the page cache so every tool reads from memory alike.
  cat "$log" > /dev/null
  m_wc=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" wc -l "$log")
  m_rg=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" rg --no-mmap -c -f "$shared/sshd_fail_patterns.txt" "$log")
  m_lw=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --format summary --year 2026 "$log")
  m_base=null
  if [ -n "${BASELINE:-}" ]; then
    m_base=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$BASELINE" scan --format summary --year 2026 "$log")
  fi
  N="$n" TRUTH="$truth" M_WC="$m_wc" M_RG="$m_rg" M_LW="$m_lw" M_BASE="$m_base" python3 - <<'PY' || status=1
import json, os, re, sys
n = int(os.environ["N"])
wc, rg, lw = (json.loads(os.environ[k]) for k in ("M_WC", "M_RG", "M_LW"))
def row(tool, m, ratio=""):
    print(f"{n:<9} {tool:<34} {m['median_s']:>12.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>10.1f} {ratio}")
row("wc -l", wc)
row("rg -c -f sshd_fail_patterns.txt", rg)
row("logward scan --format summary", lw,
    f"{wc['median_s'] / lw['median_s']:.3f}x wc, {rg['median_s'] / lw['median_s']:.2f}x rg")
base = json.loads(os.environ["M_BASE"])
if base:
    row("baseline (BASELINE=) same command", base,
        f"this build is {base['median_s'] / lw['median_s']:.3f}x the baseline's speed")
# Accuracy: the failed-authentication lines of the ground truth are sshd's
# "Failed <method> for [invalid user] U", "Invalid user U" and "maximum authentication
# attempts exceeded" lines; logward reports them as sshd user-login failures with these reasons.
counted = {"bad-password", "invalid-user", "max-attempts", "bad-key", "auth-failed"}
got = 0
for line in lw["stdout"].splitlines():
    m = re.match(r"\s+user-login\s+failure\s+sshd\s+(\S+)\s+(\d+)$", line)
    if m and m.group(1) in counted:
        got += int(m.group(2))
truth = json.load(open(os.environ["TRUTH"]))["failed_auth"]["total"]
ok = got == truth
print(f"{n:<9} accuracy: failed authentications {got:,} vs truth {truth:,} -> {'OK' if ok else 'MISMATCH'}")
rss_ok = lw["peak_rss_kib"] <= 30 * 1024
print(f"{n:<9} targets: >= 3 M lines/s {'met' if n / lw['median_s'] >= 3e6 else 'NOT met'}; "
      f"peak RSS <= 30 MB {'met' if rss_ok else 'NOT met'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
