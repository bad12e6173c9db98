import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { KafkaBus } from './kafka-bus.ts';

/**
 * `gas_kafka_consumer_lag{group,topic,partition}`, asked of the broker at scrape time. Without
 * targets it covers the groups this process consumes; an `alerts` role watching the processors
 * passes `[{ group: 'processors', topic: bus.topics.readings }]`. A failed lookup leaves the
 * gauge empty for that scrape (absent, not a misleading zero).
 */
export function registerKafkaLagGauge(
  registry: Registry,
  bus: KafkaBus,
  targets?: ReadonlyArray<{ group: string; topic: string }>,
  log?: Logger,
): Gauge {
  return new Gauge({
    name: 'gas_kafka_consumer_lag',
    help: 'Messages a consumer group has not committed yet, per partition (high watermark minus committed offset)',
    labelNames: ['group', 'topic', 'partition'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        for (const row of await bus.lag(targets)) this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, row.lag);
      } catch (err) {
        log?.warn({ err }, 'Kafka consumer lag unavailable');
      }
    },
  });
}
