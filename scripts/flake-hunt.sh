#!/usr/bin/env bash
# Runs the whole test suite (scripts/test.sh) N times while a CPU hog keeps
# one core busy, and lists every test that failed even once: CI machines are
# busy machines, and a test that fails only under load is a bug.
#
#   scripts/flake-hunt.sh [N] [--record FILE.md] [-- extra scripts/test.sh args]
#
# N defaults to 5. The hog is `stress-ng --cpu 1` when installed, else a shell
# busy loop; it is stopped on exit, however the script ends. Logs of each run
# land in target/flake-hunt/run-K.log. With --record, the table is appended
# to FILE.md with the date, the commit and the machine's core count.
# Exit status: 0 when no test failed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
record=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --record) record="$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    ''|*[!0-9]*) echo "flake-hunt: unknown argument '$1' (usage: $0 [N] [--record FILE.md] [-- test args])" >&2; exit 2 ;;
    *) runs="$1"; shift ;;
  esac
done
[ "$runs" -ge 1 ] || { echo "flake-hunt: N must be at least 1" >&2; exit 2; }

logs=target/flake-hunt
# The commit under test, taken now: later commits during the runs are not it.
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench' || echo "+changes")
rm -rf "$logs" && mkdir -p "$logs"

# Build everything first, so the runs measure tests under load, not a build.
echo "flake-hunt: building the tests"
cargo nextest run --workspace --no-run >"$logs/build.log" 2>&1 || {
  echo "flake-hunt: the build failed; see $logs/build.log" >&2
  exit 1
}

hog_pid=""
stop_hog() { [ -z "$hog_pid" ] || kill "$hog_pid" 2>/dev/null || true; }
trap stop_hog EXIT INT TERM
if command -v stress-ng >/dev/null 2>&1; then
  stress-ng --cpu 1 --quiet >/dev/null 2>&1 &
  hog="stress-ng --cpu 1"
else
  bash -c 'while :; do :; done' &
  hog="a shell busy loop"
fi
hog_pid=$!
echo "flake-hunt: $runs runs of scripts/test.sh with $hog on one core"

for k in $(seq 1 "$runs"); do
  start=$(date +%s)
  if scripts/test.sh "${extra[@]}" >"$logs/run-$k.log" 2>&1; then status=passed; else status=failed; fi
  # nextest prints each failure as it happens and again in its summary.
  grep -E '^\s+(FAIL|TIMEOUT|SIG[A-Z]+) \[' "$logs/run-$k.log" \
    | sed -E 's/^\s+[A-Z]+ \[[^]]*\] (\([^)]*\) )?//' | sort -u >"$logs/failed-$k.txt" || true
  echo "flake-hunt: run $k of $runs $status in $(( $(date +%s) - start )) s, $(wc -l <"$logs/failed-$k.txt") failed test(s)"
done
stop_hog

table="$logs/table.md"
{
  echo "| test | failed in runs |"
  echo "|---|---|"
  cat "$logs"/failed-*.txt | sort | uniq -c | sort -rn \
    | awk -v n="$runs" '{c=$1; $1=""; sub(/^ /, ""); printf "| %s | %d of %d |\n", $0, c, n}'
} >"$table"
failures=$(cat "$logs"/failed-*.txt | wc -l)
if [ "$failures" -eq 0 ]; then
  echo "flake-hunt: no test failed in $runs runs"
else
  cat "$table"
fi

if [ -n "$record" ]; then
  {
    echo
    echo "## $(date -u +%Y-%m-%dT%H:%MZ) · $commit · $(nproc) cores · $runs runs with $hog"
    echo
    if [ "$failures" -eq 0 ]; then echo "No test failed."; else cat "$table"; fi
  } >>"$record"
  echo "flake-hunt: recorded in $record"
fi
[ "$failures" -eq 0 ]
