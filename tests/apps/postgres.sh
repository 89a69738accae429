#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the integration tests.
#   postgres.sh start DIR PORT   initdb into DIR/data (unless there already), start it listening
#                                on 127.0.0.1:PORT only (no Unix socket), trust auth, fsync off,
#                                wait until it accepts connections and print its URL on stdout:
#                                postgres://postgres@127.0.0.1:PORT/postgres
#   postgres.sh stop DIR         stop it (fast shutdown); nothing to do when it is not running.
# Its log is DIR/postgres.log. PostgreSQL refuses to run as root: as root the cluster runs as
# the `postgres` user (`nobody` where there is none) through runuser, DIR is chowned to it, and
# any directory above DIR that it cannot enter gets search permission (o+x) for others.
# The binaries are looked for on PATH (initdb, pg_ctl), then in /usr/lib/postgresql/*/bin
# (Debian's, not on PATH), newest first. Exits 3 when PostgreSQL is not installed, 2 on wrong
# arguments, 1 when the cluster does not start.
set -euo pipefail

usage() { echo "usage: postgres.sh start DIR PORT | postgres.sh stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2

bindir=
if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
  bindir=$(dirname "$(command -v pg_ctl)")
else
  for d in $(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then bindir=$d; break; fi
  done
fi
if [ -z "$bindir" ]; then
  echo "postgres.sh: PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin; apt-get install postgresql)" >&2
  exit 3
fi

# as_pg CMD...: CMD as the cluster's owner (the postgres user when we are root).
pguser=
if [ "$(id -u)" -eq 0 ]; then
  if id -u postgres >/dev/null 2>&1; then pguser=postgres; else pguser=nobody; fi
  runuser=$(command -v runuser || echo /usr/sbin/runuser)
  [ -x "$runuser" ] || { echo "postgres.sh: as root it needs runuser (apt-get install util-linux)" >&2; exit 3; }
  as_pg() { (cd / && "$runuser" -u "$pguser" -- "$@"); }
else
  as_pg() { (cd / && "$@"); }
fi

data=$dir/data
case $cmd in
  start)
    [ $# -eq 3 ] || usage
    port=$3
    case $port in '' | *[!0-9]*) usage ;; esac
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd) data=$dir/data
    if [ -n "$pguser" ]; then
      chown "$pguser" "$dir"
      # Let the cluster's owner reach DIR: search permission on the directories above it.
      d=$dir
      while [ "$d" != / ]; do
        d=$(dirname "$d")
        if ! "$runuser" -u "$pguser" -- test -x "$d"; then chmod o+x "$d"; echo "postgres.sh: chmod o+x $d (for $pguser)" >&2; fi
      done
    fi
    if [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      echo "postgres.sh: a cluster is already running in $data (postgres.sh stop $dir first)" >&2; exit 1
    fi
    if [ ! -s "$data/PG_VERSION" ]; then
      as_pg "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 \
        || { echo "postgres.sh: initdb failed:" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
    fi
    # Our settings last in postgresql.conf (the last one wins), rewritten at each start.
    conf=$data/postgresql.conf
    as_pg sed -i '/^# session-lab:/,$d' "$conf"
    as_pg tee -a "$conf" >/dev/null <<EOF
# session-lab: a throwaway cluster on loopback
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 start >/dev/null 2>&1; then
      echo "postgres.sh: PostgreSQL did not start on 127.0.0.1:$port; its log:" >&2
      tail -20 "$dir/postgres.log" >&2 || true
      exit 1
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres" ;;
  stop)
    [ $# -eq 2 ] || usage
    [ -f "$data/postmaster.pid" ] || exit 0
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null ;;
  *) usage ;;
esac
