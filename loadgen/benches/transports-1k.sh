#!/usr/bin/env bash
# Release run of scenarios/baseline-1k.toml (1,000 clients, one room, 10 msg/s,
# 100 B, 20 s) once per transport, the server in its own process, restarted
# per transport so its RSS per connection is clean. Prints each summary and
# leaves result files in ${OUT:-target/bench-1k}/.
#
#   loadgen/benches/transports-1k.sh            # all four transports
#   loadgen/benches/transports-1k.sh ws sse     # some
#   SCENARIO=scenarios/chat-10k.toml loadgen/benches/transports-1k.sh ws sse
set -euo pipefail
cd "$(dirname "$0")/../.."
scenario=${SCENARIO:-scenarios/baseline-1k.toml}
out=${OUT:-target/bench-1k}
port=${PORT:-3917}
mkdir -p "$out"
cargo build --release -q -p rtbench-loadgen --example load --example serve
transports=("$@")
[ ${#transports[@]} -gt 0 ] || transports=(ws sse long-poll short-poll)
for t in "${transports[@]}"; do
  ./target/release/examples/serve "127.0.0.1:$port" 2>/dev/null &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  sleep 0.5
  cmd=(./target/release/examples/load --scenario "$scenario" --transport "$t"
       --target "http://127.0.0.1:$port" --output "$out/$t.json" --quiet)
  echo "\$ ${cmd[*]}"
  "${cmd[@]}" || echo "(exit $?)"
  kill "$server"; wait "$server" 2>/dev/null || true
done
