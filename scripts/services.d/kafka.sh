# shellcheck shell=bash
# Sourced by scripts/services.sh: defines kafka_start, kafka_stop, kafka_status.
# kafka: Apache Kafka 3.9 in KRaft mode (one combined broker+controller node) on
# 127.0.0.1:$SERVICES_KAFKA_PORT, controller on the next port. Run from its Maven Central jars,
# fetched once with Maven into .services/kafka/lib (no tarball mirror is reachable from CI).
KAFKA_PORT="${SERVICES_KAFKA_PORT:-29092}"
KAFKA_CONTROLLER_PORT="$((KAFKA_PORT + 1))"
KAFKA_HOME="$SERVICES_DIR/kafka"
KAFKA_LIB="$KAFKA_HOME/lib"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_LOG="$KAFKA_HOME/kafka.log"
KAFKA_PID="$KAFKA_HOME/kafka.pid"
KAFKA_CONF="$KAFKA_HOME/server.properties"
# 3.9.1 first; 3.9.0 if Central ever does not serve it.
KAFKA_VERSIONS="${SERVICES_KAFKA_VERSIONS:-3.9.1 3.9.0}"
KAFKA_HEAP="${SERVICES_KAFKA_HEAP:--Xms1g -Xmx1g}"
# ZGC: under the throughput bench at 50 % of the Kafka path's peak the broker's G1 young
# collections paused 15-50 ms several times in ten seconds, and every produce and fetch (a leak
# crosses two of each) waited them out. Kafka's own start script's G1 flags (20 ms pause target,
# -Xmx1g) still paused ~20 ms each, more often; ZGC pauses under a millisecond. The rest are the
# flags of Kafka's kafka-run-class.sh.
KAFKA_JVM_OPTS="${SERVICES_KAFKA_JVM_OPTS:--server -XX:+UseZGC -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"

kafka_brokers() { printf '127.0.0.1:%s' "$KAFKA_PORT"; }

# Kafka's command-line tools (format, readiness check): a small heap of their own.
kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_JVM_OPTS holds several JVM flags on purpose
  java -Xmx256m $KAFKA_JVM_OPTS \
    -Dlog4j.configuration="file:$KAFKA_HOME/log4j.properties" -cp "$KAFKA_LIB/*" "$@"
}

# Fetches kafka_2.13 with its runtime dependencies; skipped when a complete fetch is present.
kafka_fetch() {
  [ -f "$KAFKA_LIB/.complete" ] && return 0
  command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  local version tmp="$KAFKA_HOME/lib.tmp"
  for version in $KAFKA_VERSIONS; do
    log "Fetching Apache Kafka $version from Maven Central…"
    rm -rf "$tmp"
    # -B and -q keep CI logs short; the output goes to stderr only when it fails.
    if mvn -B -q -f "$ROOT/scripts/kafka/pom.xml" -Dkafka.version="$version" \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_HOME/mvn.log" 2>&1 \
      && [ -f "$tmp/kafka_2.13-$version.jar" ]; then
      printf '%s\n' "$version" >"$tmp/.complete"
      rm -rf "$KAFKA_LIB"
      mv "$tmp" "$KAFKA_LIB"
      return 0
    fi
    tail -n 20 "$KAFKA_HOME/mvn.log" >&2 || true
  done
  die "could not fetch Apache Kafka ($KAFKA_VERSIONS) with Maven"
}

kafka_write_config() {
  cat >"$KAFKA_CONF" <<EOF
# Written by scripts/services.d/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=6
# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
# Fewer than the default 50 offsets partitions: the first consumer group on a fresh node waits less.
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Tests start consumer groups constantly; the default 3 s delay would slow every first join.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
EOF
  cat >"$KAFKA_HOME/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Per-request and per-partition chatter would drown the log.
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log=WARN
log4j.logger.kafka.log=WARN
EOF
}

kafka_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; }

kafka_running() {
  local pid
  [ -s "$KAFKA_PID" ] || return 1
  pid="$(cat "$KAFKA_PID")"
  kill -0 "$pid" 2>/dev/null || return 1
  # Guards against a reused pid: it must still be our broker.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka.Kafka'
}

kafka_start() {
  mkdir -p "$KAFKA_HOME" "$KAFKA_DATA"
  kafka_fetch
  if kafka_running && kafka_port_open; then
    log "Kafka already running"
    printf 'KAFKA_BROKERS=%s\n' "$(kafka_brokers)"
    return 0
  fi
  kafka_write_config

  if [ ! -f "$KAFKA_DATA/meta.properties" ]; then
    # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
    local cluster_id
    # One that starts with '-' would be read as an option by kafka-storage's argument parser
    # (1 run in 64 failed with "argument --cluster-id/-t: expected one argument").
    cluster_id="-"
    while [ "${cluster_id#-}" != "$cluster_id" ]; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    done
    log "Formatting $KAFKA_DATA (cluster $cluster_id)…"
    kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_CONF" --ignore-formatted >"$KAFKA_HOME/format.log" 2>&1 \
      || { tail -n 20 "$KAFKA_HOME/format.log" >&2 || true; die "formatting Kafka storage failed"; }
  fi

  log "Starting Kafka on 127.0.0.1:$KAFKA_PORT…"
  : >"$KAFKA_LOG"
  # shellcheck disable=SC2086 # KAFKA_HEAP and KAFKA_JVM_OPTS hold several JVM flags on purpose
  nohup java $KAFKA_HEAP $KAFKA_JVM_OPTS \
    -Dlog4j.configuration="file:$KAFKA_HOME/log4j.properties" -cp "$KAFKA_LIB/*" \
    kafka.Kafka "$KAFKA_CONF" >>"$KAFKA_LOG" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$KAFKA_PID"

  # Ready when the port accepts connections and the broker answers an ApiVersions request.
  local deadline=$((SECONDS + 120))
  until kafka_port_open; do
    kafka_running || { tail -n 40 "$KAFKA_LOG" >&2 || true; die "Kafka exited during start (log: $KAFKA_LOG)"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -n 40 "$KAFKA_LOG" >&2 || true; die "Kafka not listening on $KAFKA_PORT"; }
    sleep 0.5
  done
  until grep -q 'Kafka Server started' "$KAFKA_LOG" \
    && kafka_java kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$(kafka_brokers)" >/dev/null 2>&1; do
    kafka_running || { tail -n 40 "$KAFKA_LOG" >&2 || true; die "Kafka exited during start (log: $KAFKA_LOG)"; }
    [ "$SECONDS" -lt "$deadline" ] || { tail -n 40 "$KAFKA_LOG" >&2 || true; die "Kafka did not answer on $KAFKA_PORT"; }
    sleep 0.5
  done
  log "Kafka ready"
  printf 'KAFKA_BROKERS=%s\n' "$(kafka_brokers)"
}

kafka_stop() {
  if ! kafka_running; then
    log "Kafka not running"
    rm -f "$KAFKA_PID"
    return 0
  fi
  local pid i
  pid="$(cat "$KAFKA_PID")"
  kill -TERM "$pid"
  # A controlled shutdown of a single node takes a few seconds; force it only if it hangs.
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "Kafka did not stop in 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  fi
  rm -f "$KAFKA_PID"
  log "Kafka stopped"
}

kafka_status() {
  if kafka_running && kafka_port_open; then
    printf 'kafka: running on 127.0.0.1:%s (pid %s)\nKAFKA_BROKERS=%s\n' "$KAFKA_PORT" "$(cat "$KAFKA_PID")" "$(kafka_brokers)"
  else
    printf 'kafka: stopped\n'
    return 3
  fi
}
