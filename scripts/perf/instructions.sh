#!/usr/bin/env bash
# Instruction-count gate: the gatebench workload (server and load generator
# in one current-thread runtime over loopback, lockstep publishing) under
# Callgrind, per transport (ws, sse, long-poll) and side (server, loadgen),
# compared with baselines/instructions.json: more than +3% instructions per
# delivery fails, naming the transport, the side, the change and the
# functions that grew most. Deterministic: a 5% CPU regression shows on any
# machine, however noisy (the README's gate section has the measured spread).
#
#   scripts/perf/instructions.sh                    # measure and compare
#   scripts/perf/instructions.sh --update-baseline  # measure and make it the baseline
#   scripts/perf/instructions.sh --self-check       # also: an A/A rerun must pass and a
#                                                   # run with an injected cost must fail
#   PERF_INSTR_GATE=5%  PERF_INSTR_TRANSPORTS=ws,sse   # another gate, fewer transports
#
# Writes target/perf/instructions/ (instructions.json, the Callgrind files,
# compare.txt). Exits 0 pass, 99 regression, 2 input error (also: the
# baseline measured another workload), 4 self-check failed. Needs valgrind
# (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/perf/lib.sh

update=0 self_check=0
for a in "$@"; do
  case "$a" in
    --update-baseline) update=1 ;;
    --self-check) self_check=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "instructions: unknown argument $a (see --help)" >&2; exit 2 ;;
  esac
done
gate=${PERF_INSTR_GATE:-3%}
transports=${PERF_INSTR_TRANSPORTS:-ws,sse,long-poll}
baseline=baselines/instructions.json
out=target/perf/instructions
bin=target/perf/gatebench

command -v valgrind >/dev/null || { echo "instructions: valgrind is not installed (Debian: apt-get install valgrind)" >&2; exit 2; }
t0=$(perf_clock)
perf_build_here gatebench "$bin"
echo "instructions: built in $(( $(perf_clock) - t0 )) s"
t0=$(perf_clock)
rm -rf "$out"
"$bin" measure --out "$out" --transports "$transports"
echo "instructions: measured in $(( $(perf_clock) - t0 )) s"

if [ "$update" = 1 ]; then
  cp "$out/instructions.json" "$baseline"
  echo "instructions: $baseline updated; commit it"
  exit 0
fi
set +e
"$bin" compare "$baseline" "$out/instructions.json" --max-regression "$gate" | tee "$out/compare.txt"
code=${PIPESTATUS[0]}
set -e
echo "instructions: compare exited $code (0 pass, 99 regression, 2 input error)"
[ "$self_check" = 1 ] || exit "$code"

# The gate proves itself on the WebSocket server: the same build measured
# again must pass against this run (A/A), and the same build with
# --inject-cost-rounds set to 5% of its measured cost must fail.
t0=$(perf_clock)
rounds=$(python3 - "$out/instructions.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
e = next(e for e in r["entries"] if e["transport"] == "ws" and e["side"] == "server")
# A spend() round is about 3.5 instructions (measured by scripts/gate-truth.sh);
# 5% of the server's instructions per delivery, rounded up.
print(int(e["instructions"] / e["deliveries"] * 0.05 / 3.5) + 1)
EOF
)
"$bin" measure --out "$out/aa" --transports ws --sides server > /dev/null
"$bin" measure --out "$out/slow" --transports ws --sides server --inject-cost-rounds "$rounds" > /dev/null
aa=0 slow=0
"$bin" compare "$out/instructions.json" "$out/aa/instructions.json" --max-regression "$gate" > "$out/aa/compare.txt" || aa=$?
"$bin" compare "$out/instructions.json" "$out/slow/instructions.json" --max-regression "$gate" > "$out/slow/compare.txt" || slow=$?
grep -E '^ws ' "$out/aa/compare.txt" | sed 's/^/instructions: self-check A\/A: /'
grep -E '^ws ' "$out/slow/compare.txt" | sed "s/^/instructions: self-check +$rounds rounds: /"
echo "instructions: self-check took $(( $(perf_clock) - t0 )) s"
if [ "$aa" != 0 ] || [ "$slow" != 99 ]; then
  echo "instructions: SELF-CHECK FAILED: the A/A rerun exited $aa (want 0), the +5% cost run $slow (want 99)"
  exit 4
fi
echo "instructions: self-check passed: A/A rerun passes, +5% injected cost is caught"
exit "$code"
