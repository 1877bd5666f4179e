#!/usr/bin/env bash
# The issue-17 pcap benchmark: `logward scan --format ndjson capture.pcap > /dev/null` (frames
# → dns-query events in ECS NDJSON, queries joined with their replies) on a generated capture
# of DNS traffic (bench/gen_dns_pcap.py: PAIRS queries and their replies, Ethernet/IPv4/UDP),
# side by side in the same run with `tcpdump -n -r` and `tshark -n -r` (one summary line per
# packet, DNS decoded) on the same file, every tool pinned to one core. The runs of the tools
# are interleaved so the machine's noise falls on all alike. Prints the median wall and CPU
# seconds (user + system of the processes) and packets per CPU second; target ≥ 1 M/s.
#
#   bash bench/dns_pcap.sh                  # PAIRS=500000 (~990 k packets), RUNS=5
#   PAIRS=1000000 RUNS=7 bash bench/dns_pcap.sh
#   TSHARK_RUNS=0 bash bench/dns_pcap.sh    # without tshark (slow: ~1 run is enough)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
PAIRS=${PAIRS:-500000}
RUNS=${RUNS:-5}
TSHARK_RUNS=${TSHARK_RUNS:-1}
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

if ! command -v tcpdump >/dev/null || ! command -v tshark >/dev/null; then
  echo "bench: installing tcpdump and tshark (the baselines)" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tcpdump tshark >/dev/null
  fi
fi
command -v tcpdump >/dev/null || { echo "bench: tcpdump is required" >&2; exit 2; }

pcap="$WORK/dns-$PAIRS.pcap"
if [ ! -s "$pcap" ]; then
  echo "bench: generating $pcap ($PAIRS query/reply pairs)" >&2
  python3 "$here/gen_dns_pcap.py" "$pcap.tmp" "$PAIRS" && mv "$pcap.tmp" "$pcap"
fi

LW="$lw" PCAP="$pcap" RUNS="$RUNS" TSHARK_RUNS="$TSHARK_RUNS" PIN="${pin[*]}" python3 - <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time

lw, pcap = os.environ["LW"], os.environ["PCAP"]
runs, tshark_runs = int(os.environ["RUNS"]), int(os.environ["TSHARK_RUNS"])
pin = os.environ["PIN"].split()
null = subprocess.DEVNULL

def lines(cmd):
    out = subprocess.run(pin + cmd, stdout=subprocess.PIPE, stderr=null, check=True).stdout
    return out.count(b"\n")

packets = lines(["tcpdump", "-n", "-r", pcap])
events = lines([lw, "scan", "--format", "ndjson", pcap])
print(f"{pcap}: {packets} packets, {events} dns-query events; one core ({' '.join(pin) or 'unpinned'})")

tools = {
    "logward scan --format ndjson": ([lw, "scan", "--format", "ndjson", pcap], runs),
    "tcpdump -n -r": (["tcpdump", "-n", "-r", pcap], runs),
}
if tshark_runs > 0 and shutil.which("tshark"):
    tools["tshark -n -r"] = (["tshark", "-n", "-r", pcap], tshark_runs)

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

times = {name: [] for name in tools}
cpus = {name: [] for name in tools}
for i in range(max(n for _, n in tools.values())):
    for name, (cmd, n) in tools.items():
        if i >= n:
            continue
        t0, c0 = time.perf_counter(), cpu()
        subprocess.run(pin + cmd, stdout=null, stderr=null, check=True)
        times[name].append(time.perf_counter() - t0)
        cpus[name].append(cpu() - c0)

print(f"{'tool':<32} {'runs':>4} {'wall s':>8} {'CPU s':>8} {'packets/CPU s':>14} {'packets/wall s':>15}")
for name in tools:
    w, c = statistics.median(times[name]), statistics.median(cpus[name])
    print(f"{name:<32} {len(times[name]):>4} {w:>8.3f} {c:>8.3f} {packets / c:>14,.0f} {packets / w:>15,.0f}")
PY
