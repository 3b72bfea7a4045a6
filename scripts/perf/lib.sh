# Shared by the performance scripts (sourced, not run).
#
# Every release build of the gates goes to one target directory with v0
# symbol names: the instruction gate needs them (Callgrind then sees the
# generic arguments that say whose task a poll is), and the base and current
# builds of the paired gate share the compiled dependencies there, so the
# base costs only the workspace's own crates.

PERF_TARGET_DIR=${PERF_TARGET_DIR:-$PWD/target/perf-build}
PERF_RUSTFLAGS="${RUSTFLAGS:-} -C symbol-mangling-version=v0"

perf_cargo() {
  RUSTFLAGS="$PERF_RUSTFLAGS" CARGO_TARGET_DIR="$PERF_TARGET_DIR" cargo "$@"
}

# perf_build_here BIN DEST: release build of the working tree's rtbench and
# gatebench, BIN of them copied to DEST (so a later build of another
# revision cannot replace it). Always both, in one cargo call: cargo
# unifies dependency features over the packages it builds, and building
# one alone would compile tokio and all above it a second time.
perf_build_here() {
  perf_cargo build --release --quiet -p rtbench -p rtbench-gatebench
  mkdir -p "$(dirname "$2")"
  cp "$PERF_TARGET_DIR/release/$1" "$2"
}

# perf_build_rev REV DEST: release build of rtbench at git revision REV,
# copied to DEST. Returns 3 (not 1) when REV does not exist or does not
# build, so callers can tell "no usable base" from their own failures.
perf_build_rev() {
  local rev=$1 dest=$2 src
  git rev-parse --verify --quiet "$rev^{commit}" >/dev/null || return 3
  src=$PWD/target/perf-src/$(git rev-parse --short=12 "$rev^{commit}")
  rm -rf "$src"
  mkdir -p "$src"
  git archive "$rev" | tar -x -C "$src" || return 3
  # A version of its own for each base revision's crates: cargo names a
  # workspace crate's artifacts by package and version, not by its path, so
  # two trees would overwrite each other in the shared target directory, and
  # one tree's artifacts pass as fresh for the other (measured: a base built
  # after another base got the first one's binary). Registry dependencies
  # stay shared.
  local tag
  tag=base-$(git rev-parse --short=12 "$rev^{commit}")
  sed -i "s/^version = \"\([0-9][0-9.]*\)\"\$/version = \"\1-$tag\"/" "$src"/Cargo.toml "$src"/*/Cargo.toml
  (cd "$src" && perf_cargo build --release --quiet -p rtbench --bin rtbench) || return 3
  mkdir -p "$(dirname "$dest")"
  cp "$PERF_TARGET_DIR/release/rtbench" "$dest"
}

# perf_clock: seconds since the epoch (for "took N s" lines).
perf_clock() { date +%s; }
