#!/usr/bin/env bash
# The .deb on this machine, as an admin would meet it: build it from the test profile's
# binary (scripts/deb.sh --profile dev: the release build is too slow for CI on 2 cores),
# install it with apt-get, check what it installed (units verified by systemd-analyze with
# their Documentation= targets, `logward --version`, `logward check` on the installed
# configs (the collector's as its own user), man pages, completions, the collector's user and the state directories), reinstall
# over an admin's edit, remove (configs, state and user stay), purge (all gone).
#
#   bash scripts/deb_test.sh     # as root; refuses to run where a logward package is installed
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" != 0 ]; then
  echo "deb_test: needs root (dpkg)" >&2
  exit 1
fi
if dpkg-query -W -f='${Status}' logward 2>/dev/null | grep -q installed; then
  echo "deb_test: a logward package is installed here already; not touching it" >&2
  exit 1
fi

checks=0
ok() { checks=$((checks + 1)); echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# The binary the test stage built (a no-op after `cargo test --workspace`; building it with
# `cargo build -p logward` instead would recompile every dependency whose features differ).
cargo test --workspace --locked --no-run -q >&2
deb=$(bash scripts/deb.sh --profile dev --no-build)
echo "package: $deb ($(du -h "$deb" | cut -f1))"
purged=no
cleanup() { [ "$purged" = yes ] || dpkg --purge logward >/dev/null 2>&1 || true; }
trap cleanup EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb" >/dev/null
dpkg-query -W -f='${Status}' logward | grep -q 'install ok installed' || fail "not installed"
ok "apt-get install ./$(basename "$deb")"

# The binary.
[ "$(command -v logward)" = /usr/bin/logward ] || fail "logward is not /usr/bin/logward"
version=$(logward --version)
[ "$version" = "logward $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)" ] ||
  fail "logward --version printed '$version'"
ok "$version"

# Configs: conffiles, their modes, and both pass `logward check`.
conffiles=$(dpkg-query -W -f='${Conffiles}' logward)
for f in /etc/logward/agent.yaml /etc/logward/collector.yaml; do
  grep -q " $f " <<<"$conffiles " || fail "$f is not a conffile"
done
[ "$(stat -c '%a %U %G' /etc/logward/agent.yaml)" = "600 root root" ] || fail "agent.yaml mode"
[ "$(stat -c '%a %U %G' /etc/logward/collector.yaml)" = "640 root logward-collector" ] ||
  fail "collector.yaml mode: $(stat -c '%a %U %G' /etc/logward/collector.yaml)"
ok "conffiles /etc/logward/{agent,collector}.yaml, 0600 root / 0640 root:logward-collector"
logward check --config /etc/logward/agent.yaml || fail "logward check agent.yaml"
ok "logward check --config /etc/logward/agent.yaml"
# The collector's config, checked as the user its service runs as (who must be able to read it).
setpriv --reuid logward-collector --regid logward-collector --init-groups \
  logward check --config /etc/logward/collector.yaml || fail "logward check collector.yaml"
ok "logward check --config /etc/logward/collector.yaml as logward-collector"

# The collector's user and the state directories.
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd logward-collector) || fail "no logward-collector user"
[ "$uid" -lt 1000 ] && [ "$home" = /var/lib/logward-collector ] && [ "$shell" = /usr/sbin/nologin ] ||
  fail "logward-collector: uid $uid, home $home, shell $shell"
[ "$(stat -c '%a %U' /var/lib/logward)" = "700 root" ] || fail "/var/lib/logward"
[ "$(stat -c '%a %U %G' /var/lib/logward-collector)" = "700 logward-collector logward-collector" ] ||
  fail "/var/lib/logward-collector: $(stat -c '%a %U %G' /var/lib/logward-collector)"
[ "$(stat -c '%a %U' /etc/logward/collector)" = "700 root" ] || fail "/etc/logward/collector"
ok "system user logward-collector (uid $uid), /var/lib/logward, /var/lib/logward-collector"

