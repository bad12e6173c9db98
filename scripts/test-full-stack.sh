#!/usr/bin/env bash
# The full-stack test run: starts the real servers with scripts/services.sh (installing them when
# missing), exports what they print (DATABASE_URL as TEST_DATABASE_URL, KAFKA_BROKERS, MQTT_URL,
# INFLUX_URL, INFLUXQL_URL, …), runs `npm test` with CI=true so a test whose server is missing
# fails instead of skipping, and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's Chromium (and a CJK font) for the console's browser tests; no browser download.
bash scripts/install-chromium.sh
SERVICES=(postgres kafka mosquitto victoria-metrics influxdb prometheus)
trap 'bash scripts/services.sh stop "${SERVICES[@]}" || true' EXIT
env_file="$(mktemp)"
bash scripts/services.sh start "${SERVICES[@]}" | grep -E '^[A-Z_]+=' >"$env_file"
while IFS='=' read -r key value; do
  export "$key=$value"
done <"$env_file"
rm -f "$env_file"
for key in DATABASE_URL KAFKA_BROKERS MQTT_URL MQTT_INGEST_PASSWORD INFLUX_URL INFLUXQL_URL PROMETHEUS_URL PROMETHEUS_TARGETS_DIR; do
  [ -n "${!key:-}" ] || { echo "services.sh did not report $key" >&2; exit 1; }
done
# The store suites use this PostgreSQL beside PGlite; DATABASE_URL itself stays unset, since the
# end-to-end tests start their own embedded stores.
export TEST_DATABASE_URL="$DATABASE_URL"
unset DATABASE_URL
export CI="${CI:-true}"
npm test
