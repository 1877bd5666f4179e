#!/bin/sh
# The collector store's raw ingest rate, SQLite and PostgreSQL in the same run: groups of 10
# requests of 500 events (the store thread's group) stored with ingest_group for a bounded
# time, RUNS times, each PostgreSQL run on a new scratch database. Needs a PostgreSQL
# superuser URL ending in /DATABASE (scripts/test.sh's LOGWARD_TEST_PG_URL will do).
# Usage: [RUNS=3] bench/store.sh URL [SECONDS]
set -eu
cd "$(dirname "$0")/.."
url=${1:?usage: bench/store.sh POSTGRES_URL [SECONDS]}
runs=${RUNS:-3}
server=${url%/*}
db=logward_bench_store_$$
cargo build --quiet --release --locked -p logward-store --example ingest_rate
trap 'psql -X -q -d "$url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
i=1
while [ "$i" -le "$runs" ]; do
    psql -X -q -d "$url" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    echo "run $i/$runs"
    target/release/examples/ingest_rate "${2:-10}" "$server/$db"
    i=$((i + 1))
done
