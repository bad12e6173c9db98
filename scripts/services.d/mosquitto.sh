# shellcheck shell=bash
# Sourced by scripts/services.sh: defines mosquitto_start, mosquitto_stop, mosquitto_status.
# mosquitto: Debian's Mosquitto on 127.0.0.1:$SERVICES_MQTT_PORT (default 21883), no anonymous access.
#   Users: `ingest` (reads gas/v1/# and $share/#; password generated once, kept in ingest.password)
#   and one user per gateway, named after the gateway id, which may publish only under gas/v1/<id>/#.
#   Gateway credentials: SERVICES_MQTT_GATEWAYS="GW-1:pw1,GW-2:pw2" on `start`. They accumulate in
#   gateways.txt, so a test adds one by running `start` again with its own list: when the broker is
#   already running, the password file is rewritten and the broker reloads it (SIGHUP), no restart.
MQTT_PORT="${SERVICES_MQTT_PORT:-21883}"
MQTT_HOME="$SERVICES_DIR/mosquitto"
MQTT_CONF="$MQTT_HOME/mosquitto.conf"
MQTT_PID="$MQTT_HOME/mosquitto.pid"
MQTT_LOG="$MQTT_HOME/mosquitto.log"

mqtt_pid() {
  local pid
  [ -s "$MQTT_PID" ] || return 1
  pid="$(cat "$MQTT_PID")"
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

mqtt_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; }

# Merges SERVICES_MQTT_GATEWAYS into gateways.txt (later passwords win) and rebuilds the password file.
mqtt_write_credentials() {
  local gateways="$MQTT_HOME/gateways.txt" entry id pw entries=()
  touch "$gateways"
  IFS=',' read -r -a entries <<<"${SERVICES_MQTT_GATEWAYS:-}"
  for entry in "${entries[@]}"; do
    [ -n "$entry" ] || continue
    id="${entry%%:*}"
    pw="${entry#*:}"
    [ "$id" != "$entry" ] && [ -n "$id" ] && [ -n "$pw" ] || die "SERVICES_MQTT_GATEWAYS: '$entry' is not id:password"
    case "$id" in *[+#/:]* | ingest) die "SERVICES_MQTT_GATEWAYS: '$id' cannot be a gateway user" ;; esac
    grep -v "^${id}:" "$gateways" >"$gateways.tmp" || true
    printf '%s:%s\n' "$id" "$pw" >>"$gateways.tmp"
    mv "$gateways.tmp" "$gateways"
  done
  [ -s "$MQTT_HOME/ingest.password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$MQTT_HOME/ingest.password")

  # mosquitto_passwd -b hashes one user at a time; a fresh file each start, so removed users go away.
  local passwd="$MQTT_HOME/passwd.new"
  (umask 077; : >"$passwd")
  mosquitto_passwd -b "$passwd" ingest "$(cat "$MQTT_HOME/ingest.password")" >&2
  while IFS=':' read -r id pw; do
    [ -n "$id" ] && mosquitto_passwd -b "$passwd" "$id" "$pw" >&2
  done <"$gateways"
  mv "$passwd" "$MQTT_HOME/passwd"
  chmod 0600 "$MQTT_HOME/passwd" "$gateways"
}

mqtt_write_config() {
  cat >"$MQTT_HOME/acl" <<'EOF'
# Every gateway user may publish only under its own id (%u = user name); nobody else reads its topics.
pattern write gas/v1/%u/#

user ingest
topic read gas/v1/#
topic read $share/#
EOF
  {
    printf '# Written by scripts/services.d/mosquitto.sh at each start; edits are lost.\n'
    printf 'pid_file %s\n' "$MQTT_PID"
    # Root keeps root: the checkout may lie where the mosquitto user cannot enter (e.g. /root).
    [ "$(id -u)" -eq 0 ] && printf 'user root\n'
    printf 'listener %s 127.0.0.1\n' "$MQTT_PORT"
    printf 'allow_anonymous false\n'
    printf 'password_file %s\n' "$MQTT_HOME/passwd"
    printf 'acl_file %s\n' "$MQTT_HOME/acl"
    printf 'persistence true\npersistence_location %s/\n' "$MQTT_HOME/data"
    printf 'autosave_interval 60\n'
    printf 'log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\n' "$MQTT_LOG"
    printf 'connection_messages true\n'
  } >"$MQTT_CONF"
}

mqtt_print() {
  printf 'MQTT_URL=mqtt://127.0.0.1:%s\n' "$MQTT_PORT"
  printf 'MQTT_INGEST_USER=ingest\n'
  printf 'MQTT_INGEST_PASSWORD=%s\n' "$(cat "$MQTT_HOME/ingest.password")"
  printf 'MQTT_GATEWAYS=%s\n' "$(paste -sd, "$MQTT_HOME/gateways.txt")"
}

mosquitto_start() {
  if [ ! -x /usr/sbin/mosquitto ] || [ ! -x /usr/bin/mosquitto_passwd ]; then
    log "Installing Mosquitto…"
    apt_install mosquitto
  fi
  local bin=/usr/sbin/mosquitto
  mkdir -p "$MQTT_HOME/data"
  mqtt_write_credentials
  mqtt_write_config

  local pid
  if pid="$(mqtt_pid)"; then
    kill -HUP "$pid" # reloads password and ACL files
    log "Mosquitto already running (pid $pid); credentials reloaded"
  else
    if mqtt_port_open; then
      # A distro-started broker would be on 1883; only something on our port blocks us.
      die "port $MQTT_PORT is taken by another process; set SERVICES_MQTT_PORT"
    fi
    rm -f "$MQTT_PID"
    "$bin" -c "$MQTT_CONF" -d || { tail -n 20 "$MQTT_LOG" >&2 || true; die "Mosquitto did not start"; }
  fi
  local i
  for i in $(seq 1 50); do
    mqtt_pid >/dev/null && mqtt_port_open && break
    [ "$i" -eq 50 ] && { tail -n 20 "$MQTT_LOG" >&2 || true; die "Mosquitto not listening on port $MQTT_PORT"; }
    sleep 0.1
  done
  mqtt_print
}

mosquitto_stop() {
  local pid i
  if pid="$(mqtt_pid)"; then
    kill -TERM "$pid"
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { log "Mosquitto did not stop in 10 s; killing"; kill -KILL "$pid"; }
    rm -f "$MQTT_PID"
  else
    log "Mosquitto not running"
  fi
}

mosquitto_status() {
  if mqtt_pid >/dev/null && mqtt_port_open; then
    printf 'mosquitto: running on 127.0.0.1:%s\n' "$MQTT_PORT"
    mqtt_print
  else
    printf 'mosquitto: stopped\n'
    return 3
  fi
}
