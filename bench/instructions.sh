#!/usr/bin/env bash
# Instructions executed (valgrind's callgrind), this build beside BASELINE, for
# `scan --format summary` (decode only) and `scan --rules default --format summary` on the
# peers' generated auth.log (seed 42). Wall time on a shared, noisy machine swings by ±15 %
# between runs; instruction counts repeat to ~0.1 %, so a change in the work done per line
# shows here even when the timings cannot show it (cache and layout effects they can).
#
#   BASELINE=path/to/old/logward bash bench/instructions.sh
#   LINES=200000 BASELINE=… NO_BUILD=1 bash bench/instructions.sh
#   BASELINE_RULES=old-default.yaml bash bench/instructions.sh
#
# With BASELINE_RULES (a rules file, e.g. `git show REV:crates/engine/rules/default.yaml`),
# this build runs both: its default rules beside that ruleset — what a ruleset change costs,
# the binary and its decoders aside.
#
# Needs valgrind (Debian package valgrind). Work files go to $WORK, never the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
shared=${SHARED:-$root/../shared/bench}
LINES=${LINES:-200000}
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
mkdir -p "$WORK"
[ -n "${BASELINE:-}${BASELINE_RULES:-}" ] || { echo "bench: set BASELINE= to the logward binary (or BASELINE_RULES= to the rules file) to compare with" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "bench: valgrind is required (apt-get install valgrind)" >&2; exit 2; }
[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --locked -q -p logward)
lw="${CARGO_TARGET_DIR:-$root/target}/release/logward"

log="$WORK/auth-ir-$LINES.log"
[ -s "$log" ] || python3 "$shared/gen_authlog.py" --lines "$LINES" --seed 42 --year 2026 > "$log"

count() { # binary, scan arguments… → instructions executed
  local out="$WORK/callgrind.$$"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" > /dev/null 2> "$out.err"
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.err"
  rm -f "$out" "$out.err"
}
if [ -n "${BASELINE_RULES:-}" ]; then
  printf '%-40s %16s %16s %8s\n' "$LINES lines, this build" "default rules" "baseline rules" "ratio"
  new=$(count "$lw" scan --rules default --format summary --year 2026 "$log")
  old=$(count "$lw" scan --rules "$BASELINE_RULES" --format summary --year 2026 "$log")
  printf '%-40s %16s %16s %8s\n' "scan (with rules)" "$new" "$old" \
    "$(python3 -c "print(f'{$new / $old:.4f}')")"
  exit 0
fi
printf '%-40s %16s %16s %8s\n' "$LINES lines" "this build" "baseline" "ratio"
for mode in "decode only:--format summary" "with rules:--rules default --format summary"; do
  name=${mode%%:*}; read -r -a args <<< "${mode#*:}"
  new=$(count "$lw" scan "${args[@]}" --year 2026 "$log")
  old=$(count "$BASELINE" scan "${args[@]}" --year 2026 "$log")
  printf '%-40s %16s %16s %8s\n' "scan ($name)" "$new" "$old" \
    "$(python3 -c "print(f'{$new / $old:.4f}')")"
done
