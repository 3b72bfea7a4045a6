# The `peers` row of scripts/perf.sh (sourced by it, not run): rtbench's
# server beside peer servers on the same scenarios with the same `rtbench
# load` client, every server's CPU and RSS read from /proc (--server-pid), so
# all are measured the same way. Each run gets a fresh server; the servers
# take turns within every repeat (the VM drifts), and scripts/perf/peers.py
# reports the median and spread of each cell.
#
# Uses perf.sh's $bin, $work, $dir, start_server, stop_server, $url, $server_pid.
#
# Knobs (any of the first four off its default makes a quick check, recorded
# under target/perf/peers/ instead of bench/runs/):
#   PEERS_SERVERS=rtbench,nchan,node-ws,socketio
#   PEERS_SCENARIOS=A,B
#   PEERS_TRANSPORTS=ws,sse,long-poll,socketio
#   PEERS_SCALE=1          clients × SCALE, window 10 s × SCALE (at least 3 s)
#   PEERS_REPEATS=3
#   PEERS_CONNECT_RATES=   e.g. socketio=200,node-ws=500 (clients/s; defaults below)
#   PEERS_BASE_BIN=PATH    another build of rtbench, run as the server
#                          `rtbench-base`: an A/B of server CPU per delivery,
#                          e.g. PEERS_SERVERS=rtbench-base,rtbench
#                          PEERS_SCENARIOS=A PEERS_TRANSPORTS=ws PEERS_REPEATS=5
#
# The servers' order alternates between repeats, so neither side always runs
# first on a drifting machine.

peers_all_servers=rtbench,nchan,node-ws,socketio
peers_all_scenarios=A,B
peers_all_transports=ws,sse,long-poll,socketio
declare -A peers_connect=([rtbench]=2000 [rtbench-base]=2000 [nchan]=2000 [node-ws]=1000 [socketio]=100)

# peers_na SERVER TRANSPORT: why SERVER cannot run TRANSPORT (empty: it can).
peers_na() {
  case $1/$2 in
    rtbench/* | rtbench-base/* | socketio/socketio) ;;
    nchan/socketio | node-ws/socketio) echo "speaks no Socket.IO" ;;
    socketio/ws) echo "Socket.IO frames its own protocol over WebSocket: see its socketio row" ;;
    socketio/sse) echo "Socket.IO has no SSE transport" ;;
    socketio/long-poll) echo "Socket.IO's polling is its own protocol: see its socketio row" ;;
    node-ws/long-poll) echo "the tutorial's server has no long polling" ;;
    */ws | */sse | */long-poll) ;;
    *) echo "not a transport of this comparison" ;;
  esac
}

peer_pid="" peer_url="" peer_kind="" nchan_port="" node_pid=""
peers_nchan_prefix() { echo "$PWD/$work/peers/nchan"; }

# peer_start SERVER: a fresh SERVER on a free loopback port; sets $peer_url,
# $peer_pid (the process whose CPU and RSS count) and $peer_profile.
peer_start() {
  peer_kind=$1 peer_profile=() peer_url="" peer_pid=""
  case $1 in
    rtbench)
      start_server
      peer_url=$url peer_pid=$server_pid ;;
    rtbench-base)
      [ -x "${PEERS_BASE_BIN:-}" ] || { echo "perf: rtbench-base needs PEERS_BASE_BIN, an rtbench binary" >&2; return 1; }
      server_bin=$PEERS_BASE_BIN start_server
      peer_url=$url peer_pid=$server_pid ;;
    nchan)
      nchan_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      peer_url=$(NCHAN_PREFIX=$(peers_nchan_prefix) scripts/nchan/start.sh "$nchan_port" \
        2>>"$work/peers/nchan-start.log") || return 1
      local master
      master=$(cat "$(peers_nchan_prefix)/nginx.pid")
      # One worker (worker_processes 1): Nchan's work is done there.
      for _ in $(seq 50); do
        peer_pid=$(pgrep -P "$master" | head -1) && [ -n "$peer_pid" ] && break
        sleep 0.1
      done
      peer_profile=(--profile profiles/nchan.toml) ;;
    node-ws | socketio)
      local script=scripts/peers/ws-server.mjs line
      [ "$1" = socketio ] && script=tests/socketio/chat-server.mjs
      coproc PEER { exec node "$script" 2>"$work/peers/$peer_kind.log"; }
      node_pid=$PEER_PID
      read -r -t 30 line <&"${PEER[0]}" || return 1
      peer_url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["listening"])' "$line")
      peer_pid=$node_pid
      peer_profile=(--profile profiles/node-ws.toml)
      [ "$1" = socketio ] && peer_profile=(--profile profiles/socketio-chat.toml) ;;
  esac
  [ -n "$peer_url" ] && [ -n "$peer_pid" ]
}

# peer_stop: stops whatever peer_start started (safe to call twice).
peer_stop() {
  stop_server
  if [ -n "$nchan_port" ]; then
    NCHAN_PREFIX=$(peers_nchan_prefix) scripts/nchan/stop.sh "$nchan_port" 2>/dev/null || true
    nchan_port=""
  fi
  if [ -n "$node_pid" ]; then
    kill "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
  fi
}

