# Sourced by the side-by-side benchmarks (scan.sh, access.sh, audit.sh) after they set `root`:
# the work folder ($WORK, never the repository), ripgrep (the baseline) and GNU time (peak
# RSS), installed when run as root, the release binary ($lw; NO_BUILD=1 keeps the one built),
# and the one core every tool is pinned to ($CPU, through ${pin[@]}).
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
CPU=${CPU:-0}
mkdir -p "$WORK"

if ! command -v rg >/dev/null || [ ! -x /usr/bin/time ]; then
  echo "bench: installing ripgrep (the baseline) and GNU time (peak RSS)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq ripgrep time >/dev/null; fi
fi
command -v rg >/dev/null || { echo "bench: ripgrep (rg) is required" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 2; }

[ -n "${NO_BUILD:-}" ] || (cd "$root" && cargo build --release --locked -q -p logward)
lw="${CARGO_TARGET_DIR:-$root/target}/release/logward"
pin=(taskset -c "$CPU")
command -v taskset >/dev/null || pin=()
