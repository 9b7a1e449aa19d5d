#!/usr/bin/env bash
# Peer reference for scripts/bench-load: Pageshare's share-panel iframe page served by an
# atlassian-connect-express app (ace-app/: Connect JWT with computed qsh verified by
# addon.authenticate(), the tenant read from ACE's Postgres store, an HTML shell of the same
# size), under the same wrk load as bench-load's scenarios.
#
#   benches/reference/ace-bench.sh PORT DURATION_SECONDS
#
# Installs ace-app/ with `npm ci` when needed (wrk with apt-get when missing), recreates the
# ace_bench database, starts the app (NODE_ENV=production, one Node process) on 127.0.0.1:PORT,
# seeds one tenant into ACE's table, checks that the signed URL answers 200 and that tampered
# tokens are refused, runs `wrk -t2 -c64 -dDURATIONs --latency` on the URL, prints one line
#
#   rps p50_ms p99_ms non2xx
#
# on stdout (details on stderr: requests, socket errors, database round trips per request, peak
# RSS) and stops the app. A 3 s warm-up comes first, unmeasured (ACE_BENCH_WARMUP=SECONDS to
# change it, 0 for none). DURATION_SECONDS 0: print the URL instead and keep the app running
# until the script is killed (Ctrl-C), to point wrk or a browser at it by hand.
set -euo pipefail

usage() { echo "usage: $0 PORT DURATION_SECONDS   (DURATION_SECONDS 0: serve and print the URL)" >&2; exit 2; }
[ $# -eq 2 ] || usage
port=$1
duration=$2
[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || usage
[[ $duration =~ ^[0-9]+$ ]] || usage
connections=64
warmup=${ACE_BENCH_WARMUP:-3} # seconds of unmeasured load first (0: none, a cold start)
[[ $warmup =~ ^[0-9]+$ ]] || usage

here=$(cd "$(dirname "$0")" && pwd)
app_dir="$here/ace-app"
root=$(cd "$here/../.." && pwd)

# A Postgres on 127.0.0.1:5432, or a throwaway cluster (exports DATABASE_URL). When it starts
# one it leaves an EXIT trap that stops it: keep that and run it from ours.
source "$root/scripts/ensure-postgres.sh"
pg_cleanup=""
if [ -n "$(trap -p EXIT)" ]; then
  eval "set -- $(trap -p EXIT)"
  pg_cleanup=$3
fi
admin_url="${DATABASE_URL%/*}/postgres"
db_url="${DATABASE_URL%/*}/ace_bench"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if answers "$port"; then
  echo "ace-bench: something already listens on 127.0.0.1:$port" >&2
  exit 1
fi

if [ "$duration" -gt 0 ] && ! command -v wrk >/dev/null; then
  # Waits for the dpkg lock when another install is running.
  apt-get -o DPkg::Lock::Timeout=300 update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk >/dev/null
fi
if [ ! -f "$app_dir/node_modules/.package-lock.json" ] \
  || [ "$app_dir/package-lock.json" -nt "$app_dir/node_modules/.package-lock.json" ]; then
  (cd "$app_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

work=$(mktemp -d /tmp/ace-bench.XXXXXX)
app_pid=""
cleanup() {
  if [ -n "$app_pid" ]; then
    kill "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  eval "$pg_cleanup"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

psql "$admin_url" -qc "DROP DATABASE IF EXISTS ace_bench WITH (FORCE)" >/dev/null
psql "$admin_url" -qc "CREATE DATABASE ace_bench" >/dev/null

NODE_ENV=production PORT="$port" DB_URL="$db_url" node "$app_dir/app.js" >"$work/app.log" 2>&1 &
app_pid=$!
for _ in $(seq 300); do
  answers "$port" && break
  kill -0 "$app_pid" 2>/dev/null || break
  sleep 0.1
done
if ! answers "$port"; then
  echo "ace-bench: the app did not start; its log:" >&2
  cat "$work/app.log" >&2
  exit 1
fi

base="http://127.0.0.1:$port"
url=$(cd "$app_dir" && DB_URL="$db_url" node seed.js "$base" --ttl 3600)

status() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
ok=$(status "$url")
bad_sig=$(status "$(cd "$app_dir" && DB_URL="$db_url" node seed.js "$base" --tamper signature)")
bad_qsh=$(status "$(cd "$app_dir" && DB_URL="$db_url" node seed.js "$base" --tamper query)")
echo "ace-bench: signed URL $ok, tampered signature $bad_sig, tampered query (qsh) $bad_qsh" >&2
if [ "$ok" != 200 ] || [[ $bad_sig != 4?? ]] || [ "$bad_qsh" != 401 ]; then
  echo "ace-bench: authentication does not behave; the app's log:" >&2
  cat "$work/app.log" >&2
  exit 1
fi

if [ "$duration" -eq 0 ]; then
  echo "$url"
  echo "ace-bench: serving on $base (pid $app_pid) until this script is killed" >&2
  wait "$app_pid"
  exit 0
fi

# Database round trips, as bench-load counts them: committed transactions of the database (each
# statement outside an explicit transaction commits once). A busy backend publishes its counts at
# most once a second and may then hold them for up to 10 s, so the count after the run is read
# once the app has stopped: its connections close and their backends flush on exit.
commits() {
  psql "$db_url" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'ace_bench'"
}

# Warm-up, not measured: V8 compiles the hot paths and the Sequelize pool opens its connections
# (both lazily; a cold run shows it in p99). Then wait out the 10 s for which idle backends may
# hold the warm-up's counts, so that none lands in the measured run.
if [ "$warmup" -gt 0 ]; then
  wrk -t2 -c"$connections" -d"${warmup}s" "$url" >/dev/null
  sleep 11
else
  sleep 1.2
fi
log_lines_before=$(wc -l <"$work/app.log")
before=$(commits)
wrk -t2 -c"$connections" -d"${duration}s" --latency "$url" >"$work/wrk.txt"
if ! kill -0 "$app_pid" 2>/dev/null; then
  echo "ace-bench: the app died during the run; its log:" >&2
  cat "$work/app.log" >&2
  exit 1
fi
rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$app_pid/status")
kill "$app_pid"
wait "$app_pid" 2>/dev/null || true
app_pid=""
logged=$(($(wc -l <"$work/app.log") - log_lines_before))
sleep 1.2
after=$(commits)

awk -v before="$before" -v after="$after" -v logged="$logged" -v rss="$rss" '
  function ms(v) {
    if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
    if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
    if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
    return v + 0
  }
  $1 == "50%" { p50 = ms($2) }
  $1 == "99%" { p99 = ms($2) }
  / requests in / { requests = $1 }
  /^Requests\/sec:/ { rps = $2 }
  /Non-2xx or 3xx responses:/ { non2xx = $NF }
  /Socket errors:/ { sock = $0; sub(/^ */, "", sock) }
  END {
    if (rps == "" || p99 == "") { print "ace-bench: could not read the wrk output" > "/dev/stderr"; exit 1 }
    printf "ace-bench: %d requests in the run, %s, %.2f database round trips per request, %d app log lines, peak RSS of the app %s MB\n", \
      requests, (sock == "" ? "no socket errors" : sock), (after - before) / (requests > 0 ? requests : 1), logged, rss > "/dev/stderr"
    printf "%.0f %.2f %.2f %d\n", rps, p50, p99, non2xx + 0
  }' "$work/wrk.txt"
