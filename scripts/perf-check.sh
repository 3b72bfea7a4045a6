#!/usr/bin/env bash
# CI performance check: runs scenarios/perf-check.toml over all four
# transports three times each (release build, fresh server per run), compares
# with the committed baseline in baselines/ci/ and writes
#   target/perf/compare.md   (paste as a PR comment)
#   target/perf/junit.xml    (one test case per gate)
#   target/perf/run/         (this run's result files and HTML report)
# Exits with compare's code: 0 pass, 99 regression, 2 input error.
#
#   scripts/perf-check.sh                    # check
#   scripts/perf-check.sh --update-baseline  # run and make the results the new baseline
#   PERF_SERVER_ARGS="--inject-latency 2ms" scripts/perf-check.sh   # prove the gate catches a regression
#   PERF_GATES="latency.p50=+15% latency.p99=+25%" scripts/perf-check.sh  # compare's tighter defaults
#
# Latency gates are very wide here: the baseline was measured on another
# machine or day, and on these shared 2-core VMs the same code's p50 moves
# by 2x between sessions and hours (2026-11-29: WebSocket p50 1.3 ms in the
# morning, 2.1 ms at noon, 3-4 ms an hour later; interleaved A/B runs of the
# old and new builds at each of those times showed no difference). So this
# gate catches only gross slowdowns (4x) and any change in bytes, rates or
# loss, which stay strict. To judge a latency change, run
# scripts/perf-ab.sh BASE_REV: both builds, interleaved, in one session,
# with compare's default gates.
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
for a in "$@"; do
  case "$a" in
    --update-baseline) update=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "perf-check: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done

cargo build --release --quiet -p rtbench
bin=target/release/rtbench
out=target/perf/run
rm -rf "$out"
mkdir -p target/perf
server_args=()
if [ -n "${PERF_SERVER_ARGS:-}" ]; then
  read -r -a server_args <<< "$PERF_SERVER_ARGS"
fi
extra=()
for a in "${server_args[@]}"; do extra+=(--server-arg="$a"); done
start=$(date +%s)
"$bin" bench --scenario scenarios/perf-check.toml --repeat 3 --quiet --out "$out" "${extra[@]}" \
  > target/perf/bench.txt
echo "perf-check: bench took $(( $(date +%s) - start )) s"
cat target/perf/bench.txt

if [ "$update" = 1 ]; then
  rm -rf baselines/ci
  mkdir -p baselines/ci
  cp "$out"/results/*.json baselines/ci/
  echo "perf-check: baselines/ci/ updated from this run; commit it"
  exit 0
fi

gates=()
for g in ${PERF_GATES:-latency.p50=+300% latency.p99=+300%}; do gates+=(--max-regression "$g"); done
set +e
"$bin" compare baselines/ci "$out/results" "${gates[@]}" \
  --markdown target/perf/compare.md --junit target/perf/junit.xml
code=$?
set -e
echo "perf-check: compare exited $code (0 pass, 99 regression, 2 input error)"
exit $code
