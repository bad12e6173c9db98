import { randomUUID } from 'node:crypto';
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type ITopicConfig,
  type LogEntry,
  type Message,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { Bus, Channel, ConsumeOptions, Handler } from '../contracts/bus.ts';
import type { AlertEvent, DeadLetter, GatewayStatus, Reading } from '../contracts/messages.ts';
import { KafkaBusError, retryRetriable } from './kafka-errors.ts';
import { parseKafkaBusOptions, type KafkaBusOptions, type KafkaBusOptionsInput } from './kafka-options.ts';
import { KafkaStateStore } from './kafka-state-store.ts';
import './kafkajs-idle-timer-fix.ts';
import { joinReadingRecords, jsonRecords, readingRecords, URGENT_HEADER, type RecordCodec } from './record-codecs.ts';

/** Topic names without the configured prefix. */
export const TOPICS = {
  readings: 'gas.readings',
  gatewayStatus: 'gas.gateway-status',
  alertEvents: 'gas.alert-events',
  deadLetters: 'gas.dead-letters',
  processorState: 'gas.processor-state',
} as const;

export type { ConsumeOptions };

/** Consumer lag of one partition: messages in the partition the group has not committed yet. */
export interface ConsumerLag {
  /** The logical group as passed to consume(); the Kafka group id is kafkaGroupId(group, topic). */
  group: string;
  topic: string;
  partition: number;
  /** Next offset the group will read; -1 when it never committed (lag counts from the oldest message). */
  committedOffset: number;
  highWatermark: number;
  lag: number;
}

/**
 * The Kafka group id of a logical group on one topic. Scoped per topic because kafkajs's
 * assigners ignore what each member subscribed to: `processors` on readings and on gateway
 * status in one Kafka group would hand readings partitions to the status consumer.
 */
export function kafkaGroupId(group: string, topic: string): string {
  return `${group}.${topic}`;
}

/** A bulk consumer's fetch: the broker answers once this much is there, or after the wait. */
const BULK_FETCH_BYTES = 256 * 1024;
const BULK_FETCH_WAIT_MS = 50;

/**
 * How often a consumer that commits what it handled commits, ms. kafkajs's own auto-commit sends
 * an OffsetCommit after every batch and waits for it before the next fetch: measured at 50 % of
 * the Kafka path's peak, the history consumer sent 211 a second, each a write to the broker's
 * offsets log, and the alerts consumer's next alert event waited a commit's round trip.
 */
const COMMIT_INTERVAL_MS = 1_000;

/** How long a consumer works through a fetch before it lets the event loop's I/O run, ms. */
const TURN_BUDGET_MS = 5;

/**
 * A checkpoint's produce request bound, bytes before gzip. kafkajs encodes a request in one go on
 * the processor's event loop, about 8 ms per 256 kB: at 64 kB a leak waits at most ~2 ms behind
 * one (the leak's push p99 at 50 % of the Kafka peak, three 30 s runs each: 83-90 ms with
 * 256 kB requests and 100-device slices, 60-82 ms with 64 kB and 25).
 */
const STATE_REQUEST_BYTES = 64_000;

/** Batches (partitions) of one fetch worked on together by an `urgentFirst` consumer: all of them, for any sensible partition count. */
const URGENT_FIRST_CONCURRENCY = 256;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** kafkajs logs through pino; its INFO is chatty (every join), so it goes to debug. */
function logCreator(log: Logger | undefined) {
  return () => (entry: LogEntry) => {
    if (!log) return;
    const { message, ...extra } = entry.log;
    const fields = { namespace: entry.namespace, ...extra };
    // Connection-level error responses are routine (a rebalance answers heartbeats with an error,
    // a topic another instance created already exists); real failures surface from the calls.
    if (entry.namespace === 'Connection' && entry.level <= logLevel.WARN) log.debug(fields, message);
    else if (entry.level === logLevel.ERROR) log.error(fields, message);
    else if (entry.level === logLevel.WARN) log.warn(fields, message);
    else if (entry.level === logLevel.INFO) log.debug(fields, message);
    else log.trace(fields, message);
  };
}

/**
 * Coalesces concurrent publishes into one produce request: while one request is in flight the
 * next ones queue and then go together. No linger timer, so a lone publish pays no latency.
 */
