# shellcheck shell=bash
# Sourced by scripts/services.sh: defines victoria-metrics_start, victoria-metrics_stop, victoria-metrics_status.
# victoria-metrics: Debian's VictoriaMetrics on 127.0.0.1:$SERVICES_VM_PORT (default 28428), the
#   InfluxDB v2 write API (/api/v2/write) for tests and CI; read back with /api/v1/export or PromQL.
#   VictoriaMetrics stores numeric and boolean fields as `<measurement>_<field>`; string fields are not kept.
VM_PORT="${SERVICES_VM_PORT:-28428}"
VM_HOME="$SERVICES_DIR/victoria-metrics"
VM_PID="$VM_HOME/victoria-metrics.pid"
VM_LOG="$VM_HOME/victoria-metrics.log"

vm_pid() {
  local pid
  [ -s "$VM_PID" ] || return 1
  pid="$(cat "$VM_PID")"
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

vm_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$VM_PORT/health" 2>/dev/null; }

victoria-metrics_start() {
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  if [ ! -x /usr/bin/victoria-metrics ]; then
    log "Installing VictoriaMetrics…"
    apt_install victoria-metrics
  fi
  mkdir -p "$VM_HOME/data"
  local pid
  if pid="$(vm_pid)"; then
    log "VictoriaMetrics already running (pid $pid)"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$VM_PORT") 2>/dev/null && die "port $VM_PORT is taken by another process; set SERVICES_VM_PORT"
    # 100y retention: test data carries device times from any date, older ones would be refused.
    # latencyOffset 0: points are visible to queries as soon as they are flushed (tests read back at once).
    setsid /usr/bin/victoria-metrics \
      -httpListenAddr="127.0.0.1:$VM_PORT" \
      -storageDataPath="$VM_HOME/data" \
      -retentionPeriod=100y \
      -search.latencyOffset=0s \
      -search.disableCache \
      -loggerOutput=stderr \
      </dev/null >>"$VM_LOG" 2>&1 &
    echo $! >"$VM_PID"
  fi
  local i
  for i in $(seq 1 100); do
    vm_ready && break
    vm_pid >/dev/null || { tail -n 20 "$VM_LOG" >&2 || true; die "VictoriaMetrics exited"; }
    [ "$i" -eq 100 ] && { tail -n 20 "$VM_LOG" >&2 || true; die "VictoriaMetrics not ready on port $VM_PORT"; }
    sleep 0.1
  done
  printf 'INFLUX_URL=http://127.0.0.1:%s\n' "$VM_PORT"
}

victoria-metrics_stop() {
  local pid i
  if pid="$(vm_pid)"; then
    kill -TERM "$pid"
    for i in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { log "VictoriaMetrics did not stop in 15 s; killing"; kill -KILL "$pid"; }
    rm -f "$VM_PID"
  else
    log "VictoriaMetrics not running"
  fi
}

victoria-metrics_status() {
  if vm_pid >/dev/null && vm_ready; then
    printf 'victoria-metrics: running on 127.0.0.1:%s\nINFLUX_URL=http://127.0.0.1:%s\n' "$VM_PORT" "$VM_PORT"
  else
    printf 'victoria-metrics: stopped\n'
    return 3
  fi
}
