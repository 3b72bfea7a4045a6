#!/usr/bin/env bash
# Measures the rows of the performance table (README "Performance") on this
# machine, release build, server and load generator sharing its cores, and
# writes one JSON record per row under bench/runs/<date>-<host>/ (commit it:
# progress stays visible over time). Prints each figure beside its target
# and anchor, then the whole table.
#
#   scripts/perf.sh                 # every row (~12 min)
#   scripts/perf.sh fanout-ws wrk   # some rows
#
# Rows: fanout-ws fanout-sse long-poll idle-ws idle-sse latency-10k wrk 100k socketio
#       webtransport peers flame
# (fanout-ws also gives loadgen-cost: loadgen vs server CPU per delivery;
# 100k needs redis-server and ~3 GiB of memory, and is not in the default set;
# socketio needs node and npm's socket.io, and prints rtbench's own tables;
# webtransport prints bench's tables on loopback and on lossy-lte;
# peers measures rtbench's server beside Nchan, a Node `ws` server and the npm
# socket.io server on the same scenarios with the same load client, each run
# 3 times with the servers taking turns, and records the medians and spreads
# in peers.json: scripts/perf/peers.sh, whose PEERS_* knobs shrink it to a
# quick check, e.g. PEERS_SERVERS=rtbench,node-ws PEERS_SCENARIOS=A
# PEERS_SCALE=0.1; it needs node, npm's ws and socket.io, and installs
# nginx and its Nchan module with apt-get when missing);
# flame profiles rtbench's server and Nchan under peers' scenario A with perf
# and writes flame graphs and a CPU-per-delivery split by kernel and user
# space: scripts/perf/flame.sh, FLAME_* knobs).
# Not in CI: figures on a shared VM are for people, not for gates.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=("$@")
[ ${#rows[@]} -eq 0 ] && rows=(fanout-ws fanout-sse long-poll idle-ws idle-sse latency-10k wrk)
host=$(hostname -s 2>/dev/null || echo host)
dir=bench/runs/$(date -u +%Y-%m-%d)-$host
work=target/perf
mkdir -p "$dir" "$work"
export PERF_COMMAND="scripts/perf.sh ${*:-}"
rec="python3 scripts/perf/record.py"

# Kernel limits for many loopback connections (root only; harmless if not).
if [ "$(id -u)" = 0 ]; then
  sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null || true
  sysctl -qw net.core.somaxconn=4096 2>/dev/null || true
  sysctl -qw net.ipv4.tcp_max_syn_backlog=8192 2>/dev/null || true
  sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release --quiet -p rtbench
bin=target/release/rtbench

server_pid=""
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=""; }
trap stop_server EXIT
# start_server [flags…]: a fresh server on a free port (of $server_bin if
# set, else of this build); sets $url, $server_pid.
start_server() {
  stop_server
  coproc SRV { exec "${server_bin:-$bin}" server --addr 127.0.0.1:0 "$@" 2>"$work/server.log"; }
  server_pid=$SRV_PID
  read -r line <&"${SRV[0]}"
  url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listening"])' "$line")
}
. scripts/perf/peers.sh
. scripts/perf/flame.sh
rss() { awk '/VmRSS/ { print $2 * 1024 }' "/proc/$1/status"; }

fanout() { # ROW TRANSPORT
  local files=()
  for rate in 100 200 400 800; do
    local out="$work/$1-$rate"
    "$bin" bench --transports "$2" --clients 1000 --rate "$rate" --size 100 --duration 10s \
      --quiet --out "$out" >"$out.txt" 2>&1 || true
    files+=("$out/results/$2.json")
  done
  echo "$1: 1,000 $2 subscribers in one room, 100 B messages, rate stepped 100 → 800 msg/s"
  $rec fanout "$dir" "$1" "$2" "${files[@]}"
}

long_poll() {
  local files=()
  for rate in 20 50 100 200; do
    local out="$work/long-poll-$rate"
    "$bin" bench --transports long-poll --clients 1000 --rate "$rate" --size 100 --duration 10s \
      --quiet --out "$out" >"$out.txt" 2>&1 || true
    files+=("$out/results/long-poll.json")
  done
  echo "long-poll: 1,000 clients in one room, rate stepped 20 → 200 msg/s"
  $rec longpoll "$dir" "${files[@]}"
}

idle() { # ROW TRANSPORT
  start_server
  sleep 1
  local before peak=0 out="$work/$1.json"
  before=$(rss "$server_pid")
  ( while kill -0 "$server_pid" 2>/dev/null; do rss "$server_pid"; sleep 1; done ) >"$work/$1.rss" &
  local sampler=$!
  "$bin" load --target "$url" --transport "$2" --clients 19000 --rate 1 --connect-rate 2000 \
    --duration 20s --quiet --output "$out" >"$work/$1.txt" 2>&1 || true
  kill "$sampler" 2>/dev/null || true
  peak=$(sort -n "$work/$1.rss" | tail -1)
  stop_server
  echo "$1: 19,000 $2 clients held, one message per second to all of them"
  $rec idle "$dir" "$1" "$out" "$before" "$peak"
}

latency_10k() {
  start_server
  local out="$work/latency-10k.json"
  "$bin" load --target "$url" --transport ws --clients 10000 --rooms 10 --publishers 10 --rate 100 \
    --connect-rate 2000 --duration 20s --quiet --output "$out" >"$work/latency-10k.txt" 2>&1 || true
  stop_server
  echo "latency-10k: 10,000 WebSocket subscribers, 10 rooms, 10 msg/s per room"
  $rec latency "$dir" "$out"
}

wrk_ratio() {
  command -v wrk >/dev/null || {
    echo "perf: installing wrk (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  }
  start_server
  local conns=100 out="$work/wrk-rtbench.json" wrk_rps
  # Same endpoint shape (an empty room's messages after a cursor), same
  # connections, both back to back, both tools on the same 2 cores as the server.
  wrk_rps=$(wrk -t2 -c$conns -d10s "$url/api/rooms/wrk/messages?since=0" | awk '/Requests\/sec/ { print $2 }')
  "$bin" load --target "$url" --transport short-poll --clients $conns --rate 0 --poll-interval 0 \
    --duration 10s --warmup 0s --quiet --output "$out" >"$work/wrk-rtbench.txt" 2>&1 || true
  stop_server
  echo "wrk: $conns connections, GET of an empty room's messages, 10 s each"
  $rec wrk "$dir" "$wrk_rps" "$out" "$conns"
}

scale_100k() {
  command -v redis-server >/dev/null || {
    echo "perf: installing redis-server (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  }
  local instances=6 port pids=() urls=() out="$work/100k.json"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq "$instances"); do
    "$bin" server --addr 127.0.0.1:0 --broker "redis://127.0.0.1:$port" \
      >"$work/srv-$i.out" 2>"$work/srv-$i.log" &
    pids+=($!)
  done
  for i in $(seq "$instances"); do
    for _ in $(seq 100); do [ -s "$work/srv-$i.out" ] && break; sleep 0.1; done
    urls+=("$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$work/srv-$i.out")")
  done
  local targets
  targets=$(IFS=,; echo "${urls[*]}")
  # 100,000 WebSockets: 6 load processes × 16,667 clients (each under its
  # 20,000 descriptors), spread over 6 instances × ~16,667 and 8 source
  # addresses; 100 rooms of 1,000, 10 msg/s in all (10,000 deliveries/s).
  "$bin" load --target "$targets" --transport ws --clients 100000 --rooms 100 --publishers 6 \
    --rate 10 --processes 6 --connect-rate 1000 --duration 30s --source-ips 127.0.0.1-127.0.0.8 \
    --output "$out" >"$work/100k.txt" 2>&1 || true
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  echo "100k: 100,000 WebSocket clients, $instances server instances on Redis, 6 load processes"
  $rec scale "$dir" "$out" "$out.workers"
}

# Socket.IO's cost: rtbench's server over ws, socketio and socketio-polling,
# then the npm socket.io chat server (tests/socketio/chat-server.mjs) through
# profiles/socketio-chat.toml, its CPU and RSS from /proc. 1,000 clients in
# one room, 10 msg/s of 100 B; the Node server's clients join 100 a second
# (every join is announced to the room: a faster ramp is a join storm).
socketio_cost() {
  local out="$work/socketio"
  "$bin" bench --transports ws,socketio,socketio-polling --clients 1000 --rate 10 --size 100 \
    --duration 20s --out "$out" 2>&1 | grep -v '^\[' || true
  local node_pid node_url
  coproc NODE { exec node tests/socketio/chat-server.mjs 2>"$work/socketio-node.log"; }
  node_pid=$NODE_PID
  read -r line <&"${NODE[0]}"
  node_url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listening"])' "$line")
  for t in socketio socketio-polling; do
    echo "npm socket.io chat server, $t:"
    "$bin" load --target "$node_url" --profile profiles/socketio-chat.toml --transport "$t" \
      --server-pid "$node_pid" --clients 1000 --rate 10 --size 100 --connect-rate 100 \
      --duration 20s --output "$work/socketio-node-$t.json" 2>&1 | grep -E 'latency|bytes_per|errors|server|warning|coherence' || true
  done
  kill "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
}

# WebTransport against WebSocket: 1,000 clients in one room, 10 msg/s of
# 100 B, on loopback, then behind the lossy-lte link (1% loss each way,
# where TCP's head-of-line blocking should show and datagrams should not).
webtransport_cost() {
  local ts="ws,webtransport,webtransport-datagram"
  "$bin" bench --transports "$ts" --clients 1000 --rate 10 --size 100 \
    --duration 20s --out "$work/webtransport" 2>&1 | grep -v '^\[' || true
  "$bin" bench --transports "$ts" --clients 1000 --rate 10 --size 100 \
    --duration 20s --network lossy-lte --out "$work/webtransport-lossy-lte" 2>&1 | grep -v '^\[' || true
}

for row in "${rows[@]}"; do
  case $row in
    fanout-ws) fanout fanout-ws ws ;;
    fanout-sse) fanout fanout-sse sse ;;
    long-poll) long_poll ;;
    idle-ws) idle idle-ws ws ;;
    idle-sse) idle idle-sse sse ;;
    latency-10k) latency_10k ;;
    wrk) wrk_ratio ;;
    100k) scale_100k ;;
    socketio) socketio_cost ;;
    webtransport) webtransport_cost ;;
    peers) peers ;;
    flame) flame ;;
    *) echo "perf: unknown row '$row'" >&2; exit 2 ;;
  esac
done
# peers and flame printed their own tables; the others share the Performance table.
own=1
for row in "${rows[@]}"; do [[ $row == peers || $row == flame ]] || own=0; done
[ "$own" = 1 ] && exit 0
echo
echo "records in $dir:"
$rec table "$dir"
