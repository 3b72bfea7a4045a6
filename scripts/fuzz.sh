#!/usr/bin/env bash
# Fuzz every parser rtbench wrote itself for a bounded time (not in CI):
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET]
# Targets: marker, sse, json-pointer, profile, token, room-name, cursor.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --quiet --example fuzz -- "${1:-60}" ${2:+"$2"}