interface PendingSend {
  topic: string;
  messages: Message[];
  bytes: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function messageBytes(m: Message): number {
  const value = m.value;
  const key = m.key;
  return (typeof value === 'string' ? Buffer.byteLength(value) : (value?.length ?? 0)) + (typeof key === 'string' ? Buffer.byteLength(key) : (key?.length ?? 0)) + 32;
}

class Publisher {
  #queue: PendingSend[] = [];
  #draining = false;

  constructor(
    private readonly producer: Producer,
    private readonly compression: CompressionTypes,
    private readonly maxMessagesPerRequest = 10_000,
    /**
     * A produce request's payload bound. The broker refuses a partition's record batch over
     * message.max.bytes (1 MiB by default) and kafkajs sends one batch per partition per request,
     * so a request kept under it can never be refused for size, whatever the key spread.
     */
    private readonly maxRequestBytes = 800_000,
    /** What a topic's records of one request become (the readings topic's: one record per partition, `joinReadingRecords`). */
    private readonly joinRecords: (topic: string, messages: Message[]) => Message[] = (_topic, messages) => messages,
  ) {}

  /** Resolves once every message is acknowledged; a large send goes as several requests, in order. */
  send(topic: string, messages: Message[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const parts: Promise<void>[] = [];
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const size = messageBytes(messages[i]!);
      if (i > start && (bytes + size > this.maxRequestBytes || i - start >= this.maxMessagesPerRequest)) {
        parts.push(this.#enqueue(topic, messages.slice(start, i), bytes));
        start = i;
        bytes = 0;
      }
      bytes += size;
    }
    parts.push(this.#enqueue(topic, start === 0 ? messages : messages.slice(start), bytes));
    return parts.length === 1 ? parts[0]! : Promise.all(parts).then(() => undefined);
  }

  #enqueue(topic: string, messages: Message[], bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ topic, messages, bytes, resolve, reject });
      if (!this.#draining) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    // Lets publishes made in the same tick join the first request.
    await Promise.resolve();
    while (this.#queue.length > 0) {
      const taken: PendingSend[] = [];
      let count = 0;
      let bytes = 0;
      while (
        this.#queue.length > 0 &&
        (taken.length === 0 || (count + this.#queue[0]!.messages.length <= this.maxMessagesPerRequest && bytes + this.#queue[0]!.bytes <= this.maxRequestBytes))
      ) {
        const next = this.#queue.shift()!;
        count += next.messages.length;
        bytes += next.bytes;
        taken.push(next);
      }
      const byTopic = new Map<string, Message[]>();
      for (const t of taken) {
        const list = byTopic.get(t.topic);
        if (list) list.push(...t.messages);
        else byTopic.set(t.topic, [...t.messages]);
      }
      try {
        await this.producer.sendBatch({
          acks: -1,
          compression: this.compression,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages: this.joinRecords(topic, messages) })),
        });
        for (const t of taken) t.resolve();
      } catch (cause) {
        const err = new KafkaBusError('GAS_KAFKA_PUBLISH', `Publishing to ${[...byTopic.keys()].join(', ')} failed`, { cause, retryable: true });
        for (const t of taken) t.reject(err);
      }
    }
    this.#draining = false;
  }
}

/**
 * Readings records marked urgent go to Kafka on a producer of their own, so that a leak does not
 * wait for the routine produce request in flight (one at a time per producer: idempotence; p99 of
 * that wait 24 ms at 48k readings/s). A gateway's sends stay on the producer that has one of its
 * sends pending, so each gateway's readings, and with them every device's, keep their order. Until
 * the urgent producer is connected, everything goes the routine way.
 */
class ReadingsLanes {
  readonly #pending = new Map<string, { lane: Publisher; sends: number }>();
  urgentReady = false;

  constructor(
    private readonly routine: Publisher,
    private readonly urgent: Publisher,
  ) {}

