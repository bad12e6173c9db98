/**
 * A consumer-group member in a process of its own, for the crash test in kafka-bus.test.ts: it
 * reports its partitions and the readings it holds as JSON lines on stdout and never acknowledges,
 * so SIGKILL leaves its messages uncommitted, as a real crash would.
 * Env: KAFKA_BROKERS, KAFKA_TOPIC_PREFIX, KAFKA_CLIENT_ID, GROUP.
 */
import { KafkaBus } from './kafka-bus.ts';

const bus = await KafkaBus.start({
  brokers: (process.env.KAFKA_BROKERS ?? '').split(','),
  clientId: process.env.KAFKA_CLIENT_ID ?? 'test-member',
  topicPrefix: process.env.KAFKA_TOPIC_PREFIX ?? '',
  sessionTimeoutMs: 6000,
  heartbeatIntervalMs: 500,
});
const say = (line: object): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const sub = bus.readings.consume(process.env.GROUP ?? 'processors', async (rs) => {
  say({ inHand: rs.map((r) => `${r.deviceId}#${r.volumeM3 ?? -1}`) });
  // Holds the batch until killed; heartbeats keep the member alive meanwhile.
  await new Promise<never>(() => {});
}, {
  onAssigned: async (partitions) => say({ assigned: partitions }),
  onRevoked: async (partitions) => say({ revoked: partitions }),
});
await sub.ready;
