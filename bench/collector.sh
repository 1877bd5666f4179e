#!/bin/sh
# The collector's ingest rate on loopback: 20 signed agents sending gzipped NDJSON batches
# for a bounded time (events/s, p50/p99 request latency), then the raw SQLite batched-insert
# rate of the same events. Usage: bench/collector.sh [SECONDS] [AGENTS] [BATCH]
set -eu
cd "$(dirname "$0")/.."
exec cargo run --quiet --release --locked -p logward-collector --example load -- \
    "${1:-10}" "${2:-20}" "${3:-500}"
