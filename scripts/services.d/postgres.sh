# shellcheck shell=bash
# Sourced by scripts/services.sh: defines postgres_start, postgres_stop, postgres_status.
# postgres: PostgreSQL on 127.0.0.1:$SERVICES_PG_PORT, database/user/password gas/gas/gas.
PG_PORT="${SERVICES_PG_PORT:-25432}"
PG_HOME="$SERVICES_DIR/postgres"
# PostgreSQL runs as the `postgres` user, which cannot enter a checkout under a private folder
# (e.g. /root) or a private SERVICES_DIR (mktemp -d): then its data lives in a folder of its own
# under /var/tmp, named after the services folder.
mkdir -p "$SERVICES_DIR"
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$SERVICES_DIR"; then
  PG_HOME="/var/tmp/gas-services-$(printf '%s' "$SERVICES_DIR" | md5sum | cut -c1-12)/postgres"
fi
PG_DATA="$PG_HOME/data"
PG_RUN="$PG_HOME/run"
PG_LOG="$PG_HOME/postgres.log"

pg_bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && printf '%s' "$dir"
}

# Runs a PostgreSQL command as the `postgres` OS user when we are root (initdb refuses root).
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_url() { printf 'postgres://gas:gas@127.0.0.1:%s/gas' "$PG_PORT"; }

postgres_start() {
  local bin
  bin="$(pg_bindir || true)"
  if [ -z "$bin" ]; then
    log "Installing PostgreSQL…"
    apt_install postgresql
    bin="$(pg_bindir || true)"
    [ -n "$bin" ] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin after install"
  fi
  mkdir -p "$PG_HOME" "$PG_RUN"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "no postgres OS user (the postgresql package creates it)"
    chown -R postgres:postgres "$PG_HOME"
    runuser -u postgres -- test -x "$PG_HOME" || die "the postgres user cannot reach $PG_HOME"
  fi

  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "Initialising $PG_DATA…"
    local pwfile="$PG_HOME/.pwfile"
    (umask 077; head -c 24 /dev/urandom | base64 > "$pwfile")
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pwfile"
    pg_as "$bin/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >&2 \
      || pg_as "$bin/initdb" -D "$PG_DATA" -U postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C >&2
    rm -f "$pwfile"
  fi

  if pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    log "PostgreSQL already running"
  else
    pg_as "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_RUN" start >&2 || { tail -n 30 "$PG_LOG" >&2 || true; die "PostgreSQL did not start"; }
  fi

  local i
  for i in $(seq 1 60); do
    "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q && break
    [ "$i" -eq 60 ] && die "PostgreSQL not ready on port $PG_PORT"
    sleep 0.5
  done

  # Role and database, idempotently; over the local socket as the superuser.
  local psql=("$bin/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
  pg_as "${psql[@]}" -c "DO \$\$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gas') THEN CREATE ROLE gas LOGIN PASSWORD 'gas';
      ELSE ALTER ROLE gas LOGIN PASSWORD 'gas'; END IF; END \$\$;" >&2
  if [ "$(pg_as "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'gas'")" != "1" ]; then
    pg_as "${psql[@]}" -c "CREATE DATABASE gas OWNER gas" >&2
  fi
  printf 'DATABASE_URL=%s\n' "$(pg_url)"
}

postgres_stop() {
  local bin
  bin="$(pg_bindir || true)"
  if [ -z "$bin" ] || [ ! -s "$PG_DATA/PG_VERSION" ]; then
    log "PostgreSQL not set up"
    return 0
  fi
  if pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    pg_as "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >&2
  else
    log "PostgreSQL not running"
  fi
}

postgres_status() {
  local bin
  bin="$(pg_bindir || true)"
  if [ -n "$bin" ] && [ -s "$PG_DATA/PG_VERSION" ] && pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 \
    && "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then
    printf 'postgres: running on 127.0.0.1:%s\nDATABASE_URL=%s\n' "$PG_PORT" "$(pg_url)"
  else
    printf 'postgres: stopped\n'
    return 3
  fi
}

