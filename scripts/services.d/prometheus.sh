# shellcheck shell=bash
# Sourced by scripts/services.sh: defines prometheus_start, prometheus_stop, prometheus_status.
# prometheus: Debian's Prometheus on 127.0.0.1:$SERVICES_PROMETHEUS_PORT (default 29090), for the
#   tests that run the dashboards' PromQL against a real engine (dashboards/promql.integration.test.ts).
#   It scrapes every second whatever targets are listed in file_sd files under its data dir:
#   $SERVICES_DIR/prometheus/targets/*.json (printed as PROMETHEUS_TARGETS_DIR), re-read every 5 s.
#   A test adds its own target by writing a file there, e.g.
#     [{"targets": ["127.0.0.1:PORT"], "labels": {"job": "a-name-unique-to-the-run"}}]
#   (a `job` label in the file replaces the scrape config's), and removes the file when done.
#   Not started through systemd: the binary runs in the background with a pid file.
PROM_PORT="${SERVICES_PROMETHEUS_PORT:-29090}"
PROM_HOME="$SERVICES_DIR/prometheus"
PROM_CONF="$PROM_HOME/prometheus.yml"
PROM_TARGETS="$PROM_HOME/targets"
PROM_PID="$PROM_HOME/prometheus.pid"
PROM_LOG="$PROM_HOME/prometheus.log"

prom_pid() {
  local pid
  [ -s "$PROM_PID" ] || return 1
  pid="$(cat "$PROM_PID")"
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

prom_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" 2>/dev/null; }

prom_print_env() {
  printf 'PROMETHEUS_URL=http://127.0.0.1:%s\nPROMETHEUS_TARGETS_DIR=%s\n' "$PROM_PORT" "$PROM_TARGETS"
}

prometheus_start() {
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  if [ ! -x /usr/bin/prometheus ]; then
    log "Installing Prometheus…"
    apt_install prometheus
  fi
  mkdir -p "$PROM_HOME/data" "$PROM_TARGETS"
  # scrape_timeout may not exceed scrape_interval; tests wait for a few scrapes, so 1 s keeps them short.
  cat >"$PROM_CONF" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: file_sd
    file_sd_configs:
      - files: ['$PROM_TARGETS/*.json']
        refresh_interval: 5s
YAML
  local pid
  if pid="$(prom_pid)"; then
    log "Prometheus already running (pid $pid); reloading its config"
    kill -HUP "$pid"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PROM_PORT") 2>/dev/null && die "port $PROM_PORT is taken by another process; set SERVICES_PROMETHEUS_PORT"
    setsid /usr/bin/prometheus \
      --config.file="$PROM_CONF" \
      --storage.tsdb.path="$PROM_HOME/data" \
      --storage.tsdb.retention.time=2d \
      --web.listen-address="127.0.0.1:$PROM_PORT" \
      </dev/null >>"$PROM_LOG" 2>&1 &
    echo $! >"$PROM_PID"
  fi
  local i
  for i in $(seq 1 150); do
    prom_ready && break
    prom_pid >/dev/null || { tail -n 20 "$PROM_LOG" >&2 || true; die "Prometheus exited"; }
    [ "$i" -eq 150 ] && { tail -n 20 "$PROM_LOG" >&2 || true; die "Prometheus not ready on port $PROM_PORT"; }
    sleep 0.1
  done
  prom_print_env
}

prometheus_stop() {
  local pid i
  if pid="$(prom_pid)"; then
    kill -TERM "$pid"
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { log "Prometheus did not stop in 15 s; killing"; kill -KILL "$pid"; }
    rm -f "$PROM_PID"
  else
    log "Prometheus not running"
  fi
}

prometheus_status() {
  if prom_pid >/dev/null && prom_ready; then
    printf 'prometheus: running on 127.0.0.1:%s\n' "$PROM_PORT"
    prom_print_env
  else
    printf 'prometheus: stopped\n'
    return 3
  fi
}
