#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need, then format, lints,
# tests and the fuzz targets' build, printing how long each stage took.
#
#   bash scripts/test.sh
#
# Run from a checkout with ../shared beside it (the conformance corpus); with CI=true a
# missing corpus fails instead of skipping.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export TZ=UTC CARGO_TERM_COLOR=never

stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "::: $name"
  "$@"
  echo "::: $name took $((SECONDS - t0)) s"
}

# Debian packages the tests use: setpriv (util-linux) drops privileges for the
# unreadable-file tests; gzip and coreutils make rotations; nftables, iproute2 and
# iputils-ping run the ban tests inside network namespaces (ip netns, veth, ping);
# python3-aiosmtpd is the notifier tests' SMTP server and openssl makes its certificate.
# dnsmasq-base is the DNS server the DNSBL tests query on loopback; chromium and
# chromium-driver run the dashboard test (headless, through chromedriver). prometheus
# provides promtool, which lints the agent's and the collector's /metrics. python3-jsonschema
# and python3-yaml validate the example configs against `logward schema`'s output; groff-base
# renders the man pages and man-db finds the installed ones (scripts/deb_test.sh).
# openssh-server and openssh-client are the real sshd and ssh of crates/parse/tests/real_sshd.rs;
# dovecot-imapd the real Dovecot of crates/cli/tests/mail_servers.rs; vsftpd the real vsftpd of
# crates/cli/tests/ftp_vsftpd.rs; with nginx and curl, they are the real services and client of
# crates/cli/tests/services_netns.rs. python3-pip installs pylogbeat (PyPI; pure Python, no
# dependencies, not packaged by Debian), the independent Beats client of
# crates/beats/tests/pylogbeat.rs. postgresql is the server of the collector's PostgreSQL store
# tests (started below, on loopback, as an unprivileged user).
install_packages() {
  local need=(util-linux gzip coreutils nftables iproute2 iputils-ping systemd systemd-journal-remote
    python3-aiosmtpd openssl dnsmasq-base chromium chromium-driver python3-jsonschema python3-yaml prometheus
    groff-base man-db openssh-server openssh-client dovecot-imapd vsftpd nginx curl python3-pip tshark
    bind9-dnsutils tcpdump unbound bind9 postgresql nats-server)
  local missing=()
  for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "missing Debian packages: ${missing[*]} (run as root to install them)" >&2
      return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
  if ! python3 -c 'import pylogbeat' 2>/dev/null; then
    if [ "$(id -u)" != 0 ]; then
      echo "missing Python package: pylogbeat (run as root to install it, or pip install pylogbeat)" >&2
      return 1
    fi
    # The variable, not --break-system-packages: a pip older than 23 rejects the flag.
    PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet 'pylogbeat==2.1.0'
  fi
}

stage packages install_packages

# A throwaway PostgreSQL cluster for the store tests: a temp data directory, loopback TCP on a
# free port, trust authentication (nothing else can reach it), stopped when this script ends.
# Tests create their own databases in it (logward_test_support::postgres); the URL reaches
# them in LOGWARD_TEST_PG_URL. Under root the server runs as `nobody` (initdb refuses root).
# DIR/ca.pem, and DIR/server.pem + server.key (0600) for 127.0.0.1 signed by it.
pg_test_tls() {
  local d=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=logward-test-ca \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null &&
  chmod 600 "$d/server.key"
}

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$bin/initdb" ] || { echo "PostgreSQL's initdb not found under /usr/lib/postgresql" >&2; return 1; }
  PG_DIR=$(mktemp -d /tmp/logward-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown nobody "$PG_DIR"
    as=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
  fi
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres -A trust --no-sync -E UTF8 >"$PG_DIR/initdb.log"
  # TLS too, with a throwaway CA: the store's `sslmode=require` test verifies the server
  # against it (LOGWARD_TEST_PG_CA); plain connections stay plain.
  pg_test_tls "$PG_DIR" || return 1
  [ "$(id -u)" = 0 ] && chown nobody "$PG_DIR/server.key" "$PG_DIR/server.pem"
  local port
  for port in $(seq 55432 55500); do
    if "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 start \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c fsync=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$PG_DIR/server.pem -c ssl_key_file=$PG_DIR/server.key" >/dev/null; then
      PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m immediate stop)
      trap '"${PG_STOP[@]}" >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
      export LOGWARD_TEST_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
      export LOGWARD_TEST_PG_CA="$PG_DIR/ca.pem"
      echo "PostgreSQL on 127.0.0.1:$port"
      return 0
    fi
  done
  cat "$PG_DIR/server.log" >&2
  return 1
}
stage postgres start_postgres
stage fmt cargo fmt --all -- --check
stage clippy cargo clippy --workspace --all-targets --locked -- -D warnings
stage test cargo test --workspace --locked --no-fail-fast
stage deb bash scripts/deb_test.sh
# The agent-only build (docs/PACKAGE.md): it lints clean, has no `collector` command, and its
# agent works (run_cli.rs: sources, rules, bans, the metrics endpoint). After `deb`, which
# packages the default build's target/debug/logward (this stage relinks it without the
# collector); only the crates whose dependencies' features differ are rebuilt.
agent_only() {
  cargo clippy -p logward --no-default-features --features agent --locked -- -D warnings
  cargo test -p logward --no-default-features --features agent --locked \
    --test build_features --test run_cli
}
stage agent-only agent_only
stage fuzz-check bash -c 'cd fuzz && cargo check --locked --bins'
echo "::: all stages passed"