  send(topic: string, messages: Message[], gatewayId: string): Promise<void> {
    let entry = this.#pending.get(gatewayId);
    if (entry === undefined) {
      const urgent = this.urgentReady && messages.some((m) => m.headers?.[URGENT_HEADER] !== undefined);
      entry = { lane: urgent ? this.urgent : this.routine, sends: 0 };
      this.#pending.set(gatewayId, entry);
    }
    const pending = entry;
    pending.sends++;
    const sent = pending.lane.send(topic, messages);
    const settle = (): void => {
      if (--pending.sends === 0) this.#pending.delete(gatewayId);
    };
    sent.then(settle, settle);
    return sent;
  }
}

/** One consumer group member on one topic; returned by `KafkaChannel.consume`. */
export class KafkaSubscription {
  /** Resolves once the member joined its group and onAssigned for its first partitions resolved. */
  readonly ready: Promise<void>;
  #assigned: number[] = [];
  /** Revocations and assignments in join order; batches wait for it so restored state comes first. */
  #assignment: Promise<void> = Promise.resolve();
  #killed = false;
  #closed = false;
  #turnStartedAt = 0;
  /** With `urgentFirst`: batches of the fetch in hand that hold a marked record, and their end. */
  #urgentBatches = 0;
  #urgentDone: Promise<void> = Promise.resolve();
  #urgentDoneResolve: () => void = () => {};
  /** With `commits: 'handled'`: the last handled offset per owned partition, and what the group has of it. */
  readonly #handled = new Map<number, number>();
  readonly #committed = new Map<number, number>();
  #commitTimer?: NodeJS.Timeout;
  #committing?: Promise<void>;
  #readyResolve!: () => void;
  #readyReject!: (err: unknown) => void;

  constructor(
    readonly group: string,
    readonly topic: string,
    private readonly consumer: Consumer,
    private readonly codec: RecordCodec<unknown>,
    private readonly handler: Handler<unknown>,
    private readonly options: ConsumeOptions,
    private readonly settings: KafkaBusOptions,
    private readonly log: Logger | undefined,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    // Nobody has to await `ready`; a failed start is logged and also seen by those who do.
    this.ready.catch(() => {});
  }

  /** Partitions owned since the last join. */
  assigned(): number[] {
    return [...this.#assigned];
  }

  async start(): Promise<void> {
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, (event) => this.#onJoin(event.payload.memberAssignment[this.topic] ?? []));
    consumer.on(consumer.events.CRASH, (event) => {
      this.log?.error({ err: event.payload.error, group: this.group, topic: this.topic, restart: event.payload.restart }, 'Kafka consumer crashed');
      if (!event.payload.restart) {
        this.#readyReject(new KafkaBusError('GAS_KAFKA_CONSUMER_CRASHED', `Consumer ${this.group} on ${this.topic} crashed`, { cause: event.payload.error }));
      }
    });
    if (this.options.commits !== 'checkpointed') {
      this.#commitTimer = setInterval(() => void this.#commitHandled(), COMMIT_INTERVAL_MS);
      this.#commitTimer.unref();
    }
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: this.options.fromBeginning ?? true });
      await consumer.run({
        // Offsets are committed by hand: what the handler finished, every COMMIT_INTERVAL_MS and
        // on close (a crash or a rebalance redelivers at most that second's handled messages,
        // which consumers take twice anyway), or, for a checkpointing consumer, only what it
        // passes to commit().
        eachBatchAutoResolve: false,
        autoCommit: false,
        // urgentFirst: every partition of a fetch is in hand at once, so the one holding a leak can go first.
        partitionsConsumedConcurrently: this.options.urgentFirst ? URGENT_FIRST_CONCURRENCY : 1,
        eachBatch: (payload) => (this.options.urgentFirst ? this.#urgentFirst(payload) : this.#eachBatch(payload)),
      });
    } catch (cause) {
      const err = new KafkaBusError('GAS_KAFKA_CONNECT', `Consumer ${this.group} on ${this.topic} could not start`, { cause, retryable: true });
      this.#readyReject(err);
      throw err;
    }
  }

