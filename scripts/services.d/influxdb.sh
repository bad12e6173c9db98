# shellcheck shell=bash
# Sourced by scripts/services.sh: defines influxdb_start, influxdb_stop, influxdb_status.
# influxdb: Debian's InfluxDB 1.x (InfluxQL) on 127.0.0.1:$SERVICES_INFLUXQL_PORT (default 28086) with
#   database `gas`, no authentication; writes with POST /write?db=gas, queries with /query?db=gas&q=….
#   Its RPC (backup) port is the HTTP port + 2, also on loopback.
INFLUXQL_PORT="${SERVICES_INFLUXQL_PORT:-28086}"
INFLUXQL_HOME="$SERVICES_DIR/influxdb"
INFLUXQL_CONF="$INFLUXQL_HOME/influxdb.conf"
INFLUXQL_PID="$INFLUXQL_HOME/influxdb.pid"
INFLUXQL_LOG="$INFLUXQL_HOME/influxdb.log"

influxql_pid() {
  local pid
  [ -s "$INFLUXQL_PID" ] || return 1
  pid="$(cat "$INFLUXQL_PID")"
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

influxql_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$INFLUXQL_PORT/ping" 2>/dev/null; }

influxdb_start() {
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  if [ ! -x /usr/bin/influxd ]; then
    log "Installing InfluxDB 1.x…"
    apt_install influxdb
  fi
  mkdir -p "$INFLUXQL_HOME/meta" "$INFLUXQL_HOME/data" "$INFLUXQL_HOME/wal"
  # tsi1: the series index on disk, so memory does not grow with series cardinality.
  cat >"$INFLUXQL_CONF" <<CONF
# Written by scripts/services.d/influxdb.sh at each start; edits are lost.
reporting-enabled = false
bind-address = "127.0.0.1:$((INFLUXQL_PORT + 2))"
[meta]
  dir = "$INFLUXQL_HOME/meta"
  retention-autocreate = true
  logging-enabled = false
[data]
  dir = "$INFLUXQL_HOME/data"
  wal-dir = "$INFLUXQL_HOME/wal"
  index-version = "tsi1"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUXQL_PORT"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false
[continuous_queries]
  log-enabled = false
CONF
  local pid
  if pid="$(influxql_pid)"; then
    log "InfluxDB already running (pid $pid)"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$INFLUXQL_PORT") 2>/dev/null && die "port $INFLUXQL_PORT is taken by another process; set SERVICES_INFLUXQL_PORT"
    setsid /usr/bin/influxd -config "$INFLUXQL_CONF" -pidfile "$INFLUXQL_PID.influxd" </dev/null >>"$INFLUXQL_LOG" 2>&1 &
    echo $! >"$INFLUXQL_PID"
  fi
  local i
  for i in $(seq 1 150); do
    influxql_ready && break
    influxql_pid >/dev/null || { tail -n 20 "$INFLUXQL_LOG" >&2 || true; die "InfluxDB exited"; }
    [ "$i" -eq 150 ] && { tail -n 20 "$INFLUXQL_LOG" >&2 || true; die "InfluxDB not ready on port $INFLUXQL_PORT"; }
    sleep 0.1
  done
  curl -fsS --max-time 10 -o /dev/null -XPOST "http://127.0.0.1:$INFLUXQL_PORT/query" --data-urlencode 'q=CREATE DATABASE gas' \
    || die "could not create database gas"
  printf 'INFLUXQL_URL=http://127.0.0.1:%s\n' "$INFLUXQL_PORT"
}

influxdb_stop() {
  local pid i
  if pid="$(influxql_pid)"; then
    kill -TERM "$pid"
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { log "InfluxDB did not stop in 15 s; killing"; kill -KILL "$pid"; }
    rm -f "$INFLUXQL_PID" "$INFLUXQL_PID.influxd"
  else
    log "InfluxDB not running"
  fi
}

influxdb_status() {
  if influxql_pid >/dev/null && influxql_ready; then
    printf 'influxdb: running on 127.0.0.1:%s\nINFLUXQL_URL=http://127.0.0.1:%s\n' "$INFLUXQL_PORT" "$INFLUXQL_PORT"
  else
    printf 'influxdb: stopped\n'
    return 3
  fi
}
