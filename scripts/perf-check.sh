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
# Latency gates are much wider here than compare's defaults: the baseline was
# measured on another machine or day, and on these shared 2-core VMs the same
# code's p50 (~1.4-2 ms) drifts between sessions: +12% to +21% one day, +38%
# to +60% another (2026-11-29, while an interleaved A/B of the two builds in
# one session showed no difference). So the committed baseline can only
# catch gross slowdowns (2x and more: --inject-latency 2ms, +73% to +97% on
# p50, still passes); byte, rate and loss gates stay strict. For a 25%
# latency change, compare two runs made back to back (A/B in one session),
# where compare's default gates apply.
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
for g in ${PERF_GATES:-latency.p50=+100% latency.p99=+150%}; do gates+=(--max-regression "$g"); done
set +e
"$bin" compare baselines/ci "$out/results" "${gates[@]}" \
  --markdown target/perf/compare.md --junit target/perf/junit.xml
code=$?
set -e
echo "perf-check: compare exited $code (0 pass, 99 regression, 2 input error)"
exit $code
