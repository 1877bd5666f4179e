#!/bin/sh
# The collector under attack (issue 13): HOSTILE connections (default 2,000) from 40
# loopback addresses — idle sockets, TLS handshakes that never finish, slowloris heads,
# unauthenticated bodies a byte a second — and 16 login flooders, while one enrolled agent
# posts a signed batch every 200 ms. Prints the agent's latency p50/p99, lost requests and
# the collector's peak RSS (targets: p99 <= 1 s, none lost, RSS <= 300 MB).
# Usage: bench/collector_hostile.sh [SECONDS] [HOSTILE]
set -eu
cd "$(dirname "$0")/.."
# Every hostile connection is a descriptor in the collector and one here.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
echo "open files limit: $(ulimit -n)"
cargo build --quiet --release --locked -p logward-collector --example hostile
target/release/examples/hostile "${1:-20}" "${2:-2000}"
