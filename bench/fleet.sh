#!/usr/bin/env bash
# Fleet simulation (issue 18, Speed): AGENTS simulated agents (crates/collector/examples/
# fleet_load.rs, each enrolled for real with its own secret) send signed sshd batches for
# SECONDS per configuration, every part a real process on loopback:
#   sqlite-http   the default: one `logward collector`, SQLite, agents POST /v1/events
#   pg-nats-1..3  1, 2, 3 collectors on one PostgreSQL database, agents publish to one
#                 nats-server -js stream the collectors share (one durable consumer)
# Each configuration RUNS times, then a table of the medians: events/s stored, append →
# stored p50/p99 (per batch, by polling the store), fleet-alert latency (3rd host's batch
# sent → ban visible at GET /v1/decisions) and CPU per process (% of one core).
#   [RUNS=1] [CONFIGS="sqlite-http pg-nats-1 pg-nats-2 pg-nats-3"] \
#   LOGWARD_BENCH_PG_URL=postgresql://postgres@127.0.0.1:5432/postgres \
#   bash bench/fleet.sh [SECONDS] [AGENTS] [BATCH]
# The PostgreSQL URL (trust or PGPASSWORD auth; LOGWARD_TEST_PG_URL is used when unset) is
# where a database of the bench's own is created with psql, and dropped at the end.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_RUN=${1:-20}
AGENTS=${2:-200}
BATCH=${3:-250}
RUNS=${RUNS:-1}
CONFIGS=${CONFIGS:-sqlite-http pg-nats-1 pg-nats-2 pg-nats-3}
PG_URL=${LOGWARD_BENCH_PG_URL:-${LOGWARD_TEST_PG_URL:-}}
[ -n "$PG_URL" ] || case "$CONFIGS" in *pg-*) echo "set LOGWARD_BENCH_PG_URL" >&2; exit 2 ;; esac
if [ -z "${NO_BUILD:-}" ]; then
  (cd "$root" && cargo build --release --locked -q -p logward --bin logward \
    && cargo build --release --locked -q -p logward-collector --example fleet_load)
fi
tdir="${CARGO_TARGET_DIR:-$root/target}/release"
BIN="$tdir/logward"
LOAD="$tdir/examples/fleet_load"
work=$(mktemp -d)
pids=()
db=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -n "$db" ]; then psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

# A collector config: $1 dir, $2 HTTP port, $3 extra YAML. Every agent comes from
# 127.0.0.1 here, so the per-address limits are lifted (a real fleet has many addresses).
collector_config() {
  mkdir -p "$1"
  cat >"$1/collector.yaml" <<EOF
listen: 127.0.0.1:$2
state_dir: $1/state
limits: {requests_per_second: 100000, unverified_per_address: 100000, unverified_bodies: 100000, enroll_per_minute: 100000, enroll_total_per_minute: 100000}
$3
EOF
}

run_one() { # $1 configuration, $2 run number; prints fleet_load's JSON line
  local conf=$1 n c port nport args=()
  case "$conf" in
    sqlite-http)
      port=$(free_port)
      collector_config "$work/$conf-$2/c1" "$port" ""
      "$BIN" collector --config "$work/$conf-$2/c1/collector.yaml" 2>"$work/$conf-$2/c1/err" &
      pids+=($!)
      args=(--pid "collector=$!")
      wait_port "$port"
      "$LOAD" --config "$work/$conf-$2/c1/collector.yaml" --collector "http://127.0.0.1:$port" \
        --seconds "$SECONDS_RUN" --agents "$AGENTS" --batch "$BATCH" "${args[@]}"
      ;;
    pg-nats-*)
      n=${conf#pg-nats-}
      db="logward_fleet_$$_$2_$n"
      psql -q "$PG_URL" -c "CREATE DATABASE $db"
      local url="${PG_URL%/*}/$db"
      nport=$(free_port)
      mkdir -p "$work/$conf-$2"
      nats-server -js -sd "$work/$conf-$2/nats" -a 127.0.0.1 -p "$nport" 2>"$work/$conf-$2/nats.err" &
      pids+=($!)
      args=(--pid "nats-server=$!" --pg-db "$db")
      wait_port "$nport"
      local first=""
      for c in $(seq "$n"); do
        port=$(free_port)
        collector_config "$work/$conf-$2/c$c" "$port" \
          "store: {type: postgres, url: \"$url\"}
nats: {url: \"nats://127.0.0.1:$nport\"}"
        "$BIN" collector --config "$work/$conf-$2/c$c/collector.yaml" 2>"$work/$conf-$2/c$c/err" &
        pids+=($!)
        args+=(--pid "collector$c=$!")
        wait_port "$port"
        [ -n "$first" ] || first=$port
      done
      "$LOAD" --config "$work/$conf-$2/c1/collector.yaml" --collector "http://127.0.0.1:$first" \
        --nats "nats://127.0.0.1:$nport" --seconds "$SECONDS_RUN" --agents "$AGENTS" \
        --batch "$BATCH" "${args[@]}"
      ;;
  esac
  stop_all
  if [ -n "$db" ]; then psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"; db=""; fi
}

out="$work/results"
for conf in $CONFIGS; do
  for r in $(seq "$RUNS"); do
    line=$(run_one "$conf" "$r" | tail -1)
    echo "$conf run $r: $line" >&2
    printf '%s\t%s\n' "$conf" "$line" >>"$out"
  done
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = {}
for l in open(sys.argv[1]):
    conf, j = l.rstrip("\n").split("\t", 1)
    rows.setdefault(conf, []).append(json.loads(j))
med = lambda xs: statistics.median(xs) if xs else float("nan")
print(f"{'configuration':<13} {'runs':>4} {'stored ev/s':>11} {'e2e ev/s':>9} {'drain s':>7} "
      f"{'lost':>4} {'p50 ms':>7} {'p99 ms':>8} {'alert ms':>8}  CPU % of one core")
for conf, rs in rows.items():
    al = [x for r in rs for x in r["fleet_alert_ms"] if x is not None]
    missed = sum(x is None for r in rs for x in r["fleet_alert_ms"])
    cpu = {}
    for r in rs:
        for k, v in r["cpu_pct_of_one_core"].items():
            cpu.setdefault(k, []).append(v)
    cpu_s = ", ".join(f"{k} {med(v):.0f}" for k, v in cpu.items())
    alert = f"{med(al):.0f}" + (f" ({missed} missed)" if missed else "")
    print(f"{conf:<13} {len(rs):>4} {med([r['stored_per_s'] for r in rs]):>11,.0f} "
          f"{med([r['end_to_end_per_s'] for r in rs]):>9,.0f} {med([r['drain_s'] for r in rs]):>7.1f} "
          f"{max(r['lost'] for r in rs):>4} {med([r['stored_latency_ms']['p50'] for r in rs]):>7.0f} "
          f"{med([r['stored_latency_ms']['p99'] for r in rs]):>8.0f} {alert:>8}  {cpu_s}")
PY
