#!/usr/bin/env bash
# Paired latency gate: two builds measured interleaved on this machine, now,
# and judged with `rtbench compare`'s default gates (latency.p50 +15%,
# latency.p99 +25%, deliveries_per_sec -5%, bytes, loss, errors). Builds
# BASE (default: PERF_BASE, else HEAD~1, the first parent) and the working
# tree (release), then for every round and transport runs both, in a
# balanced order: A B in even rounds, B A in odd ones, shifted by one per
# transport (A = base, B = current). On a shared VM whose speed drifts by
# 2x over hours only a comparison inside one session means anything, and
# the order matters too: the second run of a pair was measured +2.5..5%
# slower on every latency row (A/A, 2026-12); balancing cancels that.
#
#   scripts/perf-ab.sh [--base REV] [--rounds 4] [--order abba|random]
#                      [--scenario FILE] [--transports ws,sse] [--out DIR]
#   scripts/perf-ab.sh REV [ROUNDS]                 # the old form still works
#   --a-bin/--b-bin PATH      use prebuilt rtbench binaries (no builds; A/A: the same twice)
#   --b-server-args "ARGS"    extra `rtbench server` flags for side B only
#                             (e.g. "--inject-latency=335us": prove the gate catches it)
#   --b-server-args-for T="ARGS"  the same for transport T only (repeatable)
#   --no-confirm              judge the first pass alone (see "Confirmation")
#   Your own server: --target URL --profile FILE --a-cmd "CMD" --b-cmd "CMD"
#   (each CMD starts that build of your server in the foreground, listening
#   at URL; the script starts it before each run and stops it after).
#
# Confirmation: with 4 runs a side, two identical builds still separate
# completely now and then (p = 1/70 per row, and there are several rows),
# and a CI run that fails on unchanged code is a gate nobody trusts. So a
# latency or rate regression is re-measured: the transports it was found on
# run again for the same number of fresh rounds, and the gate fails only if
# the fresh rounds show a regression too. A count (loss, errors, duplicates,
# reordering) fails at once.
#
# Writes to --out (default target/perf-ab): base/ and current/ (one result
# file per transport and round of the first pass), confirm/ (the same for a
# confirmation), order.tsv (round, transport, position, side, start and end
# time, set), compare.md (a PR comment, with the confirmation's table after
# the first), junit.xml, compare.txt, compare.json, confirm.*. Exits with
# compare's code of the last pass: 0 pass, 99 regression, 2 input error; 3
# when the base cannot be built or run (callers skip the gate).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/perf/lib.sh

base=${PERF_BASE:-HEAD~1}
rounds=4
order=abba
scenario=scenarios/perf-check.toml
transports=short-poll,long-poll,sse,ws
out=target/perf-ab
confirm=1
a_bin="" b_bin="" b_server_args="" target="" profile="" a_cmd="" b_cmd=""
declare -A b_args_for=()
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --order) order=$2; shift ;;
    --scenario) scenario=$2; shift ;;
    --transports) transports=$2; shift ;;
    --out) out=$2; shift ;;
    --no-confirm) confirm=0 ;;
    --a-bin) a_bin=$2; shift ;;
    --b-bin) b_bin=$2; shift ;;
    --b-server-args) b_server_args=$2; shift ;;
    --b-server-args-for) b_args_for[${2%%=*}]=${2#*=}; shift ;;
    --target) target=$2; shift ;;
    --profile) profile=$2; shift ;;
    --a-cmd) a_cmd=$2; shift ;;
    --b-cmd) b_cmd=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "perf-ab: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[ ${#positional[@]} -ge 1 ] && base=${positional[0]}
[ ${#positional[@]} -ge 2 ] && rounds=${positional[1]}
case "$order" in abba|random) ;; *) echo "perf-ab: --order is abba or random" >&2; exit 2 ;; esac
if [ -n "$target" ] && { [ -z "$a_cmd" ] || [ -z "$b_cmd" ]; }; then
  echo "perf-ab: with --target, give --a-cmd and --b-cmd (how to start each build of the server)" >&2
  exit 2
fi

rm -rf "$out"
mkdir -p "$out/runs"
t0=$(perf_clock)
if [ -z "$b_bin" ]; then
  b_bin=$out/bin/rtbench-current
  perf_build_here rtbench "$b_bin"
fi
# Your own server: both sides use the same rtbench; the builds compared are yours.
[ -n "$target" ] && [ -z "$a_bin" ] && a_bin=$b_bin
if [ -z "$a_bin" ]; then
  a_bin=$out/bin/rtbench-base
  if ! perf_build_rev "$base" "$a_bin"; then
    echo "perf-ab: the base revision '$base' cannot be built here (no such commit, or it does not build)"
    exit 3
  fi
fi
echo "perf-ab: builds ready in $(( $(perf_clock) - t0 )) s (A = base $base, B = current)"

