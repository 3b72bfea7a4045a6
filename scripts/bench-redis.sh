#!/usr/bin/env bash
# Memory broker vs Redis broker, same scenario, one script run: WebSocket
# clients in one room against a fresh `rtbench server` (memory), then against
# a fresh `rtbench server --broker redis://…` with its own redis-server on a
# free loopback port. Prints deliveries per server-CPU-second, p50/p99 and
# the CPU seconds Redis itself spent during each run.
#
#   scripts/bench-redis.sh                      # 1,000 clients, 50 msg/s, 20 s
#   CLIENTS=2000 RATE=100 DURATION=30s scripts/bench-redis.sh
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${CLIENTS:-1000}
rate=${RATE:-50}
duration=${DURATION:-20s}
command -v redis-server >/dev/null || {
  echo "bench-redis: installing redis-server (Debian)" >&2
  apt-get install -y -qq redis-server >/dev/null
}
cargo build --release --quiet -p rtbench
bin=target/release/rtbench
out=target/bench-redis
rm -rf "$out"
mkdir -p "$out"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$out/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# utime + stime of a process, in seconds (USER_HZ = 100).
cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }

run() {
  local name=$1; shift
  local before after
  before=$(cpu "$redis_pid")
  "$bin" bench --transports ws --clients "$clients" --rate "$rate" --duration "$duration" \
    --quiet --out "$out/$name" "$@" >"$out/$name.txt"
  after=$(cpu "$redis_pid")
  python3 - "$out/$name/results/ws.json" "$name" "$before" "$after" <<'EOF'
import json, sys
path, name, before, after = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
t = json.load(open(path))["transports"][0]
s = t["server"]
lat = t["latency"]
per_cpu = s["deliveries"] / s["cpu_seconds"] if s["cpu_seconds"] else float("nan")
print(f"{name:6}  deliveries {s['deliveries']:>9,}  server CPU {s['cpu_seconds']:6.2f} s  "
      f"deliveries/server-CPU-s {per_cpu:>10,.0f}  p50 {lat['p50_us']/1000:6.2f} ms  "
      f"p99 {lat['p99_us']/1000:6.2f} ms  lost {t['counts']['lost']}  redis CPU {after - before:5.2f} s")
EOF
}

echo "bench-redis: $clients WebSocket clients, 1 room, $rate msg/s, $duration (release build, 2 cores shared)"
run memory
run redis --server-arg="--broker=redis://127.0.0.1:$port"
