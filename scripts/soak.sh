#!/usr/bin/env bash
# Soak (not part of CI): WebSocket and SSE clients against one server for a
# long steady run, sampling server and load-generator RSS every 10 s.
# Fails if any message is lost, or if an RSS grows more than 5% between the
# end of warm-up and the end of the run.
#
#   scripts/soak.sh                                   # 5,000 WS + 5,000 SSE, 2 msg/s each, 10 minutes
#   SOAK_CLIENTS=1000 SOAK_DURATION=2m scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${SOAK_CLIENTS:-5000}
duration=${SOAK_DURATION:-10m}
rate=${SOAK_RATE:-2}
warmup=${SOAK_WARMUP:-60s}
out=target/soak
rm -rf "$out"
mkdir -p "$out"
cargo build --release --quiet -p rtbench
bin=target/release/rtbench

# The server, on a free port; its first stdout line says where.
coproc SERVER { exec "$bin" server --addr 127.0.0.1:0 2>"$out/server.log"; }
server_pid=$SERVER_PID
read -r line <&"${SERVER[0]}"
url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listening"])' "$line")
cleanup() { kill "$server_pid" 2>/dev/null || true; kill "${ws_pid:-}" "${sse_pid:-}" 2>/dev/null || true; }
trap cleanup EXIT
echo "soak: server $url (pid $server_pid); $clients WS + $clients SSE clients, $rate msg/s each, warm-up $warmup, $duration measured"

for t in ws sse; do
  "$bin" load --target "$url" --transport "$t" --clients "$clients" --connect-rate 2000 \
    --rate "$rate" --warmup "$warmup" --duration "$duration" --drain 10s --quiet \
    --output "$out/$t.json" >"$out/$t.txt" 2>&1 &
  eval "${t}_pid=\$!"
done

rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "seconds,server_rss,ws_loadgen_rss,sse_loadgen_rss" >"$out/rss.csv"
start=$(date +%s)
while kill -0 "$ws_pid" 2>/dev/null || kill -0 "$sse_pid" 2>/dev/null; do
  echo "$(( $(date +%s) - start )),$(rss "$server_pid"),$(rss "$ws_pid"),$(rss "$sse_pid")" >>"$out/rss.csv"
  sleep 10
done
wait "$ws_pid" || true
wait "$sse_pid" || true

python3 - "$out" "$warmup" <<'EOF'
import csv, json, sys
out, warmup = sys.argv[1], sys.argv[2]
def secs(s):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for u in ("ms", "s", "m", "h"):
        if s.endswith(u) and s[:-len(u)].replace(".", "").isdigit():
            return float(s[:-len(u)]) * units[u]
    return float(s)
rows = [r for r in csv.DictReader(open(f"{out}/rss.csv"))]
# Ramp-up (clients / 2000 per s) plus warm-up, then a margin of 30 s.
settle = secs(warmup) + 30
steady = [r for r in rows if float(r["seconds"]) >= settle and int(r["server_rss"]) > 0]
ok = True
print(f"soak: {len(rows)} RSS samples, {len(steady)} after warm-up ({settle:.0f} s)")
for col in ("server_rss", "ws_loadgen_rss", "sse_loadgen_rss"):
    vals = [int(r[col]) for r in steady if int(r[col]) > 0]
    if len(vals) < 2:
        print(f"  {col}: too few samples"); ok = False; continue
    first, last, peak = vals[0], vals[-1], max(vals)
    growth = (last - first) / first * 100
    verdict = "ok" if growth <= 5 else "GREW"
    ok &= growth <= 5
    print(f"  {col:16} start {first/2**20:8.1f} MiB  end {last/2**20:8.1f} MiB  peak {peak/2**20:8.1f} MiB  growth {growth:+5.1f}%  {verdict}")
for t in ("ws", "sse"):
    try:
        r = json.load(open(f"{out}/{t}.json"))["transports"][0]
    except Exception as e:
        print(f"  {t}: no result file ({e})"); ok = False; continue
    c, l = r["counts"], r["latency"]
    print(f"  {t:3}: delivered {c['delivered']:,} of {c['expected']:,}, lost {c['lost']}, "
          f"p50 {l['p50_us']/1000:.2f} ms, p99 {l['p99_us']/1000:.2f} ms, errors {sum(c['errors'].values())}, lagged {c['lagged']}")
    ok &= c["lost"] == 0 and c["expected"] > 0
print("soak: PASS" if ok else "soak: FAIL")
sys.exit(0 if ok else 1)
EOF