# wait_for_port URL: until something accepts on URL's host:port (30 s at most).
wait_for_port() {
  local hostport=${1#*://}; hostport=${hostport%%/*}
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# one SIDE ROUND TRANSPORT POSITION SET: one bench run of one build, result
# filed under SET/SIDE.
one() {
  local side=$1 r=$2 t=$3 set=$5 bin=$a_bin cmd=$a_cmd server_pid="" dir
  [ "$side" = current ] && { bin=$b_bin; cmd=$b_cmd; }
  dir=$out/runs/${set/./first}-$side-$t-r$r
  local args=(bench --scenario "$scenario" --transports "$t" --quiet --out "$dir")
  if [ -n "$target" ]; then
    args+=(--target "$target")
    [ -n "$profile" ] && args+=(--profile "$profile")
    bash -c "$cmd" >"$dir.server.log" 2>&1 &
    server_pid=$!
    wait_for_port "$target" || { echo "perf-ab: $side server did not start: $dir.server.log" >&2; kill "$server_pid" 2>/dev/null; return 3; }
  elif [ "$side" = current ]; then
    for a in $b_server_args ${b_args_for[$t]:-}; do args+=(--server-arg="$a"); done
  fi
  local start end code=0
  start=$(perf_clock)
  "$bin" "${args[@]}" >"$dir.txt" 2>&1 || code=$?
  end=$(perf_clock)
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  # 99: a scenario threshold failed; the results are still there and count.
  if [ "$code" != 0 ] && [ "$code" != 99 ]; then
    echo "perf-ab: $side run failed (exit $code): $dir.txt" >&2
    tail -5 "$dir.txt" >&2
    [ "$side" = base ] && return 3
    return 1
  fi
  cp "$dir/results/$t.json" "$out/$set/$side/$t-r$r.json"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$4" "$side" "$start" "$end" "${set/./first}" >> "$out/order.tsv"
}

# rounds SET TRANSPORTS: every round of the balanced order for TRANSPORTS
# (comma-separated), results filed under $out/SET/{base,current}.
rounds_of() {
  local set=$1 r i t first
  local -a ts pair
  IFS=, read -r -a ts <<< "$2"
  mkdir -p "$out/$set/base" "$out/$set/current"
  for r in $(seq "$rounds"); do
    for i in "${!ts[@]}"; do
      t=${ts[$i]}
      if [ "$order" = random ]; then
        first=$(( RANDOM % 2 ))
      else
        first=$(( (r + i) % 2 ))   # 1: base first
      fi
      if [ "$first" = 1 ]; then pair=(base current); else pair=(current base); fi
      echo "perf-ab: ${set/./first pass}, round $r/$rounds, $t: ${pair[0]} then ${pair[1]}"
      one "${pair[0]}" "$r" "$t" 1 "$set" || return $?
      one "${pair[1]}" "$r" "$t" 2 "$set" || return $?
    done
  done
}

# judge SET NAME: `rtbench compare` of one set, tables written as NAME.*.
judge() {
  local code junit=$out/$2.junit.xml dir=$out/$1
  [ "$2" = compare ] && junit=$out/junit.xml
  [ "$1" = . ] && dir=$out
  set +e
  "$b_bin" compare "$dir/base" "$dir/current" --markdown "$out/$2.md" --junit "$junit" \
    | tee "$out/$2.txt"
  code=${PIPESTATUS[0]}
  "$b_bin" compare "$dir/base" "$dir/current" --format json > "$out/$2.json" 2>/dev/null
  set -e
  return "$code"
}

printf 'round\ttransport\tposition\tside\tstart\tend\tset\n' > "$out/order.tsv"
t1=$(perf_clock)
rounds_of . "$transports" || exit $?
n_ts=$(tr ',' '\n' <<< "$transports" | wc -l)
echo "perf-ab: $(( rounds * 2 * n_ts )) runs took $(( $(perf_clock) - t1 )) s"
code=0
judge . compare || code=$?
# A latency or rate regression must repeat in fresh runs of the transports
# it was found on; a count (loss, errors, ...) fails at once.
if [ "$code" = 99 ] && [ "$confirm" = 1 ]; then
  again=$(python3 scripts/perf/confirm.py "$out/compare.json")
  if [ -n "$again" ]; then
    echo "perf-ab: a timing regression on $again: confirming it with $rounds fresh rounds of each"
    t1=$(perf_clock)
    rounds_of confirm "$again" || exit $?
    echo "perf-ab: confirmation took $(( $(perf_clock) - t1 )) s"
    code=0
    judge confirm confirm || code=$?
    if [ "$code" = 0 ]; then
      echo "perf-ab: not confirmed: the fresh rounds pass, so the first pass was noise"
    fi
    { echo; echo "## Confirmation (fresh rounds of $again)"; echo; cat "$out/confirm.md"; } >> "$out/compare.md"
  fi
fi
echo "perf-ab: exit $code (0 pass, 99 regression); table in $out/compare.md"
exit "$code"