  #onJoin(partitions: number[]): void {
    const now = [...partitions].sort((a, b) => a - b);
    const before = this.#assigned;
    const revoked = before.filter((p) => !now.includes(p));
    const added = now.filter((p) => !before.includes(p));
    this.#assigned = now;
    // Their new owner commits them now: an older offset from here would only move them back.
    for (const p of revoked) {
      this.#handled.delete(p);
      this.#committed.delete(p);
    }
    this.#assignment = this.#assignment.then(async () => {
      if (revoked.length > 0) await this.#callback('onRevoked', revoked);
      if (added.length > 0) await this.#callback('onAssigned', added);
      this.#readyResolve();
    });
  }

  /** Retries a failing callback with back-off: processing a partition without its state would be wrong. */
  async #callback(name: 'onAssigned' | 'onRevoked', partitions: number[]): Promise<void> {
    const fn = this.options[name];
    if (!fn) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await fn.call(this.options, partitions);
        return;
      } catch (err) {
        if (this.#closed || name === 'onRevoked') {
          this.log?.error({ err, group: this.group, topic: this.topic, partitions }, `${name} failed`);
          return;
        }
        this.log?.error({ err, group: this.group, topic: this.topic, partitions, attempt }, `${name} failed; retrying`);
        await sleep(this.#backoffMs(attempt));
      }
    }
  }

  #backoffMs(attempt: number): number {
    const base = Math.min(this.settings.retryBackoffMaxMs, 100 * 2 ** Math.min(attempt - 1, 16));
    return base / 2 + Math.random() * (base / 2);
  }

  /** Awaits `work` while heartbeating, so a long handler or state restore keeps group membership. */
  async #withHeartbeats<R>(work: Promise<R>, heartbeat: () => Promise<void>): Promise<R> {
    const timer = setInterval(() => {
      // A failed heartbeat (rebalance) is seen again by the heartbeat after the work.
      heartbeat().catch(() => {});
    }, this.settings.heartbeatIntervalMs);
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * A batch holding a record marked urgent is worked on while the fetch's other batches wait at
   * their next handler call; order within each partition is untouched. A turn of the event loop
   * first, so that every batch of the fetch is counted before any starts.
   */
  async #urgentFirst(payload: EachBatchPayload): Promise<void> {
    const urgent = payload.batch.messages.some((m) => m.headers?.[URGENT_HEADER] !== undefined);
    if (!urgent) return this.#eachBatch(payload, true);
    if (this.#urgentBatches++ === 0) this.#urgentDone = new Promise((resolve) => (this.#urgentDoneResolve = resolve));
    try {
      await this.#eachBatch(payload, false);
    } finally {
      if (--this.#urgentBatches === 0) this.#urgentDoneResolve();
    }
  }

  async #eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload, yieldsToUrgent = false): Promise<void> {
    if (this.options.urgentFirst) await nextTurn();
    await this.#withHeartbeats(this.#assignment, heartbeat);
    const records = batch.messages;
    const partition = batch.partition;
    let next = 0;
    while (next < records.length) {
      // Up to maxHandlerBatch messages a handler call, however many records carry them.
      const values: unknown[] = [];
      const offsets: number[] = [];
      let last = records[next]!.offset;
      while (next < records.length && values.length < this.settings.maxHandlerBatch) {
        const m = records[next++]!;
        last = m.offset;
        if (!m.value) continue;
        try {
          const n = this.codec.decode(m.value, values);
          const offset = Number(m.offset);
          for (let i = 0; i < n; i++) offsets.push(offset);
        } catch (err) {
          // Not written by this bus: it can never be handled, so it is skipped, not retried forever.
          values.length = offsets.length;
          this.log?.error({ err, topic: this.topic, partition, offset: m.offset }, 'Skipping a record this bus cannot read');
        }
      }
      const delivery = { partition, offsets };
      while (yieldsToUrgent && this.#urgentBatches > 0) await this.#urgentDone;
      for (let attempt = 1; ; attempt++) {
        if (this.#killed || !isRunning() || isStale()) return;
        try {
          if (values.length > 0) await this.#withHeartbeats(Promise.resolve(this.handler(values, delivery)), heartbeat);
          break;
        } catch (err) {
          // Redelivery in place: same messages, same order, after a back-off; heartbeat() throws
          // when the group rebalances, and the unresolved messages then go to the next owner.
          this.log?.warn({ err, group: this.group, topic: this.topic, partition: batch.partition, attempt }, 'Handler failed; redelivering');
          await sleep(this.#backoffMs(attempt));
          await heartbeat();
        }
      }
      if (this.#killed) return;
      resolveOffset(last);
      if (this.#commitTimer) {
        this.#handled.set(partition, Number(last));
        // Closing: what is handled is committed before the member leaves the group, through the
        // batch's own commit (the consumer's commitOffsets does nothing once stopping began).
        if (this.#closed) await this.#commitHandled((offsets) => commitOffsetsIfNecessary({ topics: [{ topic: this.topic, partitions: offsets }] }));
      }
      await heartbeat();
      // A large fetch is worked through in turns of the event loop, so that other consumers' and
      // producers' I/O (a leak's alert event among them) is not held up behind all of it.
      if (performance.now() - this.#turnStartedAt >= TURN_BUDGET_MS) {
        await nextTurn();
        this.#turnStartedAt = performance.now();
      }
    }
  }

  /** With `commits: 'checkpointed'`: the group resumes `partition` after `offset`. */
  async commit(partition: number, offset: number): Promise<void> {
    if (this.#closed) throw new KafkaBusError('GAS_KAFKA_CLOSED', `Consumer ${this.group} on ${this.topic} is closed`);
    try {
      await this.consumer.commitOffsets([{ topic: this.topic, partition, offset: String(offset + 1) }]);
    } catch (cause) {
      throw new KafkaBusError('GAS_KAFKA_COMMIT', `Committing ${this.topic}[${partition}]@${offset + 1} for ${this.group} failed`, { cause, retryable: true });
    }
  }

  /** Commits the handled offsets the group does not have yet, after any commit under way; a failed one is tried again next time. */
  async #commitHandled(
    commit: (offsets: Array<{ partition: number; offset: string }>) => Promise<void> = (offsets) => this.consumer.commitOffsets(offsets.map((o) => ({ topic: this.topic, ...o }))),
  ): Promise<void> {
    while (this.#committing) await this.#committing;
    const offsets = [...this.#handled].filter(([p, o]) => this.#committed.get(p) !== o);
    if (offsets.length === 0) return;
    this.#committing = commit(offsets.map(([partition, offset]) => ({ partition, offset: String(offset + 1) })))
      .then(
        () => {
          for (const [p, o] of offsets) if (this.#handled.has(p)) this.#committed.set(p, o);
        },
        (err: unknown) => this.log?.warn({ err, group: this.group, topic: this.topic }, 'Committing handled offsets failed; trying again'),
      )
      .finally(() => (this.#committing = undefined));
    await this.#committing;
  }

  /** Leaves the group after the batch in hand is handled and committed; onRevoked gets every partition. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#commitTimer);
    if (this.#commitTimer) await this.#commitHandled();
    await this.consumer.disconnect();
    await this.#assignment;
    const owned = this.#assigned;
    this.#assigned = [];
    if (owned.length > 0) await this.#callback('onRevoked', owned);
  }

  /**
   * Simulates a crash for tests: whatever is in hand is neither resolved nor committed and no
   * onRevoked runs. (The member still leaves the group, so its partitions move at once rather
   * than after the session timeout.)
   */
  async kill(): Promise<void> {
    this.#killed = true;
    this.#closed = true;
    clearInterval(this.#commitTimer);
    await this.consumer.disconnect();
  }
}

/** A topic as a Channel: its records written and read by the topic's codec. */
export class KafkaChannel<T> implements Channel<T> {
  constructor(
    protected readonly bus: KafkaBus,
    readonly topic: string,
    protected readonly codec: RecordCodec<T>,
  ) {}

  publish(messages: readonly T[]): Promise<void> {
    return this.bus.send(this.topic, this.codec.encode(messages));
  }

  /** Joins consumer group `group`; the handler's promise resolving acknowledges its messages. */
  consume(group: string, handler: Handler<T>, options: ConsumeOptions = {}): KafkaSubscription {
    return this.bus.subscribe(group, this.topic, this.codec as RecordCodec<unknown>, handler as Handler<unknown>, options);
  }
}

/** Readings, sent per gateway: what keeps a gateway's order when a leak takes the urgent producer. */
export class KafkaReadingsChannel extends KafkaChannel<Reading> {
  override publish(readings: readonly Reading[]): Promise<void> {
    const gatewayId = readings[0]?.gatewayId ?? '';
    for (let i = 1; i < readings.length; i++) {
      if (readings[i]!.gatewayId !== gatewayId) return this.#publishPerGateway(readings);
    }
    return this.bus.sendReadings(this.topic, this.codec.encode(readings), gatewayId);
  }

  /** Ingest's publishes carry one gateway's batch; a mix (a tool's) goes as one send per gateway. */
  #publishPerGateway(readings: readonly Reading[]): Promise<void> {
    const byGateway = new Map<string, Reading[]>();
    for (const r of readings) {
      const list = byGateway.get(r.gatewayId);
      if (list === undefined) byGateway.set(r.gatewayId, [r]);
      else list.push(r);
    }
    return Promise.all([...byGateway].map(([gatewayId, list]) => this.bus.sendReadings(this.topic, this.codec.encode(list), gatewayId))).then(() => undefined);
  }
}

/**
 * The bus over Kafka. `KafkaBus.start` connects, creates the topics and checks that readings and
 * processor state have the same partition count (a device's state must live in the partition
 * number of its readings).
 */
export class KafkaBus implements Bus {
  readonly readings: KafkaReadingsChannel;
  readonly gatewayStatus: KafkaChannel<GatewayStatus>;
  readonly alertEvents: KafkaChannel<AlertEvent>;
  readonly deadLetters: KafkaChannel<DeadLetter>;
  /** Compacted, keyed by deviceId: the processors' device state per partition. */
  readonly state: KafkaStateStore;
  readonly topics: { [K in keyof typeof TOPICS]: string };
  readonly options: KafkaBusOptions;

  readonly #kafka: Kafka;
  readonly #producer: Producer;
  readonly #admin: Admin;
  readonly #publisher: Publisher;
  /** Readings that may raise a gas alarm (ingest's only); connected on the first readings sent. */
  readonly #urgentProducer: Producer;
  readonly #readingsLanes: ReadingsLanes;
  #urgentConnected?: Promise<void>;
  /**
   * Checkpoints write megabytes at a time: on a producer of their own, so alert events and
   * readings never queue behind them. Connected on the first save (only processors save).
   */
  readonly #stateProducer: Producer;
  readonly #statePublisher: Publisher;
  #stateConnected?: Promise<void>;
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #partitioner = Partitioners.DefaultPartitioner();
  readonly #partitionMetadata = new Map<number, PartitionMetadata[]>();
  readonly #devicePartitions = new Map<string, number>();
  readonly #log: Logger | undefined;
  #closed = false;

  /** The key a device's readings are partitioned by; its state lives in the same partition. */
  readonly #placement: (deviceId: string) => string;

  private constructor(options: KafkaBusOptions, log: Logger | undefined, placement: (deviceId: string) => string, mayBeUrgent?: (readings: readonly Reading[]) => boolean) {
    this.options = options;
    this.#log = log;
    this.#placement = placement;
    const p = options.topicPrefix;
    this.topics = {
      readings: p + TOPICS.readings,
      gatewayStatus: p + TOPICS.gatewayStatus,
      alertEvents: p + TOPICS.alertEvents,
      deadLetters: p + TOPICS.deadLetters,
      processorState: p + TOPICS.processorState,
    };
    this.#kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs,
      logLevel: log ? logLevel.INFO : logLevel.NOTHING,
      logCreator: logCreator(log?.child({ component: 'kafkajs' })),
    });
    // Idempotent (no duplicates from producer retries) requires acks=-1 and one request in flight.
    this.#producer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.#admin = this.#kafka.admin();
    const compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    const joinReadings = (topic: string, messages: Message[]): Message[] => (topic === this.topics.readings ? joinReadingRecords(messages) : messages);
    this.#publisher = new Publisher(this.#producer, compression, undefined, undefined, joinReadings);
    this.#urgentProducer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.#readingsLanes = new ReadingsLanes(this.#publisher, new Publisher(this.#urgentProducer, compression, undefined, undefined, joinReadings));
    this.readings = new KafkaReadingsChannel(this, this.topics.readings, readingRecords((deviceId) => this.partitionOfDevice(deviceId), mayBeUrgent));
    this.gatewayStatus = new KafkaChannel<GatewayStatus>(this, this.topics.gatewayStatus, jsonRecords((s) => s.gatewayId));
    this.alertEvents = new KafkaChannel<AlertEvent>(this, this.topics.alertEvents, jsonRecords((e) => e.subjectId));
    this.deadLetters = new KafkaChannel<DeadLetter>(this, this.topics.deadLetters, jsonRecords((d) => d.deviceId ?? d.gatewayId));
    this.#stateProducer = this.#kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    this.#statePublisher = new Publisher(this.#stateProducer, CompressionTypes.GZIP, 10_000, STATE_REQUEST_BYTES);
    this.state = new KafkaStateStore(this.#kafka, this.#admin, this.topics.processorState, options, (topic, messages) => this.#sendState(topic, messages), log, (deviceId) => this.partitionOfDevice(deviceId));
  }

  /**
   * `placement` maps a device to the key its readings are partitioned by (default: its own id).
   * Devices that are judged together, a gas alarm and the shut-off valve it is linked to, must
   * share a key so one processor instance holds both. `mayBeUrgent` marks the readings records
   * whose readings may raise a gas alarm, for consumers that work on those first (`urgentFirst`).
   */
  static async start(
    input: KafkaBusOptionsInput | KafkaBusOptions,
    log?: Logger,
    placement: (deviceId: string) => string = (id) => id,
    mayBeUrgent?: (readings: readonly Reading[]) => boolean,
  ): Promise<KafkaBus> {
    const bus = new KafkaBus(parseKafkaBusOptions(input), log, placement, mayBeUrgent);
    try {
      await bus.#admin.connect();
      await bus.#producer.connect();
      await bus.#createTopics();
    } catch (cause) {
      await bus.close().catch(() => {});
      if (cause instanceof KafkaBusError) throw cause;
      throw new KafkaBusError('GAS_KAFKA_CONNECT', `Kafka at ${bus.options.brokers.join(',')} unreachable or refused setup`, { cause, retryable: true });
    }
    return bus;
  }

  async #createTopics(): Promise<void> {
    const { partitions, replicationFactor } = this.options;
    const topic = (name: string, configEntries: ITopicConfig['configEntries'] = []): ITopicConfig => ({
      topic: name,
      numPartitions: partitions,
      replicationFactor,
      configEntries,
    });
    await this.#admin.createTopics({
      waitForLeaders: true,
      topics: [
        topic(this.topics.readings),
        topic(this.topics.gatewayStatus),
        topic(this.topics.alertEvents),
        topic(this.topics.deadLetters),
        // Segments small enough to be compacted while the checkpoints run: a restore reads what is left.
        topic(this.topics.processorState, [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.bytes', value: String(64 * 1024 * 1024) },
          { name: 'min.cleanable.dirty.ratio', value: '0.25' },
        ]),
      ],
    });
    // Topics that already existed keep their partition count: co-partitioning must still hold.
    const meta = await this.#admin.fetchTopicMetadata({ topics: [this.topics.readings, this.topics.processorState] });
    // Ready means every partition answers offset requests: new topics' leaders may still be settling.
    for (const topic of Object.values(this.topics)) await retryRetriable(() => this.#admin.fetchTopicOffsets(topic));
    const counts = meta.topics.map((t) => t.partitions.length);
    if (counts[0] !== counts[1]) {
      throw new KafkaBusError(
        'GAS_KAFKA_TOPICS',
        `${this.topics.readings} has ${counts[0]} partitions but ${this.topics.processorState} has ${counts[1]}; they must match`,
      );
    }
    this.state.partitions = counts[0];
  }

  /** The partition a key lands on, as the producer computes it (murmur2, as the Java client). */
  partitionOf(key: string, partitions = this.state.partitions): number {
    // Made once per partition count: ingest asks for every reading.
    let partitionMetadata = this.#partitionMetadata.get(partitions);
    if (partitionMetadata === undefined) {
      partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
      this.#partitionMetadata.set(partitions, partitionMetadata);
    }
    return this.#partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
  }

  /** The partition of a device's readings and state; remembered, as ingest asks for every reading. */
  partitionOfDevice(deviceId: string): number {
    let partition = this.#devicePartitions.get(deviceId);
    if (partition === undefined) {
      partition = this.partitionOf(this.#placement(deviceId));
      this.#devicePartitions.set(deviceId, partition);
    }
    return partition;
  }

  /** The device's placement key may have changed (its registry record did): computed afresh next time. */
  placementChanged(deviceId: string): void {
    this.#devicePartitions.delete(deviceId);
  }

  /** @internal Used by the channels and the state store. */
  send(topic: string, messages: Message[]): Promise<void> {
    if (this.#closed) return Promise.reject(new KafkaBusError('GAS_KAFKA_CLOSED', 'The Kafka bus is closed'));
    return this.#publisher.send(topic, messages);
  }

  /** The urgent readings producer is connected: possible gas alarms no longer go the routine way. */
  get urgentLaneReady(): boolean {
    return this.#readingsLanes.urgentReady;
  }

  /** @internal Used by the readings channel: one gateway's readings records. */
  sendReadings(topic: string, messages: Message[], gatewayId: string): Promise<void> {
    if (this.#closed) return Promise.reject(new KafkaBusError('GAS_KAFKA_CLOSED', 'The Kafka bus is closed'));
    this.#urgentConnected ??= this.#urgentProducer.connect().then(
      () => void (this.#readingsLanes.urgentReady = !this.#closed),
      (err: unknown) => {
        // Leaks go the routine way meanwhile; the next readings sent try again.
        this.#urgentConnected = undefined;
        this.#log?.warn({ err }, 'The urgent readings producer could not connect');
      },
    );
    return this.#readingsLanes.send(topic, messages, gatewayId);
  }

  #sendState(topic: string, messages: Message[]): Promise<void> {
    if (this.#closed) return Promise.reject(new KafkaBusError('GAS_KAFKA_CLOSED', 'The Kafka bus is closed'));
    this.#stateConnected ??= this.#stateProducer.connect().catch((cause: unknown) => {
      this.#stateConnected = undefined;
      throw new KafkaBusError('GAS_KAFKA_CONNECT', 'The state producer could not connect', { cause, retryable: true });
    });
    return this.#stateConnected.then(() => this.#statePublisher.send(topic, messages));
  }

  /** @internal Used by the channels. */
  subscribe(group: string, topic: string, codec: RecordCodec<unknown>, handler: Handler<unknown>, options: ConsumeOptions): KafkaSubscription {
    const consumer = this.#kafka.consumer({
      groupId: kafkaGroupId(group, topic),
      sessionTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      // Short fetch waits keep close() and rebalances quick; a bulk consumer lets the broker gather
      // BULK_FETCH_BYTES first (measured: the alerts role's history consumer spent 2 s of 10 in
      // socket writes of tiny fetches at 100k readings/s).
      ...(options.fetch === 'bulk' ? { minBytes: BULK_FETCH_BYTES, maxWaitTimeInMs: BULK_FETCH_WAIT_MS } : { maxWaitTimeInMs: 500 }),
      retry: { initialRetryTime: 100, retries: 10, maxRetryTime: this.options.retryBackoffMaxMs },
    });
    const sub = new KafkaSubscription(group, topic, consumer, codec, handler, options, this.options, this.#log?.child({ group, topic }));
    this.#subscriptions.add(sub);
    sub.start().catch((err: unknown) => this.#log?.error({ err, group, topic }, 'Kafka consumer did not start'));
    return sub;
  }

  /**
   * Lag per partition: high watermark minus the group's committed offset. Without arguments, for
   * every group and topic consumed through this bus; pass pairs to watch groups of other processes.
   */
  async lag(targets?: ReadonlyArray<{ group: string; topic: string }>): Promise<ConsumerLag[]> {
    return retryRetriable(() => this.#lag(targets));
  }

  async #lag(targets?: ReadonlyArray<{ group: string; topic: string }>): Promise<ConsumerLag[]> {
    const pairs = targets ?? [...new Map([...this.#subscriptions].map((s) => [`${s.group}\0${s.topic}`, { group: s.group, topic: s.topic }])).values()];
    const rows: ConsumerLag[] = [];
    const highs = new Map<string, Awaited<ReturnType<Admin['fetchTopicOffsets']>>>();
    for (const { group, topic } of pairs) {
      let high = highs.get(topic);
      if (!high) {
        high = await this.#admin.fetchTopicOffsets(topic);
        highs.set(topic, high);
      }
      const [committed] = await this.#admin.fetchOffsets({ groupId: kafkaGroupId(group, topic), topics: [topic] });
      for (const h of high) {
        const c = Number(committed?.partitions.find((p) => p.partition === h.partition)?.offset ?? -1);
        const highWatermark = Number(h.high);
        const from = c >= 0 ? c : Number(h.low);
        rows.push({ group, topic, partition: h.partition, committedOffset: c, highWatermark, lag: Math.max(0, highWatermark - from) });
      }
    }
    return rows.sort((a, b) => a.group.localeCompare(b.group) || a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** A fresh unique group id, for tools and tests that read a topic on their own. */
  static privateGroup(prefix: string): string {
    return `${prefix}.${randomUUID()}`;
  }

  /** Closes every subscription (committing what was handled), then the producer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const subs = [...this.#subscriptions];
    this.#subscriptions.clear();
    await Promise.allSettled(subs.map((s) => s.close()));
    this.#closed = true;
    this.#readingsLanes.urgentReady = false;
    await Promise.allSettled([this.#producer.disconnect(), this.#urgentProducer.disconnect(), this.#stateProducer.disconnect(), this.#admin.disconnect()]);
  }
}
