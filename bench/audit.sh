#!/usr/bin/env bash
# The issue-15 audit.log benchmark: `logward scan --format summary` on a generated 1 M-line
# audit.log (bench/gen_auditlog.py, seed 42: execs with EOE, SSH logins failed and not, cron
# sessions, account changes; half enriched), on one core, beside `wc -l` and ripgrep counting
# the record types logward makes events of, in the same run. Prints median seconds, lines/s,
# peak RSS and the ratios, and checks logward's counts against the generator's truth.
#
#   bash bench/audit.sh                 # 1 M lines, 3 runs
#   SIZES="1000000 5000000" RUNS=5 bash bench/audit.sh
#
# Work files go to $WORK (default: a temp dir), never the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
SIZES=${SIZES:-1000000}
RUNS=${RUNS:-3}
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
# The records logward makes an event of.
pattern='^type=(EXECVE|USER_AUTH|USER_LOGIN|USER_START|USER_END|USER_ACCT|ADD_USER|DEL_USER|USER_CHAUTHTOK|USER_MGMT) '

printf '%-9s %-34s %12s %12s %10s %s\n' lines tool "median s" "lines/s" "RSS MiB" "ratio"
status=0
for n in $SIZES; do
  log="$WORK/audit-$n.log"; truth="$WORK/audit-truth-$n.json"
  if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
    python3 "$here/gen_auditlog.py" --lines "$n" --seed 42 --truth "$truth" > "$log"
  fi
  cat "$log" > /dev/null  # warm the page cache: every tool reads from memory alike
  m_wc=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" wc -l "$log")
  m_rg=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" rg --no-mmap -c -e "$pattern" "$log")
  m_lw=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --format summary "$log")
  N="$n" TRUTH="$truth" M_WC="$m_wc" M_RG="$m_rg" M_LW="$m_lw" python3 - <<'PY' || status=1
import json, os, re, sys
wc, rg, lw = (json.loads(os.environ[k]) for k in ("M_WC", "M_RG", "M_LW"))
truth = json.load(open(os.environ["TRUTH"]))
n = truth["lines"]
def row(tool, m, ratio=""):
    print(f"{n:<9} {tool:<34} {m['median_s']:>12.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>10.1f} {ratio}")
row("wc -l", wc)
row("rg -c -e '^type=(EXECVE|USER_…) '", rg)
row("logward scan --format summary", lw,
    f"{wc['median_s'] / lw['median_s']:.3f}x wc, {rg['median_s'] / lw['median_s']:.2f}x rg")
counts = {}
for line in lw["stdout"].splitlines():
    m = re.match(r"\s+(\S+)\s+(\S+)\s+auditd\s+(\S+)\s+(\d+)$", line)
    if m:
        counts[(m.group(1), m.group(2), m.group(3))] = int(m.group(4))
checks = [
    ("execs", counts.get(("process-started", "success", "-"), 0), truth["execs"]),
    ("SSH authentication failures", counts.get(("user-login", "failure", "pam-failure"), 0), truth["auth_failures"]),
    ("users created", counts.get(("user-created", "success", "-"), 0), truth["users_created"]),
]
ok = True
for what, got, want in checks:
    good = got == want
    ok &= good
    print(f"{n:<9} accuracy: {what} {got:,} vs truth {want:,} -> {'OK' if good else 'MISMATCH'}")
print(f"{n:<9} target: >= 1 M lines/s on one core {'met' if n / lw['median_s'] >= 1e6 else 'NOT met'}")
sys.exit(0 if ok else 1)
PY
done
exit $status