# The documented operator command, as the service's user: the collector's store is created in
# the package's state directory, owned by that user (what purge must then remove).
as_collector() { setpriv --reuid logward-collector --regid logward-collector --init-groups "$@"; }
token=$(as_collector logward collector --config /etc/logward/collector.yaml token create) ||
  fail "token create as logward-collector"
[ ${#token} -eq 64 ] || fail "token create printed '$token'"
[ "$(stat -c '%a %U' /var/lib/logward-collector/logward.db)" = "600 logward-collector" ] ||
  fail "the store: $(stat -c '%a %U' /var/lib/logward-collector/logward.db)"
ok "collector token create as logward-collector; its store in /var/lib/logward-collector"

# The units: systemd-analyze verify (their ExecStart binary, user and everything else are
# real now), and every Documentation= target exists.
for unit in logward.service logward-collector.service; do
  path=/usr/lib/systemd/system/$unit
  out=$(systemd-analyze verify "$path" 2>&1) || fail "systemd-analyze verify $unit: $out"
  if grep -q "$unit:" <<<"$out"; then fail "systemd-analyze warns about $unit: $out"; fi
  docs=$(sed -n 's/^Documentation=//p' "$path")
  [ -n "$docs" ] || fail "$unit has no Documentation="
  for doc in $docs; do
    case $doc in
      man:*) page=${doc#man:}; name=${page%(*}; section=${page#*(}; section=${section%)}
        man -w "$section" "$name" >/dev/null || fail "$unit: no man page $page" ;;
      file://*) [ -s "${doc#file://}" ] || fail "$unit: $doc does not exist" ;;
      *) fail "$unit: Documentation=$doc is neither man: nor file://" ;;
    esac
  done
  ok "$unit verifies; Documentation= $docs"
done

# Man pages (every command's, rendered by man itself), completions, schemas.
pages=$(ls /usr/share/man/man8/logward*.8.gz | wc -l)
[ "$pages" -gt 30 ] || fail "only $pages man pages"
page=$(MANWIDTH=80 man 8 logward-run 2>&1 | tr -s ' ')
grep -q 'logward-run - Run the agent daemon' <<<"$page" || fail "man 8 logward-run: $page"
bash -n /usr/share/bash-completion/completions/logward || fail "bash completion"
[ -s /usr/share/zsh/vendor-completions/_logward ] && [ -s /usr/share/fish/vendor_completions.d/logward.fish ] ||
  fail "zsh/fish completions"
for k in agent collector rules; do
  diff -q "/usr/share/logward/schema/$k.schema.json" <(logward schema "$k") >/dev/null || fail "$k schema"
done
ok "$pages man pages, bash/zsh/fish completions, schemas in /usr/share/logward/schema"

# An admin's edit survives reinstalling, and the maintainer scripts run again cleanly.
echo "# edited by the admin" >>/etc/logward/agent.yaml
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null
tail -n 1 /etc/logward/agent.yaml | grep -q 'edited by the admin' || fail "reinstall overwrote agent.yaml"
ok "reinstall keeps the admin's agent.yaml; postinst ran twice"

# Remove: the program goes, configs, state and the user stay.
echo state >/var/lib/logward/marker
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq logward >/dev/null
[ ! -e /usr/bin/logward ] && [ ! -e /usr/lib/systemd/system/logward.service ] || fail "remove left the program"
[ -f /etc/logward/agent.yaml ] && [ -f /var/lib/logward/marker ] || fail "remove deleted configs or state"
getent passwd logward-collector >/dev/null || fail "remove deleted the user"
ok "remove: binary and units gone; configs, state and user kept"

# Purge: nothing left.
dpkg --purge logward >/dev/null
purged=yes
for p in /etc/logward /var/lib/logward /var/lib/logward-collector; do
  [ ! -e "$p" ] || fail "purge left $p"
done
! getent passwd logward-collector >/dev/null || fail "purge left the user"
! getent group logward-collector >/dev/null || fail "purge left the group"
! dpkg-statoverride --list /etc/logward/collector.yaml >/dev/null || fail "purge left the statoverride"
ok "purge: configs, state, user, group gone"

echo "$checks passed, 0 failed"
