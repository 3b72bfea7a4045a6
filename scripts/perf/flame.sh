# The `flame` row of scripts/perf.sh (sourced by it, not run): where a
# server's CPU goes under peers' scenario A (1,000 subscribers in one room,
# 100 msg/s of 100 B), as a flame graph per server and a table that splits
# its CPU per delivery into the kernel's send path, the rest of the kernel
# and user space. The servers are started as `peers` starts them, so
# rtbench and Nchan are profiled alike; perf samples the server process
# only (cpu-clock, DWARF call graphs) for FLAME_SECONDS in the middle of a
# measured load run, whose result file gives the CPU per delivery that the
# shares divide up.
#
# Uses perf.sh's $bin, $work, $dir and peers.sh's scenario A, connect
# rates, peer_start and peer_stop.
#
# Knobs:
#   FLAME_SERVERS=rtbench,nchan   any of peers' servers
#                                 (rtbench-base,rtbench with PEERS_BASE_BIN:
#                                 two builds, before and after, in one run)
#   FLAME_TRANSPORT=ws            ws or sse
#   FLAME_SECONDS=8               seconds sampled
#   FLAME_TAG=                    appended to the file names (e.g. before, after)
#
# Writes $dir/flame-TRANSPORT-SERVER[-TAG].svg and $dir/flame-TRANSPORT[-TAG].md.
# Needs perf (Debian linux-perf) and inferno (cargo install inferno); installs
# them when missing.

flame_tools() {
  command -v perf >/dev/null || {
    echo "perf: installing linux-perf (Debian)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null
  }
  command -v inferno-flamegraph >/dev/null || {
    echo "perf: installing inferno (cargo install)" >&2
    cargo install --locked --quiet inferno
  }
}

# flame_one SERVER: one profiled run; appends its table to $flame_md.
flame_one() {
  local s=$1 t=$flame_transport fw=$work/flame
  local base=$fw/$t-$s out=$fw/$t-$s.json svg=$dir/flame-$t-$s$flame_tag.svg
  local connect=${peers_connect[$s]} na
  na=$(peers_na "$s" "$t")
  [ -z "$na" ] || { echo "flame: $s over $t: $na" >&2; return 1; }
  local ramp=$(( (clients + connect - 1) / connect ))
  peer_start "$s" || { echo "flame: $s did not start (logs in $work/peers)" >&2; return 1; }
  # Sampled from a second into the measured window (after the ramp and 2 s
  # of warm-up) to its last 3 s, as peers runs the scenario.
  "$bin" load --target "$peer_url" "${peer_profile[@]}" --transport "$t" --server-pid "$peer_pid" \
    --clients "$clients" --rooms "$rooms" --publishers "$publishers" --rate "$rate" --size 100 \
    --connect-rate "$connect" --warmup 2s --duration "$((flame_seconds + 4))s" --quiet \
    --output "$out" >"$out.txt" 2>&1 &
  local load=$!
  sleep "$((ramp + 3))"
  perf record -q -e cpu-clock -F 997 --call-graph dwarf,16384 -p "$peer_pid" -o "$base.data" \
    -- sleep "$flame_seconds" >"$base.perf.log" 2>&1 || true
  wait "$load" || true
  peer_stop
  [ -s "$out" ] || { echo "flame: the load run against $s left no result ($out.txt)" >&2; return 1; }
  perf script -i "$base.data" 2>/dev/null | inferno-collapse-perf --all >"$base.folded"
  inferno-flamegraph --title "$s, $t: $flame_what (perf, cpu-clock)" \
    <"$base.folded" >"$svg"
  python3 scripts/perf/flame.py table "$s" "$base.folded" "$out" "$svg" >>"$flame_md"
  echo "flame: $svg"
}

flame() {
  flame_tools
  flame_transport=${FLAME_TRANSPORT:-ws}
  flame_seconds=${FLAME_SECONDS:-8}
  flame_tag=${FLAME_TAG:+-$FLAME_TAG}
  flame_md=$dir/flame-$flame_transport$flame_tag.md
  # Scenario A of peers, full size; peers' own records in $work/peers stay.
  peers_scale=1
  peers_scenario A || return
  flame_what="$clients subscribers in $rooms room(s), $rate msg/s of 100 B"
  rm -rf "$work/flame"
  mkdir -p "$work/flame" "$work/peers"
  python3 scripts/perf/flame.py header "$flame_transport" "$flame_seconds" "$flame_what" >"$flame_md"
  trap 'peer_stop' EXIT
  local s servers=${FLAME_SERVERS:-rtbench,nchan}
  for s in ${servers//,/ }; do
    flame_one "$s" || true
  done
  trap stop_server EXIT
  cat "$flame_md"
}
