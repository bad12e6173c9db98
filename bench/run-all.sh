#!/usr/bin/env bash
# Every benchmark at full scale, one after another (they must not share the cores), then
# bench/RESULTS.md and its chart from what they wrote to bench/out/. Starts Kafka and makes sure
# Debian's Mosquitto is installed (the floors and the Node-RED peer run private brokers of their
# own); stops what it started. About half an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVICES=(kafka mosquitto)
trap 'bash scripts/services.sh stop "${SERVICES[@]}" || true' EXIT
while IFS='=' read -r key value; do
  export "$key=$value"
done < <(bash scripts/services.sh start "${SERVICES[@]}" | grep -E '^[A-Z_]+=')
[ -n "${KAFKA_BROKERS:-}" ] || { echo "services.sh did not report KAFKA_BROKERS" >&2; exit 1; }

run() { echo "== $*" >&2; "$@"; }
run npx tsx bench/floors.ts
run npx tsx bench/node-red-peer.ts
run npx tsx bench/throughput.ts --path both --kafka-devices 20000 --seconds-per-level 30
run npx tsx bench/memory.ts --devices 100000,1000000
run npx tsx bench/burst.ts
run npx tsx bench/burst.ts --kafka --out bench/out/burst-kafka.json
run npx tsx bench/storm.ts
run npx tsx bench/api.ts
run npx tsx bench/alarm-to-push.ts --alarms 300
run npx tsx bench/kafka-processors.ts --devices 100000 --rounds 10 --processors 1,2
run npx tsx bench/kafka-restore.ts --devices 1000000 --variants once,twice
run npx tsx bench/kafka-clients.ts --readings 2000000 --rounds 4
run npx tsx bench/report.ts
