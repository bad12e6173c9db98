import { randomUUID } from 'node:crypto';
import { AssignerProtocol, type Admin, type Kafka, type Message, type PartitionAssigner } from 'kafkajs';
import type { Logger } from 'pino';
import type { DeviceSnapshot } from '../processors/device-engine.ts';
import type { CheckpointedDevice } from '../processors/partition-checkpoints.ts';
import { KafkaBusError, retryRetriable } from './kafka-errors.ts';
import type { KafkaBusOptions } from './kafka-options.ts';

/**
 * Gives the only member of a throw-away group exactly the partitions asked for: kafkajs has no
 * manual assign(), and reading every partition to keep a few would waste a rebalance's time.
 */
function fixedAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  return () => ({
    name: 'GasFixedPartitions',
    version: 1,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: 'GasFixedPartitions', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

/**
 * Device state in a compacted topic keyed by deviceId. With the same partition count and
 * partitioner as the readings topic, a device's state sits in the partition number of its
 * readings, so the owner of readings partition p restores exactly `load([p])`.
 */
export class KafkaStateStore {
  /** Partition count of the state topic; set by KafkaBus.start from the broker's metadata. */
  partitions: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    readonly topic: string,
    private readonly options: KafkaBusOptions,
    private readonly send: (topic: string, messages: Message[]) => Promise<void>,
    private readonly log: Logger | undefined,
    /** The partition a device's state belongs in: that of its readings. */
    private readonly partitionOfDevice: (deviceId: string) => number,
    /** Longest a load may take before it fails, ms. */
    private readonly loadTimeoutMs = 60_000,
  ) {
    this.partitions = options.partitions;
  }

  /**
   * Encodes at once, resolves once the broker holds every state (acks=-1). A record is the device's
   * state and the readings offset it covers: `{"offset":…,"state":{…}}`.
   */
  save(partition: number, devices: readonly CheckpointedDevice[]): Promise<void> {
    return this.send(this.topic, devices.map((d) => ({ key: d.state.deviceId, value: `{"offset":${d.offset},"state":${JSON.stringify(d.state)}}`, partition })));
  }

  /** Tombstones: the devices' state is gone after the next load and, later, compacted away. */
  remove(deviceIds: readonly string[]): Promise<void> {
    return this.send(this.topic, deviceIds.map((deviceId) => ({ key: deviceId, value: null, partition: this.partitionOfDevice(deviceId) })));
  }

  /**
   * The latest snapshot of every device in `partitions`, read from the start of each partition
   * to its high watermark when called; later writes are not waited for.
   */
  async load(partitions: readonly number[]): Promise<CheckpointedDevice[]> {
    if (partitions.length === 0) return [];
    const offsets = await retryRetriable(() => this.admin.fetchTopicOffsets(this.topic));
    // Next offset to reach per partition; partitions with nothing in them are done already.
    const target = new Map<number, bigint>();
    for (const o of offsets) {
      if (partitions.includes(o.partition) && BigInt(o.high) > BigInt(o.low)) target.set(o.partition, BigInt(o.high));
    }
    if (target.size === 0) return [];

    // Parsed as they come: keeping the raw values would pin every fetched buffer until the end.
    const latest = new Map<string, CheckpointedDevice | DeviceSnapshot | null>();
    const consumer = this.kafka.consumer({
      groupId: `${this.options.clientId}.state-loader.${randomUUID()}`,
      partitionAssigners: [fixedAssigner(this.topic, [...target.keys()])],
      sessionTimeout: this.options.sessionTimeoutMs,
      maxWaitTimeInMs: 100,
    });
    const pending = new Set(target.keys());
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        // Nothing is committed: the group is thrown away and every load starts at the beginning.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = target.get(batch.partition);
          if (end === undefined) return;
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset >= end) break;
            if (!m.key) continue;
            const key = m.key.toString('utf8');
            latest.set(key, m.value ? (JSON.parse(m.value.toString('utf8')) as CheckpointedDevice | DeviceSnapshot) : null);
          }
          if (BigInt(batch.lastOffset()) >= end - 1n) {
            pending.delete(batch.partition);
            if (pending.size === 0) finish();
          }
        },
      });
      await Promise.race([
        done,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new KafkaBusError('GAS_KAFKA_STATE_LOAD', `Loading ${this.topic} partitions ${[...pending].join(',')} timed out`, { retryable: true })),
            this.loadTimeoutMs,
          );
        }),
      ]);
    } catch (cause) {
      if (cause instanceof KafkaBusError) throw cause;
      throw new KafkaBusError('GAS_KAFKA_STATE_LOAD', `Loading ${this.topic} partitions ${partitions.join(',')} failed`, { cause, retryable: true });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch((err: unknown) => this.log?.warn({ err }, 'State loader did not disconnect cleanly'));
    }
    const out: CheckpointedDevice[] = [];
    for (const parsed of latest.values()) {
      if (!parsed) continue;
      // A state saved before checkpoints carried no offset: it covers what the group committed.
      out.push('state' in parsed ? parsed : { offset: -1, state: parsed });
    }
    return out;
  }
}
