#!/usr/bin/env bash
# Live DNS capture on loopback (issue 17): a release `logward run` with a `dns_capture` source
# on `lo` while crates/agent/examples/dns_blast.rs sends RATE real DNS queries a second (each a
# new name) for SECONDS and answers each one itself (query + reply: 2 × RATE packets/s), all
# inside a network namespace the script creates (its own lo and port 53). Then the kernel's
# drop counter for the capture socket and the events the source sent, from the agent's
# metrics, beside the queries sent. Target: no drops at 50 k queries/s. RUNS runs.
#   [RUNS=3] [ANSWER=answer|none] sudo bash bench/dns_capture.sh [RATE] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATE=${1:-50000}
SECONDS_=${2:-10}
RUNS=${RUNS:-3}
ANSWER=${ANSWER:-answer}
[ "$(id -u)" = 0 ] || { echo "bench: needs root (a network namespace, CAP_NET_RAW)" >&2; exit 2; }
if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release --locked -q -p logward && \
    cargo build --release --locked -q -p logward-agent --example dns_blast)
fi
rel="${CARGO_TARGET_DIR:-$root/target}/release"
lw="$rel/logward"
blast="$rel/examples/dns_blast"
WORK=${WORK:-${TMPDIR:-/tmp}/logward-bench}/dns_capture
mkdir -p "$WORK"
ns="lw-dnsbench-$$"
cleanup() {
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns=(ip netns exec "$ns")

# A quiet agent: the capture source only, no alerts printed. The default rules still run on
# every event (the cost a real deployment pays).
cat >"$WORK/agent.yaml" <<'YAML'
sources:
  - {type: dns_capture, interface: lo}
output: {format: none}
YAML

metric() { # metric NAME STATE_DIR → the dns_capture source's value
  "${in_ns[@]}" "$lw" metrics --state-dir "$2" |
    awk -v n="$1" '$1 ~ "^"n"\\{" && /type="dns_capture"/ {print $2}'
}

for run in $(seq "$RUNS"); do
  state="$WORK/state-$run"
  rm -rf "$state"
  "${in_ns[@]}" "$lw" run --config "$WORK/agent.yaml" --state-dir "$state" 2>"$WORK/run-$run.log" &
  agent=$!
  for _ in $(seq 100); do grep -q "dns_capture: capturing" "$WORK/run-$run.log" && break; sleep 0.1; done
  grep -q "dns_capture: capturing" "$WORK/run-$run.log" || { cat "$WORK/run-$run.log"; exit 1; }
  sent=$("${in_ns[@]}" "$blast" 127.0.0.1:53 "$RATE" "$SECONDS_" "$ANSWER")
  # Answered queries are reported at once, the rest after the decoder's join window (10 s).
  sleep 12
  drops=$(metric logward_source_dropped_total "$state")
  events=$(metric logward_source_lines_total "$state")
  rss=$(awk '/^VmHWM/ {print $2}' "/proc/$agent/status")
  cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$agent/stat")
  kill -TERM "$agent"; wait "$agent" || true
  echo "{\"run\": $run, \"rate\": $RATE, \"blast\": $sent, \"events\": $events, \"kernel_drops\": $drops, \"agent_cpu_s\": $cpu, \"peak_rss_kib\": $rss}"
done
