#!/usr/bin/env bash
# The access-log benchmark (issue 15): `logward scan --format summary` on a generated nginx
# access log (combined format; mostly ordinary requests, some scans for exploit paths, some
# 400s — seeded, so every run reads the same bytes), side by side in the same run with
# `wc -l` and `rg -c` with a pattern for the same scans. Prints lines/s, both ratios, peak
# RSS, and checks logward's web-scan count against the generator's.
#
#   bash bench/access.sh                 # 1 M lines, 5 runs
#   SIZES="1000000 5000000" RUNS=3 bash bench/access.sh
#   NO_BUILD=1 bash bench/access.sh      # the release binary already built
#
# Work files go to $WORK (default: a temp dir), never the repository.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
SIZES=${SIZES:-1000000}
RUNS=${RUNS:-5}
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

# The scans the generator writes, as rg sees them: a 404 for a scanned-for first path segment.
pattern='"(GET|POST|HEAD) /+(?i:phpmyadmin|pma|myadmin|wp-login\.php|\.env|cgi-bin|webmail|\.git/)[^"]*" 404 '

gen() { # gen N TRUTH > log
  python3 - "$1" "$2" <<'PY'
import json, random, sys
n, truth = int(sys.argv[1]), sys.argv[2]
rng = random.Random(42)
clients = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(20000)]
scanners = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(300)]
pages = ["/", "/index.html", "/about/", "/blog/2026/03/some-post-title", "/static/css/site.css",
         "/static/js/app.js", "/images/logo.png", "/favicon.ico", "/api/v1/items?page=2", "/feed.xml",
         "/search?q=rust+logs", "/contact", "/wp-content/uploads/2026/02/photo.jpg"]
scans = ["/phpmyadmin/index.php", "/pma/scripts/setup.php", "/myadmin/", "/wp-login.php", "/.env",
         "/cgi-bin/luci", "/webmail/", "/.git/config", "//phpMyAdmin-2.8.2.3/scripts/setup.php"]
agents = ['Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
          'curl/8.8.0', 'Googlebot/2.1 (+http://www.google.com/bot.html)']
months = ["Mar"]
scan_n = bad_n = 0
out = sys.stdout
buf = []
for i in range(n):
    sec = i // 20
    d, h, m, s = 1 + sec // 86400 % 28, sec // 3600 % 24, sec // 60 % 60, sec % 60
    ts = f"{d:02d}/Mar/2026:{h:02d}:{m:02d}:{s:02d} +0000"
    r = rng.random()
    if r < 0.02:
        ip, req, st, ua = rng.choice(scanners), f"{rng.choice(['GET', 'GET', 'POST', 'HEAD'])} {rng.choice(scans)} HTTP/1.1", 404, "Mozilla/5.0 zgrab/0.x"
        scan_n += 1
    elif r < 0.025:
        ip, req, st, ua = rng.choice(scanners), rng.choice(["", "\\x16\\x03\\x01\\x00", "HELP"]), 400, "-"
        bad_n += 1
    else:
        ip, req, ua = rng.choice(clients), f"GET {rng.choice(pages)} HTTP/1.1", rng.choice(agents)
        st = rng.choice([200, 200, 200, 200, 304, 301, 404])
    ref = rng.choice(["-", "https://www.example.org/", "https://duckduckgo.com/"])
    buf.append(f'{ip} - - [{ts}] "{req}" {st} {rng.randrange(100, 60000)} "{ref}" "{ua}"\n')
    if len(buf) >= 10000:
        out.write("".join(buf)); buf.clear()
out.write("".join(buf))
json.dump({"web_scan": scan_n, "bad_request": bad_n}, open(truth, "w"))
PY
}

printf '%-9s %-34s %12s %12s %10s %s\n' lines tool "median s" "lines/s" "RSS MiB" "ratio"
status=0
for n in $SIZES; do
  log="$WORK/access-$n.log"; truth="$WORK/access-truth-$n.json"
  if [ ! -s "$log" ] || [ ! -s "$truth" ]; then
    gen "$n" "$truth" > "$log"
  fi
  cat "$log" > /dev/null
  m_wc=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" wc -l "$log")
  m_rg=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" rg --no-mmap -c "$pattern" "$log")
  m_lw=$(python3 "$here/measure.py" "$RUNS" -- "${pin[@]}" "$lw" scan --format summary "$log")
  N="$n" TRUTH="$truth" M_WC="$m_wc" M_RG="$m_rg" M_LW="$m_lw" python3 - <<'PY' || status=1
import json, os, re
n = int(os.environ["N"])
wc, rg, lw = (json.loads(os.environ[k]) for k in ("M_WC", "M_RG", "M_LW"))
def row(tool, m, ratio=""):
    print(f"{n:<9} {tool:<34} {m['median_s']:>12.3f} {n / m['median_s']:>12,.0f} {m['peak_rss_kib'] / 1024:>10.1f} {ratio}")
row("wc -l", wc)
row("rg -c 'SCAN PATTERN'", rg)
row("logward scan --format summary", lw,
    f"{wc['median_s'] / lw['median_s']:.3f}x wc, {rg['median_s'] / lw['median_s']:.2f}x rg")
truth = json.load(open(os.environ["TRUTH"]))
def count(reason):
    for line in lw["stdout"].splitlines():
        m = re.match(rf"\s+service-abuse\s+failure\s+http\.access\s+{reason}\s+(\d+)$", line)
        if m:
            return int(m.group(1))
    return 0
rg_n = int(rg["stdout"].strip() or 0)
got = {k: count(k.replace("_", "-")) for k in truth}
ok = got == truth and rg_n == truth["web_scan"]
print(f"{n:<9} accuracy: web-scan {got['web_scan']:,} (rg {rg_n:,}), bad-request {got['bad_request']:,} "
      f"vs truth {truth['web_scan']:,}, {truth['bad_request']:,} -> {'OK' if ok else 'MISMATCH'}")
print(f"{n:<9} target: >= 1 M lines/s {'met' if n / lw['median_s'] >= 1e6 else 'NOT met'}")
import sys
sys.exit(0 if ok else 1)
PY
done
exit $status
