#!/usr/bin/env bash
# Stored-baseline check: compares results with the committed baselines/ci/,
# gating only what does not drift with the machine's speed: bytes per
# delivery and requests per delivery (+3%), and loss, duplicates, reordering
# and errors (no increase). Latency and rates are not gated here: the
# baseline comes from another session, and on a shared VM the same
# code's p50 moves by 2x between sessions and hours. Latency is judged by
# the paired gate (scripts/perf-ab.sh: both builds, interleaved, one
# session); CPU cost by the instruction gate (scripts/perf/instructions.sh).
#
#   scripts/perf-check.sh                      # run scenarios/perf-check.toml (--repeat 3), check
#   scripts/perf-check.sh --results DIR        # check result files made elsewhere
#                                              # (.ci/run: the current side of the paired run)
#   scripts/perf-check.sh --update-baseline    # run, and make the results the new baseline
#   --scenario FILE --baseline DIR             # another workload and its own baseline
#   --target URL --profile FILE                # your own server (see the README's gate section)
#   PERF_SERVER_ARGS="--inject-cost=2us"       # flags for the rtbench servers bench starts
#   PERF_GATES="bytes_per_delivery=+1%"        # more or other gates (METRIC=off removes one)
#
# Writes target/perf/compare.md (a PR comment), target/perf/junit.xml and,
# when it runs, target/perf/run/. Exits with compare's code: 0 pass,
# 99 regression, 2 input error.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/perf/lib.sh

update=0 results="" scenario=scenarios/perf-check.toml baseline=baselines/ci target="" profile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --update-baseline) update=1 ;;
    --results) results=$2; shift ;;
    --scenario) scenario=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    --target) target=$2; shift ;;
    --profile) profile=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "perf-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

bin=target/perf/rtbench
perf_build_here rtbench "$bin"
mkdir -p target/perf
if [ -z "$results" ]; then
  out=target/perf/run
  rm -rf "$out"
  extra=()
  if [ -n "${PERF_SERVER_ARGS:-}" ]; then
    read -r -a server_args <<< "$PERF_SERVER_ARGS"
    for a in "${server_args[@]}"; do extra+=(--server-arg="$a"); done
  fi
  [ -n "$target" ] && extra+=(--target "$target")
  [ -n "$profile" ] && extra+=(--profile "$profile")
  start=$(perf_clock)
  code=0
  "$bin" bench --scenario "$scenario" --repeat 3 --quiet --out "$out" ${extra[@]+"${extra[@]}"} \
    > target/perf/bench.txt || code=$?
  echo "perf-check: bench took $(( $(perf_clock) - start )) s"
  cat target/perf/bench.txt
  # 99: a scenario threshold failed; its results still count here.
  [ "$code" = 0 ] || [ "$code" = 99 ] || exit "$code"
  results=$out/results
fi

if [ "$update" = 1 ]; then
  rm -rf "$baseline"
  mkdir -p "$baseline"
  cp "$results"/*.json "$baseline"/
  echo "perf-check: $baseline/ updated from $results; commit it"
  exit 0
fi

# What does not drift between sessions; the rest is off.
gates=(latency.p50=off latency.p99=off deliveries_per_sec=off
       bytes_per_delivery=+3% requests_per_delivery=+3%
       loss=+0 duplicate=+0 reordered=+0 errors=+0)
for g in ${PERF_GATES:-}; do gates+=("$g"); done
args=()
for g in "${gates[@]}"; do args+=(--max-regression "$g"); done
set +e
"$bin" compare "$baseline" "$results" "${args[@]}" \
  --markdown target/perf/compare.md --junit target/perf/junit.xml
code=$?
set -e
echo "perf-check: compare exited $code (0 pass, 99 regression, 2 input error)"
exit $code
