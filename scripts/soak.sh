#!/usr/bin/env bash
# Soak (not part of CI): WebSocket and SSE clients against one server for a
# long steady run, sampling server and load-generator RSS every 10 s.
# Fails if any message is lost, any error happened, or an RSS grew more than
# 5% between the end of warm-up and the end of the run. The load generator's
# exact loss accounting keeps one bit per expected delivery per client, so its
# growth is judged net of those bits.
#
#   scripts/soak.sh                                   # 5,000 WS + 5,000 SSE, 2 msg/s each, 10 minutes
#   SOAK_CLIENTS=1000 SOAK_DURATION=2m scripts/soak.sh
#   SOAK_ANALYSE_ONLY=1 scripts/soak.sh               # judge the last run's files in target/soak again
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${SOAK_CLIENTS:-5000}
duration=${SOAK_DURATION:-10m}
rate=${SOAK_RATE:-2}
warmup=${SOAK_WARMUP:-60s}
out=target/soak
analyse() { python3 scripts/soak_verdict.py "$out" "$warmup"; }
if [ -n "${SOAK_ANALYSE_ONLY:-}" ]; then analyse; exit; fi
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

analyse