# peers_scenario NAME: sets clients, rooms, publishers, rate, window.
peers_scenario() {
  local base
  case $1 in
    A) base=1000 rooms=1 publishers=1 rate=100 ;;
    B) base=10000 rooms=10 publishers=10 rate=100 ;;
    *) echo "perf: unknown peers scenario '$1' (A, B)" >&2; return 2 ;;
  esac
  read -r clients window < <(python3 -c '
import sys
base, rooms, scale = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
print(max(rooms, round(base * scale)), max(3, round(10 * scale)))' "$base" "$rooms" "$peers_scale")
}

# peers_run_one REP SCENARIO TRANSPORT SERVER: one measured run, one manifest line.
peers_run_one() {
  local rep=$1 scen=$2 t=$3 s=$4 pw=$work/peers
  local out="$pw/r$rep-$scen-$t-$s.json" status=ok reason="-"
  rm -f "$out"
  if peer_start "$s"; then
    "$bin" load --target "$peer_url" "${peer_profile[@]}" --transport "$t" --server-pid "$peer_pid" \
      --clients "$clients" --rooms "$rooms" --publishers "$publishers" --rate "$rate" --size 100 \
      --connect-rate "${peers_connect[$s]}" --duration "${window}s" --quiet --output "$out" \
      >"$out.txt" 2>&1 || true
    [ -s "$out" ] || { status=failed reason="no result: $(tail -1 "$out.txt" | tr '\t' ' ')"; }
  else
    status=failed reason="$s did not start (logs in $pw)"
  fi
  peer_stop
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$scen" "$t" "$s" "$status" "$out" "$reason" >>"$pw/runs.tsv"
  if [ "$status" = ok ]; then
    echo "  [$rep/$peers_repeats] $scen $t $s: $(python3 scripts/perf/peers.py brief "$out")"
  else
    echo "  [$rep/$peers_repeats] $scen $t $s: FAILED: $reason"
  fi
}

peers_setup() {
  peers_servers=${PEERS_SERVERS:-$peers_all_servers}
  peers_scenarios=${PEERS_SCENARIOS:-$peers_all_scenarios}
  peers_transports=${PEERS_TRANSPORTS:-$peers_all_transports}
  peers_scale=${PEERS_SCALE:-1}
  peers_repeats=${PEERS_REPEATS:-3}
  local kv
  for kv in ${PEERS_CONNECT_RATES:+${PEERS_CONNECT_RATES//,/ }}; do peers_connect[${kv%%=*}]=${kv#*=}; done
  peers_quick=""
  [ "$peers_servers,$peers_scenarios,$peers_transports,$peers_scale" \
    = "$peers_all_servers,$peers_all_scenarios,$peers_all_transports,1" ] || peers_quick=1
  # A Nchan left by a run that was killed hard would lose its pid file here.
  [ -f "$(peers_nchan_prefix)/nginx.pid" ] &&
    NCHAN_PREFIX=$(peers_nchan_prefix) scripts/nchan/stop.sh 2>/dev/null || true
  rm -rf "$work/peers"
  mkdir -p "$work/peers"
  if [[ ,$peers_servers, == *,node-ws,* || ,$peers_servers, == *,socketio,* ]]; then
    command -v node >/dev/null || { echo "perf: peers needs node (and npm ci for ws, socket.io)" >&2; return 2; }
    [ -d node_modules/ws ] && [ -d node_modules/socket.io ] || npm ci --silent
  fi
}

peers() {
  peers_setup || return
  trap 'peer_stop' EXIT
  trap 'exit 130' INT TERM
  local rep scen t s
  echo "peers: ${peers_servers//,/, } × scenarios ${peers_scenarios//,/ } × ${peers_transports//,/ }," \
    "$peers_repeats repeats, scale $peers_scale"
  for rep in $(seq "$peers_repeats"); do
    for scen in ${peers_scenarios//,/ }; do
      peers_scenario "$scen" || return
      local order=${peers_servers//,/ }
      [ $((rep % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$order" | tac | tr '\n' ' ')
      for t in ${peers_transports//,/ }; do
        for s in $order; do
          local na
          na=$(peers_na "$s" "$t")
          if [ -z "$na" ]; then
            peers_run_one "$rep" "$scen" "$t" "$s"
          elif [ "$rep" = 1 ]; then
            printf '%s\t%s\t%s\t%s\tn/a\t-\t%s\n' "$rep" "$scen" "$t" "$s" "$na" >>"$work/peers/runs.tsv"
          fi
        done
      done
    done
  done
  local record=$dir/peers.json
  [ -n "$peers_quick" ] && record=$work/peers/peers.json
  PEERS_SCALE=$peers_scale PEERS_REPEATS=$peers_repeats \
    python3 scripts/perf/peers.py record "$record" "$work/peers/runs.tsv"
  trap stop_server EXIT
}
