#!/usr/bin/env bash
# A/B performance check of two builds on this machine, now: builds BASE_REV
# (default: the last commit of main's baseline, HEAD~1) in a worktree and the
# working tree, runs scenarios/perf-check.toml over all four transports with
# the two builds interleaved (old, new, old, new, …), then compares them with
# compare's default gates (latency.p50 +15%, p99 +25%, …). Interleaving is
# what makes a 25% latency change visible on a shared VM whose speed drifts
# by 2x over hours. Exits with compare's code: 0 pass, 99 regression.
#
#   scripts/perf-ab.sh [BASE_REV] [ROUNDS]      # default HEAD~1, 3 rounds
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-HEAD~1}
rounds=${2:-3}
rev=$(git rev-parse --verify "$base^{commit}")
out=target/perf-ab
rm -rf "$out"
mkdir -p "$out"
wt=$(mktemp -d /tmp/rtbench-ab-XXXXXX)
trap 'git worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$wt" "$wt-target"' EXIT
git worktree add --detach -f "$wt" "$rev" >/dev/null
echo "perf-ab: building $base ($rev) and the working tree (release)"
(cd "$wt" && CARGO_TARGET_DIR="$wt-target" cargo build --release --quiet -p rtbench)
cargo build --release --quiet -p rtbench
old="$wt-target/release/rtbench"
new=target/release/rtbench
for r in $(seq "$rounds"); do
  for side in old new; do
    bin=$old; [ "$side" = new ] && bin=$new
    echo "perf-ab: round $r/$rounds, $side"
    "$bin" bench --scenario scenarios/perf-check.toml --quiet --out "$out/$side-$r" >"$out/$side-$r.txt"
    mkdir -p "$out/$side"
    for f in "$out/$side-$r"/results/*.json; do cp "$f" "$out/$side/$(basename "$f" .json)-r$r.json"; done
  done
done
set +e
"$new" compare "$out/old" "$out/new" --markdown "$out/compare.md"
code=$?
set -e
echo "perf-ab: compare exited $code (0 pass, 99 regression); table in $out/compare.md"
exit $code
