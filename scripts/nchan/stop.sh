#!/bin/sh
# Stop the Nchan started by scripts/nchan/start.sh [PORT] (default 18080).
# Env: NCHAN_PREFIX  the same prefix dir start.sh used.
set -eu

port=${1:-18080}
prefix=${NCHAN_PREFIX:-${TMPDIR:-/tmp}/rtbench-nchan-$port}
pidfile=$prefix/nginx.pid

# alive: exists and is not a zombie waiting to be reaped
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  state=$(sed -n 's/^[0-9]* (.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ "$state" != Z ]
}

if [ ! -f "$pidfile" ]; then
  echo "stop.sh: not running ($pidfile missing)" >&2
  exit 0
fi
pid=$(cat "$pidfile")
if ! alive "$pid"; then
  echo "stop.sh: not running (stale pid $pid)" >&2
  rm -f "$pidfile"
  exit 0
fi
kill -TERM "$pid"   # fast shutdown of the master and its worker
i=0
while alive "$pid"; do
  i=$((i + 1))
  if [ "$i" -ge 100 ]; then
    echo "stop.sh: pid $pid still alive after 10 s; sending KILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.1
done
rm -f "$pidfile"
echo "stop.sh: stopped nginx (pid $pid); logs in $prefix/logs" >&2
