import type { AlertEvent, DeadLetter, GatewayStatus, Reading } from './messages.ts';

/**
 * The bus between stages. A handler's promise resolving is the acknowledgement: a channel
 * delivers a message again (at-least-once) when its handler failed or the process died before
 * it resolved, so every consumer must be idempotent.
 */
/**
 * Where a handler's messages came from on a partitioned bus, for consumers that checkpoint their
 * own progress: the partition, and the offset of the record that carried each message.
 */
export interface Delivery {
  partition: number;
  /** Parallel to the messages; one record may carry several messages, which then share its offset. */
  offsets: readonly number[];
}

export type Handler<T> = (messages: readonly T[], delivery?: Delivery) => Promise<void> | void;

export interface Channel<T> {
  /** Resolves once every consumer has accepted the messages (in-process) or the broker has them. */
  publish(messages: readonly T[]): Promise<void>;
  /**
   * Registers the consumer group's handler; messages with the same key arrive in order. A
   * partitioned bus says through `options` which partitions this instance owns as they move between
   * the group's instances; an unpartitioned bus owns everything and never calls them.
   */
  consume(group: string, handler: Handler<T>, options?: ConsumeOptions): ConsumerHandle | void;
}

/** What a consumer of a distributed bus gives back: `ready` once it joined its group and restored its first partitions. */
export interface ConsumerHandle {
  readonly ready: Promise<void>;
  /**
   * With `commits: 'checkpointed'`: records that the group has handled `partition` up to and
   * including `offset`, so a new owner resumes after it. Fails when the partition is no longer owned.
   */
  commit(partition: number, offset: number): Promise<void>;
}

/** Told about partition ownership; the first batch of a new partition waits until onAssigned resolved. */
export interface ConsumeOptions {
  /** A group without committed offsets starts at the oldest message (true) or only new ones. @defaultValue true */
  fromBeginning?: boolean;
  /**
   * `handled` (default): a message is committed once its handler resolved. `checkpointed`: only
   * what the consumer passes to `commit`, after it saved the state that covers it; a new owner
   * then replays from there.
   */
  commits?: 'handled' | 'checkpointed';
  /**
   * `prompt` (default): a message is fetched as soon as it is there, for the alarm path. `bulk`: a
   * distributed bus may wait a few tens of milliseconds to fetch more at once, for sinks that
   * only need throughput (fewer fetches cost the process and the broker less).
   */
  fetch?: 'prompt' | 'bulk';
  /**
   * A distributed bus works on the partitions of one fetch together and starts with those holding
   * a record the publisher marked as possibly raising a gas alarm, so a leak does not wait behind
   * other partitions' routine messages. Order within a partition holds; across partitions handler
   * calls interleave. @defaultValue false
   */
  urgentFirst?: boolean;
  /** Partitions this instance now owns that it did not before (all of them on the first join). */
  onAssigned?(partitions: number[]): Promise<void>;
  /** Partitions this instance no longer owns: learned on the next join, or all of them on close. */
  onRevoked?(partitions: number[]): Promise<void>;
}

export interface Bus {
  /** Keyed by deviceId so one device's readings stay in order. */
  readonly readings: Channel<Reading>;
  /** Keyed by gatewayId. */
  readonly gatewayStatus: Channel<GatewayStatus>;
  /** Keyed by subjectId. */
  readonly alertEvents: Channel<AlertEvent>;
  readonly deadLetters: Channel<DeadLetter>;
  close(): Promise<void>;
}
