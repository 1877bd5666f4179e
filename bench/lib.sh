# Sourced by the benchmarks after they set `root`: the work folder ($WORK, never the
# repository), the release binary ($lw; NO_BUILD=1 keeps the one built; `bench_build=(-p
# CRATE --example NAME)` set before sourcing is built in the same cargo run, one feature set),
# the one core every tool is pinned to ($CPU, through ${pin[@]}), and for the side-by-side
# benchmarks (scan.sh, access.sh, audit.sh) ripgrep (the baseline) and GNU time (peak RSS),
# installed when run as root — a benchmark that compares with neither sets bench_no_baseline=1
# first. For benchmarks that start servers: bench_port, bench_wait_port, bench_spawn and
# bench_stop (below).
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}
CPU=${CPU:-0}
mkdir -p "$WORK"

if [ -z "${bench_no_baseline:-}" ]; then
  if ! command -v rg >/dev/null || [ ! -x /usr/bin/time ]; then
    echo "bench: installing ripgrep (the baseline) and GNU time (peak RSS)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq ripgrep time >/dev/null; fi
  fi
  command -v rg >/dev/null || { echo "bench: ripgrep (rg) is required" >&2; exit 2; }
  [ -x /usr/bin/time ] || { echo "bench: GNU time (/usr/bin/time) is required" >&2; exit 2; }
fi

if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release --locked -q -p logward --bin logward ${bench_build[@]+"${bench_build[@]}"})
fi
lw="${CARGO_TARGET_DIR:-$root/target}/release/logward"
pin=(taskset -c "$CPU")
command -v taskset >/dev/null || pin=()

# A free TCP port on 127.0.0.1 (the kernel's choice; free when asked, so start soon after).
bench_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (≤ 30 s) until something listens on 127.0.0.1:$1.
bench_wait_port() {
  local _
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "bench: nothing listens on 127.0.0.1:$1" >&2
  return 1
}
# `bench_spawn CMD ARGS… [redirections]`: runs a server in the background ($! is its pid)
# and remembers it for bench_stop, which stops every one started (call it from the script's
# EXIT trap too).
bench_pids=()
bench_spawn() { "$@" & bench_pids+=($!); }
bench_stop() {
  local p
  for p in ${bench_pids[@]+"${bench_pids[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${bench_pids[@]+"${bench_pids[@]}"}; do wait "$p" 2>/dev/null || true; done
  bench_pids=()
}
