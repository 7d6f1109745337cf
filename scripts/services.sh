#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Redis 7 servers for tests and `scn up`.
#
#   scripts/services.sh start DIR   start both (data under DIR) and print the
#                                   `export SCN_PG_URL=...` and
#                                   `export SCN_REDIS_URL=...` lines to eval
#   scripts/services.sh env DIR     print the export lines of running servers
#   scripts/services.sh stop DIR    stop both (the data stays in DIR)
#
# PostgreSQL: initdb into DIR/pg (trust authentication, loopback only, user
# `postgres`, database `scn`), listening on 127.0.0.1:<free port> and on a unix
# socket in DIR/pg-sock, with durability off (fsync) since the data is
# throwaway. Redis: 127.0.0.1:<free port>, no persistence, working dir
# DIR/redis, daemonized with DIR/redis/redis.pid.
# As root (CI, containers) PostgreSQL runs as the `postgres` system user, as
# it refuses to run as root. Idempotent: `start` on running servers prints
# their exports again; `start` on stopped ones reuses the data and, if still
# free, the ports. Any failure prints why (and the server's log) and exits 1.
set -euo pipefail

PG_BIN=${SCN_PG_BIN:-/usr/lib/postgresql/15/bin}
REDIS_SERVER=${SCN_REDIS_SERVER:-redis-server}
REDIS_CLI=${SCN_REDIS_CLI:-redis-cli}

SCRIPT_NAME=services.sh
# shellcheck source=scripts/lib/daemon.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/daemon.sh"
parse_cmd_dir "$@"
PG_DATA=$DIR/pg
PG_SOCK=$DIR/pg-sock
PG_LOG=$DIR/pg.log
REDIS_DIR=$DIR/redis
REDIS_PID=$REDIS_DIR/redis.pid
REDIS_LOG=$REDIS_DIR/redis.log

# Commands touching the PostgreSQL data run as `postgres` when we are root.
AS_PG=()
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (apt-get install postgresql)"
  AS_PG=(runuser -u postgres --)
fi
as_pg() { "${AS_PG[@]}" "$@"; }

pg_running() { [[ -f $PG_DATA/postmaster.pid ]] && pid_alive "$(head -n 1 "$PG_DATA/postmaster.pid")"; }
redis_running() { [[ -f $REDIS_PID ]] && pid_alive "$(cat "$REDIS_PID")"; }

print_env() {
  echo "export SCN_PG_URL=postgresql://postgres@127.0.0.1:$(cat "$DIR/pg.port")/scn"
  echo "export SCN_REDIS_URL=redis://127.0.0.1:$(cat "$DIR/redis.port")/0"
}

start_pg() {
  [[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 not found in $PG_BIN (apt-get install postgresql)"
  if pg_running; then
    [[ -f $DIR/pg.port ]] || die "PostgreSQL runs in $PG_DATA but $DIR/pg.port is missing"
    return
  fi
  mkdir -p "$PG_DATA" "$PG_SOCK"
  # Left by a server that died: its pid is gone (or a zombie), so they are stale.
  rm -f "$PG_DATA/postmaster.pid" "$PG_SOCK"/.s.PGSQL.*
  touch "$PG_LOG"
  if ((${#AS_PG[@]})); then
    chown postgres: "$PG_DATA" "$PG_SOCK" "$PG_LOG"
    chmod 700 "$PG_DATA"
    if ! as_pg test -w "$PG_DATA"; then
      chmod a+x "$DIR"  # traversal only, so that `postgres` reaches its folders
      as_pg test -w "$PG_DATA" ||
        die "user postgres cannot reach $PG_DATA (a parent folder is closed to it); use a DIR under /tmp"
    fi
  fi
  if [[ ! -f $PG_DATA/PG_VERSION ]]; then
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  local sock_path="$PG_SOCK/.s.PGSQL.65535"
  ((${#sock_path} < 108)) || die "$PG_SOCK is too long a path for a unix socket; use a shorter DIR"
  local port prev=""
  [[ -f $DIR/pg.port ]] && prev=$(cat "$DIR/pg.port")
  for attempt in 1 2 3; do
    port=$(free_port "$prev")
    prev=""
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -s start -o \
      "-c listen_addresses=127.0.0.1 -p $port -k $PG_SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >"$DIR/pg_ctl.log" 2>&1; then
      echo "$port" >"$DIR/pg.port"
      break
    fi
    if ((attempt == 3)); then
      cat "$DIR/pg_ctl.log" >&2
      tail -n 20 "$PG_LOG" >&2 || true
      die "PostgreSQL did not start (log: $PG_LOG)"
    fi
  done
  if ! as_pg "$PG_BIN/psql" -h "$PG_SOCK" -p "$port" -U postgres -d postgres -tAq \
    -c "SELECT 1 FROM pg_database WHERE datname = 'scn'" | grep -q 1; then
    as_pg "$PG_BIN/createdb" -h "$PG_SOCK" -p "$port" -U postgres scn || die "createdb scn failed"
  fi
}

start_redis() {
  command -v "$REDIS_SERVER" >/dev/null || die "redis-server not found (apt-get install redis-server)"
  if redis_running; then
    [[ -f $DIR/redis.port ]] || die "Redis runs from $REDIS_DIR but $DIR/redis.port is missing"
    return
  fi
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  local port prev="" attempt
  [[ -f $DIR/redis.port ]] && prev=$(cat "$DIR/redis.port")
  for attempt in 1 2 3; do
    port=$(free_port "$prev")
    prev=""
    : >"$REDIS_LOG"
    "$REDIS_SERVER" --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --dir "$REDIS_DIR" --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" \
      >/dev/null || die "redis-server failed to launch"
    for _ in $(seq 1 100); do  # up to 5 s
      if "$REDIS_CLI" -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "$port" >"$DIR/redis.port"
        return
      fi
      if grep -q "Address already in use" "$REDIS_LOG" 2>/dev/null; then break; fi
      sleep 0.05
    done
    if redis_running; then kill "$(cat "$REDIS_PID")" 2>/dev/null || true; fi
  done
  tail -n 20 "$REDIS_LOG" >&2 || true
  die "Redis did not start (log: $REDIS_LOG)"
}

stop_pg() {
  if pg_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 -s stop || die "pg_ctl stop failed (log: $PG_LOG)"
  fi
}

stop_redis() {
  if redis_running; then
    local pid
    pid=$(cat "$REDIS_PID")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      pid_alive "$pid" || break
      sleep 0.05
    done
    if pid_alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$REDIS_PID"
}

case $CMD in
  start)
    start_pg
    start_redis
    print_env
    ;;
  env)
    pg_running || die "PostgreSQL is not running in $PG_DATA"
    redis_running || die "Redis is not running from $REDIS_DIR"
    print_env
    ;;
  stop)
    stop_redis
    stop_pg
    ;;
  *) usage ;;
esac
