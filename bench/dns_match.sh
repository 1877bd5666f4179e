#!/usr/bin/env bash
# The issue-17 matching benchmark: a generated 1 M-domain threat list and 1 M queries (a mix
# of subdomains of listed names, listed names and names not listed; bench/gen_dns.py),
# matched on one core by logward's `DomainSet` (through `ListSet`, by name and every parent
# suffix) and, in the same run, by the fixed-string matchers: `grep -F -x -f list queries`
# (exact names only; neither grep nor ripgrep can match parents) and `rg -F -f` (substrings).
# ripgrep 13 cannot take the 1 M-name list (it runs out of memory past 6 GB; with -x it does
# not finish 10 k names in minutes), so it runs once on the whole list under a memory cap
# (RG_MEM_KB, default 4 GiB) to say so, and in each run on the first SUBSET names, beside
# the DomainSet on the same names. The two alternatives the DomainSet was chosen against
# (sorted reversed names with binary search, std HashSet) run too. Runs are interleaved;
# medians. Prints load time, RSS growth and the structure's own bytes, and look-ups per CPU
# second (the thread's CPU time: a loaded machine's waiting is not in it); the tools' wall
# and CPU time (pattern build and search) and peak RSS. Hit counts are checked against the
# generator's.
#
#   bash bench/dns_match.sh                 # RUNS=5 DOMAINS=1000000 QUERIES=1000000 SUBSET=100000
#   RUNS=3 DOMAINS=200000 bash bench/dns_match.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
RUNS=${RUNS:-5}
DOMAINS=${DOMAINS:-1000000}
QUERIES=${QUERIES:-1000000}
PASSES=${PASSES:-5}
SUBSET=${SUBSET:-100000}
RG_MEM_KB=${RG_MEM_KB:-4194304}
NO_BUILD=1
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

data="$WORK/dns-$DOMAINS-$QUERIES"
[ -s "$data/expected.txt" ] || python3 "$here/gen_dns.py" "$data" "$DOMAINS" "$QUERIES"
(cd "$root" && cargo build --release --locked -q -p logward-engine --example dns_match)
ex="${CARGO_TARGET_DIR:-$root/target}/release/examples/dns_match"

EX="$ex" DATA="$data" RUNS="$RUNS" PASSES="$PASSES" SUBSET="$SUBSET" RG_MEM_KB="$RG_MEM_KB" PIN="${pin[*]}" python3 - <<'PY'
import os, re, statistics, subprocess, sys

ex, data, runs, passes = os.environ["EX"], os.environ["DATA"], int(os.environ["RUNS"]), os.environ["PASSES"]
subset, rg_mem = int(os.environ["SUBSET"]), int(os.environ["RG_MEM_KB"])
pin = os.environ["PIN"].split()
lst, qs = f"{data}/list.txt", f"{data}/queries.txt"
hits, exact = map(int, open(f"{data}/expected.txt").read().split())
# The fixed-string tools read the patterns whole: without the generator's comment line.
names = [l for l in open(lst).read().split("\n") if l and not l.startswith("#")]
pats, sub = f"{data}/patterns.txt", f"{data}/subset.txt"
with open(pats, "w") as o:
    o.write("\n".join(names) + "\n")
with open(sub, "w") as o:
    o.write("\n".join(names[:subset]) + "\n")
queries = open(qs).read().split("\n")[:-1]
small = set(names[:subset])
def listed(q):
    while True:
        if q in small:
            return True
        if "." not in q:
            return False
        q = q.split(".", 1)[1]
sub_hits = sum(map(listed, queries))

def example(lst, s):
    out = subprocess.run(pin + [ex, lst, qs, s, passes], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"(\w+)=(\S+)", out))

def tool(cmd, limit=None):
    """(count, wall s, CPU s, peak RSS MB) of a fixed-string matcher, or its failure."""
    pre = f"ulimit -v {limit}; " if limit else ""
    r = subprocess.run(["bash", "-c", pre + 'exec "$@"', "tool", *pin, "/usr/bin/time", "-f", "TIME %e %U %S %M", "timeout", "600", *cmd], capture_output=True, text=True)
    t = [l for l in r.stderr.splitlines() if l.startswith("TIME ")]
    e, u, sy, m = t[-1].split()[1:] if t else ("0", "0", "0", "0")
    if r.returncode != 0:
        why = [l for l in r.stderr.splitlines() if not l.startswith("TIME ") and l.strip()]
        return None, float(e), float(u) + float(sy), int(m) / 1024, (why[-1] if why else f"exit {r.returncode}")
    return int(r.stdout.strip() or 0), float(e), float(u) + float(sy), int(m) / 1024, None

structures = ["domainset", "sorted", "hashset"]
rows = {s: [] for s in structures + ["subset"]}
grep, rg = [], []
for _ in range(runs):
    for s in structures:
        kv = example(lst, s)
        if int(kv["hits"]) != hits:
            sys.exit(f"bench: {s} found {kv['hits']} hits, the generator {hits}")
        rows[s].append(kv)
    kv = example(sub, "domainset")
    if int(kv["hits"]) != sub_hits:
        sys.exit(f"bench: domainset on {subset} names found {kv['hits']} hits, expected {sub_hits}")
    rows["subset"].append(kv)
    g = tool(["grep", "-F", "-x", "-c", "-f", pats, qs])
    if g[0] != exact:
        sys.exit(f"bench: grep found {g[0]} exact names, the generator {exact}: {g[4]}")
    grep.append(g)
    r = tool(["rg", "-F", "-c", "-f", sub, qs])
    if r[0] is None:
        sys.exit(f"bench: rg on {subset} names failed: {r[4]}")
    rg.append(r)
rg_full = tool(["rg", "-F", "-c", "-f", pats, qs], rg_mem)

med = lambda s, k: statistics.median(float(kv[k]) for kv in rows[s])
first = rows["domainset"][0]
q = int(first["queries"])
print(f"{first['entries']} listed names, {q} queries ({hits} listed or under a listed name, {exact} exactly listed); {runs} runs, one core ({' '.join(pin) or 'unpinned'}), medians")
print(f"{'structure':<46} {'load s':>7} {'RSS MB':>7} {'own MB':>7} {'look-ups/CPU s':>15}")
label = {"domainset": "DomainSet (ListSet, hashed suffixes)", "sorted": "sorted reversed names, binary search", "hashset": "std HashSet<String>, a probe per suffix", "subset": f"DomainSet, first {subset:,} names ({sub_hits} hits)"}
for s in structures + ["subset"]:
    print(f"{label[s]:<46} {med(s, 'load_s'):>7.2f} {med(s, 'rss_mb'):>7.1f} {med(s, 'heap_mb'):>7.1f} {med(s, 'lookups_per_cpu_s'):>15,.0f}")
def show(name, runs):
    wall = statistics.median(x[1] for x in runs)
    cpu = statistics.median(x[2] for x in runs)
    rss = statistics.median(x[3] for x in runs)
    print(f"{name:<46} wall {wall:6.2f} s, CPU {cpu:6.2f} s, peak RSS {rss:6.0f} MB, {q / cpu:>10,.0f} queries/CPU s, {runs[0][0]} lines matched")
show("grep -F -x -f list queries (exact names)", grep)
show(f"rg -F -f (substrings), first {subset:,} names", rg)
if rg_full[0] is None:
    print(f"rg -F -f list queries, all names: failed after {rg_full[1]:.1f} s, {rg_full[2]:.1f} s CPU, peak RSS {rg_full[3]:.0f} MB (cap {rg_mem // 1024} MB): {rg_full[4]}")
else:
    show("rg -F -f list queries, all names", [rg_full])
PY
