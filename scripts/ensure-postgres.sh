#!/usr/bin/env bash
# Make sure a Postgres answers for the tests. Source it: it exports DATABASE_URL.
# Uses the server on 127.0.0.1:5432 when one answers; otherwise installs Postgres if needed and
# starts a throwaway cluster (stopped when the calling shell exits).

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if answers 5432; then
  export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/pageshare}"
  return 0 2>/dev/null || exit 0
fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] && ! command -v initdb >/dev/null; then
  echo "ensure-postgres: installing Postgres from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
[ -n "$bindir" ] && PATH="$bindir:$PATH"

port=55432
pgdir=$(mktemp -d /tmp/pageshare-pg.XXXXXX)
run_as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown -R postgres "$pgdir"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
echo "ensure-postgres: starting a throwaway cluster in $pgdir on port $port" >&2
run_as_pg initdb -D "$pgdir/data" -U postgres --auth=trust >/dev/null
run_as_pg pg_ctl -D "$pgdir/data" -l "$pgdir/log" -w \
  -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
trap 'run_as_pg pg_ctl -D "$pgdir/data" -m fast stop >/dev/null 2>&1; rm -rf "$pgdir"' EXIT
export DATABASE_URL="postgres://postgres@127.0.0.1:$port/pageshare"
