#!/usr/bin/env bash
# How often the performance gates are wrong, measured: N unchanged (A/A)
# comparisons of the instruction gate and of the paired latency gate,
# counting false alarms, and deliberately slowed builds, counting catches:
# a busy loop per delivery (`rtbench server --inject-cost-rounds`) sized to
# 5%, 10% and 25% of the measured per-delivery cost (instructions for the
# instruction gate, server CPU time for the latency gate), and
# `--inject-latency` of 25% of each transport's p50. Also the order bias of
# the paired runs: the second run of a pair against the first (what a fixed
# A-then-B order adds), and B against A with the balanced order.
#
#   scripts/gate-truth.sh N                       # N A/A runs of each gate (the issue asks for 10)
#   GATE_TRUTH_SKIP=paired scripts/gate-truth.sh 5    # only the instruction gate (or: instructions)
#   GATE_TRUTH_ROUNDS=4                           # rounds of each paired run
#
# Writes bench/runs/<date>-<host>/gate-truth.jsonl (one line per gate run)
# and gate-truth.md (the README's table); work files in target/gate-truth/.
# Takes about N x 11 minutes plus 40 on a small machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/perf/lib.sh

n=${1:?usage: scripts/gate-truth.sh N}
skip=${GATE_TRUTH_SKIP:-}
rounds=${GATE_TRUTH_ROUNDS:-4}
host=$(hostname -s 2>/dev/null || echo host)
rec_dir=bench/runs/$(date -u +%Y-%m-%d)-$host
record=$rec_dir/gate-truth.jsonl
work=target/gate-truth
py="python3 scripts/perf/gate_truth.py"
mkdir -p "$rec_dir" "$work"
rm -f "$record"
t_all=$(perf_clock)

bin=$work/rtbench gb=$work/gatebench
perf_build_here rtbench "$bin"
perf_build_here gatebench "$gb"

if [ "$skip" != instructions ]; then
  echo "gate-truth: instruction gate, $n A/A reruns"
  "$gb" measure --out "$work/instr/0" > /dev/null
  first=$work/instr/0/instructions.json
  for i in $(seq "$n"); do
    t0=$(perf_clock)
    code=0
    "$gb" measure --out "$work/instr/$i" > /dev/null
    "$gb" compare "$first" "$work/instr/$i/instructions.json" > "$work/instr/$i/compare.txt" || code=$?
    $py instr "$record" aa - "$code" "$work/instr/$i/instructions.json" "$first"
    echo "gate-truth: instructions A/A $i/$n: exit $code ($(( $(perf_clock) - t0 )) s)"
  done
  # Instructions per spend() round, from a run with a known count.
  "$gb" measure --out "$work/instr/cal" --transports ws --sides server --inject-cost-rounds 1000 > /dev/null
  base_ws=$($py cost "$first" ws server)
  cal_ws=$($py cost "$work/instr/cal/instructions.json" ws server)
  per_round=$(python3 -c "print(max(($cal_ws - $base_ws) / 1000, 0.1))")
  echo "gate-truth: one spend() round is $per_round instructions"
  for t in ws sse long-poll; do
    cost=$($py cost "$first" "$t" server)
    for level in 5 10 25; do
      r=$(python3 -c "import math; print(math.ceil($cost * $level / 100 / $per_round))")
      code=0
      "$gb" measure --out "$work/instr/$t-$level" --transports "$t" --sides server --inject-cost-rounds "$r" > /dev/null
      "$gb" compare "$first" "$work/instr/$t-$level/instructions.json" > "$work/instr/$t-$level/compare.txt" || code=$?
      $py instr "$record" cost "+$level%" "$code" "$work/instr/$t-$level/instructions.json" "$first"
      echo "gate-truth: instructions $t server +$level% ($r rounds): exit $code"
    done
  done
fi

# paired_fault NAME KIND LEVEL ARGS…: one paired run with side B slowed by
# ARGS (perf-ab.sh flags), recorded with whether the gate caught it.
paired_fault() {
  local name=$1 kind=$2 level=$3 code=0
  shift 3
  scripts/perf-ab.sh --a-bin "$bin" --b-bin "$bin" --rounds "$rounds" --out "$work/ab/$name" "$@" \
    > "$work/ab-$name.log" 2>&1 || code=$?
  "$bin" compare "$work/ab/$name/base" "$work/ab/$name/current" --format json > "$work/ab/$name/compare.json" || true
  $py paired "$record" "$kind" "$level" "$code" "$work/ab/$name" "$work/ab/$name/compare.json"
  echo "gate-truth: paired, $kind $level: exit $code"
}

if [ "$skip" != paired ]; then
  echo "gate-truth: paired latency gate, $n A/A runs ($rounds rounds each)"
  for i in $(seq "$n"); do
    t0=$(perf_clock)
    code=0
    scripts/perf-ab.sh --a-bin "$bin" --b-bin "$bin" --rounds "$rounds" --out "$work/ab/aa-$i" > "$work/ab-aa-$i.log" 2>&1 || code=$?
    [ "$code" = 0 ] || [ "$code" = 99 ] || { echo "gate-truth: perf-ab failed ($code): $work/ab-aa-$i.log"; tail "$work/ab-aa-$i.log"; exit 1; }
    "$bin" compare "$work/ab/aa-$i/base" "$work/ab/aa-$i/current" --format json > "$work/ab/aa-$i/compare.json" || true
    $py paired "$record" aa - "$code" "$work/ab/aa-$i" "$work/ab/aa-$i/compare.json"
    echo "gate-truth: paired A/A $i/$n: exit $code ($(( $(perf_clock) - t0 )) s)"
  done
  # Per transport: server CPU µs per delivery and p50, from the A/A runs.
  per_round_s=$(python3 -c "print(1e-3 / $("$gb" rounds-for 1ms))")
  declare -A cpu_us p50_us
  while read -r t v; do cpu_us[$t]=$v; done < <($py cpu "$work/ab/aa-1")
  while read -r t v; do p50_us[$t]=$v; done < <($py p50 "$work/ab/aa-1")
  for level in 5 10 25; do
    args=()
    for t in "${!cpu_us[@]}"; do
      r=$(python3 -c "import math; print(math.ceil(${cpu_us[$t]} * 1e-6 * $level / 100 / $per_round_s))")
      args+=(--b-server-args-for "$t=--inject-cost-rounds=$r")
    done
    paired_fault "cost-$level" cost "+$level% CPU" "${args[@]}"
  done
  args=()
  for t in "${!p50_us[@]}"; do
    args+=(--b-server-args-for "$t=--inject-latency=$(( ${p50_us[$t]%.*} / 4 ))us")
  done
  paired_fault latency-25 latency "+25% of p50" "${args[@]}"
fi

$py table "$record" > "$rec_dir/gate-truth.md"
cat "$rec_dir/gate-truth.md"
echo "gate-truth: done in $(( $(perf_clock) - t_all )) s; $record and $rec_dir/gate-truth.md"
