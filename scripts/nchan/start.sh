#!/bin/sh
# Start a private Nchan (nginx + libnginx-mod-nchan) on 127.0.0.1:PORT for rtbench.
# usage: scripts/nchan/start.sh [PORT]      (default 18080)
# Prints http://127.0.0.1:PORT once it answers. Stop it with scripts/nchan/stop.sh [PORT].
# Installs nginx and the nchan module with apt-get when they are missing (needs root).
# Env: NCHAN_PREFIX  prefix dir (default ${TMPDIR:-/tmp}/rtbench-nchan-PORT)
set -eu

port=${1:-18080}
case $port in
  ''|*[!0-9]*) echo "start.sh: port must be a number, got '$port'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
template=$here/nginx.conf.template
prefix=${NCHAN_PREFIX:-${TMPDIR:-/tmp}/rtbench-nchan-$port}

find_module() {
  for m in /usr/lib/nginx/modules/ngx_nchan_module.so \
           /usr/share/nginx/modules/ngx_nchan_module.so \
           /usr/lib64/nginx/modules/ngx_nchan_module.so; do
    if [ -f "$m" ]; then echo "$m"; return 0; fi
  done
  return 1
}

# 1. packages
if ! command -v nginx >/dev/null 2>&1 || ! find_module >/dev/null || ! command -v curl >/dev/null 2>&1; then
  echo "start.sh: installing nginx-light libnginx-mod-nchan curl" >&2
  # Keep the package scripts from starting the system nginx service on :80.
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q nginx-light libnginx-mod-nchan curl >&2; then
    apt-get update -q >&2
    apt-get install -y -q nginx-light libnginx-mod-nchan curl >&2
  fi
  if [ -n "$added_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
module=$(find_module) || { echo "start.sh: ngx_nchan_module.so not found after install" >&2; exit 1; }

# 2. the port must be free
if [ -f "$prefix/nginx.pid" ] && kill -0 "$(cat "$prefix/nginx.pid")" 2>/dev/null; then
  echo "start.sh: already running (pid $(cat "$prefix/nginx.pid")); run stop.sh $port first" >&2
  exit 1
fi
rc=0
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/" || rc=$?
if [ "$rc" -ne 7 ]; then
  echo "start.sh: something already listens on 127.0.0.1:$port" >&2
  exit 1
fi

# 3. config in a private prefix dir
mkdir -p "$prefix/logs" "$prefix/tmp"
sed -e "s#@PORT@#$port#g" -e "s#@PREFIX@#$prefix#g" -e "s#@MODULE@#$module#g" \
  "$template" > "$prefix/nginx.conf"
# -e: nginx >= 1.19.5 would otherwise open its built-in error log path first
nginx -e "$prefix/logs/error.log" -t -q -c "$prefix/nginx.conf" -p "$prefix" >"$prefix/logs/configtest.log" 2>&1 || {
  cat "$prefix/logs/configtest.log" >&2; exit 1; }

# 4. start (daemon on: returns once the master runs) and wait until it answers
nginx -e "$prefix/logs/error.log" -c "$prefix/nginx.conf" -p "$prefix" >&2
i=0
until curl -fs -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"; do
  i=$((i + 1))
  if [ "$i" -ge 100 ]; then
    echo "start.sh: nginx did not answer on 127.0.0.1:$port; see $prefix/logs/error.log" >&2
    tail -n 20 "$prefix/logs/error.log" >&2 || true
    exit 1
  fi
  sleep 0.1
done
echo "http://127.0.0.1:$port"
