/**
 * Client choice by measurement: kafkajs against @platformatic/kafka on the readings path's own
 * records. The simulator fleet's readings are grouped as gateways send them (one MQTT message per
 * gateway and round, 100 readings) and encoded exactly as the pipeline does, with
 * `readingRecords(partitionOfDevice)` (one compact record per partition per published message, the
 * partition set explicitly from the Java/kafkajs murmur2 of the device's placement key, key null).
 *
 * Each client, on a fresh topic of its own per run (`--partitions`, 6), with the bus's consumer
 * session and heartbeat defaults:
 *  - single-send latency, idle: one MQTT message's records per send, one at a time with 5 ms
 *    between, after 20 warm-up sends; p50/p99 from an HDR histogram;
 *  - produce: idempotent producer, acks=-1, no compression, one request in flight, each request the
 *    records of `--messages-per-send` MQTT messages kept under 800,000 bytes, as the bus's coalescing
 *    publisher sends them; `--readings` readings in all (the pool of encoded messages is cycled);
 *  - consume: a new consumer group reads the whole topic from the beginning, decodes every record
 *    with the codec's `decode` and commits what it decoded (kafkajs: eachBatch, offsets resolved by
 *    hand and committed after each batch, as the bus runs it; @platformatic/kafka: autocommit off (it
 *    would commit what was fetched, not what was handled), `consumer.commit` of the decoded records'
 *    offsets every 250 records, about as often, one commit in flight). Timed from the first record
 *    to the last decoded, so the group join (reported apart) is not counted.
 * Every phase also reports this process's CPU seconds (process.cpuUsage), so readings per CPU-second
 * show each client's efficiency whatever else the machine runs (the broker is on it too). Rounds
 * alternate which client goes first. Then a few capability checks of what the bus needs from a
 * client (see bench/kafka-clients.md). The bench's topics and groups are deleted at the end.
 *
 *   KAFKA_BROKERS=127.0.0.1:29092 npx tsx bench/kafka-clients.ts [--readings 1000000] [--rounds 2]
 *     [--messages-per-send 50] [--latency-sends 200] [--partitions 6] [--skip-capabilities]
 *     [--out bench/out/kafka-clients.json]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Admin as PlatformaticAdmin,
  Consumer as PlatformaticConsumer,
  Producer as PlatformaticProducer,
  compatibilityPartitioner,
  defaultPartitioner,
  stringSerializers,
} from '@platformatic/kafka';
import { CompressionTypes, Kafka, Partitioners, logLevel, type Message, type PartitionMetadata } from 'kafkajs';
import { parseKafkaBusOptions } from '../bus/kafka-options.ts';
import { retryRetriable } from '../bus/kafka-errors.ts';
import { readingRecords } from '../bus/record-codecs.ts';
import type { Reading } from '../contracts/messages.ts';
import { createFleet } from '../simulators/fleet.ts';
import { LatencyHistogram, cliArgs, writeResult, type Percentiles } from './common.ts';

export const CLIENTS = ['kafkajs', 'platformatic'] as const;
export type ClientName = (typeof CLIENTS)[number];
export const CLIENT_LABEL: Record<ClientName, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' };

/** One phase of one run: what went through and what it cost this process. */
export interface PhaseFigures {
  seconds: number;
  records: number;
  readings: number;
  recordsPerS: number;
  readingsPerS: number;
  /** User + system CPU seconds of this process over the phase. */
  cpuSeconds: number;
  /** cpuSeconds ÷ seconds, 100 = one core. */
  cpuPct: number;
  readingsPerCpuS: number;
}

export interface ClientRun {
  client: ClientName;
  version: string;
  round: number;
  /** 1 when this client went first in its round. */
  order: number;
  produce: PhaseFigures & { sends: number; bytes: number };
  consume: PhaseFigures & { joinSeconds: number; commits: number };
  /** One MQTT message's records per send, idle. */
  sendLatencyMs: Percentiles;
}

export interface ClientSummary {
  client: ClientName;
  version: string;
  /** Means over the rounds. */
  produceReadingsPerS: number;
  produceReadingsPerCpuS: number;
  consumeReadingsPerS: number;
  consumeReadingsPerCpuS: number;
  /** Medians over the rounds. */
  sendP50Ms: number;
  sendP99Ms: number;
}

/** platformatic ÷ kafkajs: above 1 is platformatic better, except for latency (below 1 is better). */
export interface Ratio {
  mean: number;
  perRound: number[];
}

export interface Capability {
  check: string;
  /** null: not checked for this client. */
  kafkajs: boolean | null;
  platformatic: boolean;
  note: string;
}

export interface KafkaClientsResults {
  partitions: number;
  readingsPerRun: number;
  recordsPerRun: number;
  readingsPerRecord: number;
  bytesPerRecord: number;
  messagesPerSend: number;
  runs: ClientRun[];
  summary: Record<ClientName, ClientSummary>;
  ratios: { produce: Ratio; produceCpu: Ratio; consume: Ratio; consumeCpu: Ratio; sendP50: Ratio; sendP99: Ratio };
  verdict: { faster: ClientName | 'neither'; clearlyFaster: boolean; keep: ClientName; text: string };
  capabilities: Capability[];
}

/** "Clearly faster": ahead by at least this factor in produce and in consume readings/s, in every round. */
export const CLEAR_MARGIN = 1.2;
const DEVICES_PER_GATEWAY = 100;
const MAX_FLEET = 20_000;
const MAX_POOL_READINGS = 100_000;
const STEP_MS = 30_000;
/** The bus's publisher keeps a request under this (bus/kafka-bus.ts `Publisher`). */
const MAX_REQUEST_BYTES = 800_000;
const WARMUP_SENDS = 20;
const LATENCY_GAP_MS = 5;
const PLATFORMATIC_COMMIT_EVERY = 250;
const CLIENT_ID = 'gas-bench-clients';

/** One MQTT message as it leaves ingest: its readings' Kafka records. */
interface Uplink {
  records: Message[];
  readings: number;
  bytes: number;
}

/** The producer side of a client, as the bench drives it. */
interface BenchProducer {
  send(topic: string, records: readonly Message[]): Promise<void>;
  close(): Promise<void>;
}

interface ConsumeFigures {
  joinSeconds: number;
  seconds: number;
  cpuSeconds: number;
  records: number;
  readings: number;
  commits: number;
}

interface BenchClient {
  name: ClientName;
  version: string;
  createTopic(topic: string, partitions: number): Promise<void>;
  producer(): Promise<BenchProducer>;
  /** Reads `topic` from the beginning in group `groupId` until `readings` readings are decoded. */
  consumeAll(topic: string, groupId: string, readings: number): Promise<ConsumeFigures>;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};
/** Readings decoded by the codec; the decoder needs no partition function. */
const decoder = readingRecords(() => 0);

function phase(seconds: number, records: number, readings: number, cpu: number): PhaseFigures {
  return {
    seconds: Number(seconds.toFixed(3)),
    records,
    readings,
    recordsPerS: Math.round(records / seconds),
    readingsPerS: Math.round(readings / seconds),
    cpuSeconds: Number(cpu.toFixed(3)),
    cpuPct: Math.round((100 * cpu) / seconds),
    readingsPerCpuS: Math.round(readings / Math.max(cpu, 1e-6)),
  };
}

/** Closes a consumer, leaving its streams: `close(true)` is typed by its callback overload, so the callback is given. */
function closeConsumer(consumer: PlatformaticConsumer): Promise<void> {
  return new Promise<void>((resolve, reject) => consumer.close(true, (err) => (err ? reject(err) : resolve())));
}

/** A consumer's deadline: a group that never delivers everything fails the run instead of hanging it. */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// --- the clients -------------------------------------------------------------------------------

function kafkajsClient(brokers: string[], sessionTimeout: number, heartbeatInterval: number): BenchClient {
  const kafka = new Kafka({ clientId: CLIENT_ID, brokers, logLevel: logLevel.NOTHING });
  return {
    name: 'kafkajs',
    version: installedVersion('kafkajs'),
    async createTopic(topic, partitions) {
      // An admin of its own each time: one kept across rounds asks the broker for the metadata of
      // the previous round's topic, deleted meanwhile, and fails with UNKNOWN_TOPIC_OR_PARTITION.
      const admin = kafka.admin();
      await admin.connect();
      try {
        await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
        // As KafkaBus.start: ready once every partition answers an offsets request (leaders may still be settling).
        await retryRetriable(() => admin.fetchTopicOffsets(topic));
      } finally {
        await admin.disconnect();
      }
    },
    async producer() {
      // As the bus makes it: idempotent requires acks=-1 and one request in flight.
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      return {
        async send(topic, records) {
          await producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages: [{ topic, messages: records as Message[] }] });
        },
        close: () => producer.disconnect(),
      };
    },
    async consumeAll(topic, groupId, expected) {
      const consumer = kafka.consumer({ groupId, sessionTimeout, heartbeatInterval, maxWaitTimeInMs: 500 });
      const started = performance.now();
      let firstAt = 0;
      let cpu0 = process.cpuUsage();
      let records = 0;
      let readings = 0;
      let commits = 0;
      let finish!: (figures: ConsumeFigures) => void;
      const done = new Promise<ConsumeFigures>((resolve) => (finish = resolve));
      try {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          // As the bus runs it: offsets resolved by hand after the batch is handled, committed after each batch.
          eachBatchAutoResolve: false,
          autoCommit: true,
          eachBatch: async ({ batch, resolveOffset }) => {
            if (firstAt === 0) {
              firstAt = performance.now();
              cpu0 = process.cpuUsage();
            }
            const values: Reading[] = [];
            for (const m of batch.messages) {
              if (!m.value) continue;
              readings += decoder.decode(m.value, values);
              records++;
            }
            resolveOffset(batch.lastOffset());
            commits++;
            if (readings >= expected) {
              const end = performance.now();
              finish({ joinSeconds: (firstAt - started) / 1000, seconds: (end - firstAt) / 1000, cpuSeconds: cpuSeconds(cpu0), records, readings, commits });
            }
          },
        });
        return await withTimeout(done, 300_000, `kafkajs consumer on ${topic}`);
      } finally {
        await consumer.disconnect().catch(() => undefined);
      }
    },
    async close() {},
  };
}

/** A package's installed version (its package.json, which an `exports` map may not expose). */
function installedVersion(pkg: string): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(pkg));
  while (!dir.endsWith(join('node_modules', pkg)) && dir !== dirname(dir)) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

function platformaticClient(brokers: string[], sessionTimeout: number, heartbeatInterval: number): BenchClient {
  const admin = new PlatformaticAdmin({ clientId: CLIENT_ID, bootstrapBrokers: brokers });
  return {
    name: 'platformatic',
    version: installedVersion('@platformatic/kafka'),
    async createTopic(topic, partitions) {
      await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
      // createTopics does not wait for leaders: wait until every partition answers an offsets request.
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }] });
          return;
        } catch (err) {
          if (attempt >= 50) throw err;
          await sleep(100);
        }
      }
    },
    async producer() {
      // idempotent: true makes it acks=-1 with one request in flight per connection.
      // No serializers: the readings records are bytes already (a string serializer turns them into null values).
      const producer = new PlatformaticProducer({ clientId: CLIENT_ID, bootstrapBrokers: brokers, idempotent: true });
      return {
        async send(topic, records) {
          await producer.send({ messages: records.map((r) => ({ topic, partition: r.partition, value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value! })) });
        },
        close: () => producer.close(),
      };
    },
    async consumeAll(topic, groupId, expected) {
      const consumer = new PlatformaticConsumer({ clientId: CLIENT_ID, groupId, bootstrapBrokers: brokers, sessionTimeout, heartbeatInterval, maxWaitTime: 500 });
      const started = performance.now();
      try {
        const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
        const work = new Promise<ConsumeFigures>((resolve, reject) => {
          let firstAt = 0;
          let endAt = 0;
          let cpu0 = process.cpuUsage();
          let cpu = 0;
          let records = 0;
          let readings = 0;
          let commits = 0;
          let since = 0;
          let committing = false;
          let values: Reading[] = [];
          const next = new Map<number, bigint>();
          // Commits what was decoded so far, one commit in flight, without holding the stream back.
          const commit = () => {
            committing = true;
            since = 0;
            const last = endAt > 0;
            const offsets = [...next].map(([partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1 }));
            consumer.commit({ offsets }).then(() => {
              commits++;
              committing = false;
              if (last) resolve({ joinSeconds: (firstAt - started) / 1000, seconds: (endAt - firstAt) / 1000, cpuSeconds: cpu, records, readings, commits });
              else if (endAt > 0 || since >= PLATFORMATIC_COMMIT_EVERY) commit();
            }, reject);
          };
          stream.on('error', reject);
          stream.on('data', (m) => {
            if (firstAt === 0) {
              firstAt = performance.now();
              cpu0 = process.cpuUsage();
            }
            if (m.value) {
              // Decoded into one array per 250 records, as kafkajs hands over a batch.
              if (records % PLATFORMATIC_COMMIT_EVERY === 0) values = [];
              readings += decoder.decode(m.value, values);
              records++;
            }
            next.set(m.partition, m.offset + 1n);
            since++;
            if (readings >= expected && endAt === 0) {
              endAt = performance.now();
              cpu = cpuSeconds(cpu0);
            }
            if (!committing && (since >= PLATFORMATIC_COMMIT_EVERY || endAt > 0)) commit();
          });
        });
        return await withTimeout(work, 300_000, `@platformatic/kafka consumer on ${topic}`);
      } finally {
        await closeConsumer(consumer).catch(() => undefined);
      }
    },
    close: () => admin.close(),
  };
}

// --- the run -----------------------------------------------------------------------------------

/** The partition of a placement key as kafkajs's default (Java) partitioner computes it. */
function murmur2Partitioner(partitions: number): (key: string) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return (key) => partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}

/** Gateways' MQTT messages of the simulator fleet, encoded by the readings codec. */
function buildUplinks(readingsWanted: number, partitions: number): Uplink[] {
  const devices = Math.min(MAX_FLEET, Math.max(DEVICES_PER_GATEWAY, Math.ceil(readingsWanted / DEVICES_PER_GATEWAY) * DEVICES_PER_GATEWAY));
  const fleet = createFleet({ gateways: devices / DEVICES_PER_GATEWAY, devices, seed: 1, stepMs: STEP_MS });
  const valveOf = new Map(fleet.registry().filter((r) => r.valveId).map((r) => [r.deviceId, r.valveId!]));
  const partitionOf = murmur2Partitioner(partitions);
  const codec = readingRecords((deviceId) => partitionOf(valveOf.get(deviceId) ?? deviceId));
  const rounds = Math.ceil(Math.min(readingsWanted, MAX_POOL_READINGS) / devices);
  const startMs = Date.now() - rounds * STEP_MS;
  const uplinks: Uplink[] = [];
  for (let round = 0; round < rounds; round++) {
    const atMs = startMs + round * STEP_MS;
    const at = new Date(atMs).toISOString();
    fleet.byGateway.forEach((gatewayDevices, g) => {
      const receivedAtMs = atMs + 200 + g;
      const readings = gatewayDevices.map((device) => {
        fleet.advance(device);
        return { ...fleet.reading(device, at), gatewayId: device.gatewayId, atMs, receivedAtMs } as Reading;
      });
      const records = codec.encode(readings);
      uplinks.push({ records, readings: readings.length, bytes: records.reduce((n, r) => n + Buffer.byteLength(r.value as string), 0) });
    });
  }
  return uplinks;
}

interface Written {
  records: number;
  readings: number;
}

async function runClient(client: BenchClient, options: { topic: string; groupId: string; partitions: number; readings: number; messagesPerSend: number; latencySends: number; uplinks: Uplink[]; round: number; order: number }): Promise<ClientRun> {
  const { topic, uplinks } = options;
  await client.createTopic(topic, options.partitions);
  const producer = await client.producer();
  const written: Written = { records: 0, readings: 0 };
  let cursor = 0;
  const nextUplink = () => uplinks[cursor++ % uplinks.length]!;
  const sendOne = async (u: Uplink) => {
    await producer.send(topic, u.records);
    written.records += u.records.length;
    written.readings += u.readings;
  };
  let produce: ClientRun['produce'];
  const latency = new LatencyHistogram();
  try {
    for (let i = 0; i < WARMUP_SENDS; i++) await sendOne(nextUplink());
    // Idle: one uplink at a time, a pause between.
    for (let i = 0; i < options.latencySends; i++) {
      await sleep(LATENCY_GAP_MS);
      const u = nextUplink();
      const t0 = performance.now();
      await sendOne(u);
      latency.recordMs(performance.now() - t0);
    }
    await sleep(200);

    let records = 0;
    let readings = 0;
    let bytes = 0;
    let sends = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (readings < options.readings) {
      // One request: the records of up to messagesPerSend uplinks, under the publisher's byte bound.
      const batch: Message[] = [];
      let batchBytes = 0;
      let batchReadings = 0;
      for (let m = 0; m < options.messagesPerSend && readings + batchReadings < options.readings; m++) {
        const u = uplinks[cursor % uplinks.length]!;
        if (batch.length > 0 && batchBytes + u.bytes > MAX_REQUEST_BYTES) break;
        cursor++;
        for (const r of u.records) batch.push(r);
        batchBytes += u.bytes;
        batchReadings += u.readings;
      }
      await producer.send(topic, batch);
      sends++;
      records += batch.length;
      readings += batchReadings;
      bytes += batchBytes;
    }
    const seconds = (performance.now() - t0) / 1000;
    produce = { ...phase(seconds, records, readings, cpuSeconds(cpu0)), sends, bytes };
    written.records += records;
    written.readings += readings;
  } finally {
    await producer.close();
  }
  await sleep(200);
  const c = await client.consumeAll(topic, options.groupId, written.readings);
  if (c.readings !== written.readings || c.records !== written.records) {
    throw new Error(`${client.name} consumed ${c.records} records / ${c.readings} readings of ${written.records} / ${written.readings} written to ${topic}`);
  }
  return {
    client: client.name,
    version: client.version,
    round: options.round,
    order: options.order,
    produce,
    consume: { ...phase(c.seconds, c.records, c.readings, c.cpuSeconds), joinSeconds: Number(c.joinSeconds.toFixed(3)), commits: c.commits },
    sendLatencyMs: latency.percentilesMs(),
  };
}

// --- what the bus needs from a client ----------------------------------------------------------

async function topicTotal(admin: PlatformaticAdmin, topic: string, partitions: number): Promise<number> {
  const [t] = await admin.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })) }] });
  return (t?.partitions ?? []).reduce((n, p) => n + Number(p.offset), 0);
}

/**
 * Checks, against the broker, the features the bus uses from kafkajs; each is recorded with what
 * was seen. Not a port of the bus: bus/kafka-bus.test.ts would be the real test of one.
 */
async function capabilities(brokers: string[], prefix: string, uplinks: Uplink[], sessionTimeout: number, heartbeatInterval: number): Promise<Capability[]> {
  const out: Capability[] = [];
  const admin = new PlatformaticAdmin({ clientId: CLIENT_ID, bootstrapBrokers: brokers });
  const kafka = new Kafka({ clientId: CLIENT_ID, brokers, logLevel: logLevel.NOTHING });
  const topic = `${prefix}caps`;
  const stateTopic = `${prefix}caps-state`;
  const parts = 6;
  let afterRebalance: { buffered: number; stale: number } | undefined;
  const check = async (name: string, fn: () => Promise<Omit<Capability, 'check'>>) => {
    try {
      out.push({ check: name, ...(await fn()) });
    } catch (err) {
      out.push({ check: name, kafkajs: null, platformatic: false, note: `failed: ${(err as Error).message}` });
    }
  };
  try {
    await check('admin: create topics, one with configs (the compacted state topic)', async () => {
      await admin.createTopics({ topics: [topic], partitions: parts, replicas: 1 });
      const [created] = await admin.createTopics({
        topics: [stateTopic],
        partitions: parts,
        replicas: 1,
        configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'segment.bytes', value: String(64 * 1024 * 1024) }, { name: 'min.cleanable.dirty.ratio', value: '0.25' }],
      });
      const policy = created?.configuration?.['cleanup.policy'];
      for (let i = 0; i < 50; i++) {
        try {
          await topicTotal(admin, stateTopic, parts);
          await topicTotal(admin, topic, parts);
          break;
        } catch {
          await sleep(100);
        }
      }
      return { kafkajs: null, platformatic: policy === 'compact', note: `createTopics({ configs }) → cleanup.policy ${String(policy)}; no waitForLeaders: the first offsets request may have to be retried` };
    });

    await check('idempotent producer, acks=-1, explicit partitions, one send at a time', async () => {
      const producer = new PlatformaticProducer({ clientId: CLIENT_ID, bootstrapBrokers: brokers, idempotent: true, serializers: stringSerializers });
      let sent = 0;
      try {
        for (const u of uplinks.slice(0, 5)) {
          await producer.send({ messages: u.records.map((r) => ({ topic, partition: r.partition, value: r.value as string })) });
          sent += u.records.length;
        }
      } finally {
        await producer.close();
      }
      const held = await topicTotal(admin, topic, parts);
      return { kafkajs: null, platformatic: held === sent, note: `${sent} records sent in 5 sends, ${held} in the topic` };
    });

    await check('concurrent send() calls on one idempotent producer keep every record', async () => {
      const before = await topicTotal(admin, topic, parts);
      const five = uplinks.slice(0, 5);
      const sent = five.reduce((n, u) => n + u.records.length, 0);
      const producer = new PlatformaticProducer({ clientId: CLIENT_ID, bootstrapBrokers: brokers, idempotent: true, serializers: stringSerializers });
      try {
        await producer.send({ messages: [{ topic, partition: 0, value: '{}' }] });
        await Promise.all(five.map((u) => producer.send({ messages: u.records.map((r) => ({ topic, partition: r.partition, value: r.value as string })) })));
      } finally {
        await producer.close();
      }
      const plHeld = (await topicTotal(admin, topic, parts)) - before - 1;
      const kProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await kProducer.connect();
      const kBefore = await topicTotal(admin, topic, parts);
      try {
        await Promise.all(five.map((u) => kProducer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: u.records }] })));
      } finally {
        await kProducer.disconnect();
      }
      const kHeld = (await topicTotal(admin, topic, parts)) - kBefore;
      return {
        kafkajs: kHeld === sent,
        platformatic: plHeld === sent,
        note: `5 concurrent sends of ${sent} records: kafkajs stored ${kHeld}, @platformatic/kafka ${plHeld}, every send resolving as acknowledged (platformatic/kafka issue #326, fixed on the 2.x line); the bus's publisher has one request in flight, so it would not trip on it`,
      };
    });

    await check('keyed records partitioned as kafkajs/Java do (state topic, keyed channels)', async () => {
      const kafkajsPartition = murmur2Partitioner(parts);
      const ids = Array.from({ length: 10_000 }, (_, i) => `HM-${String(i).padStart(6, '0')}`);
      const compatible = ids.filter((id) => compatibilityPartitioner({ topic }, Buffer.from(id)) % parts === kafkajsPartition(id)).length;
      const byDefault = ids.filter((id) => defaultPartitioner({ topic }, Buffer.from(id)) % parts === kafkajsPartition(id)).length;
      return {
        kafkajs: true,
        platformatic: compatible === ids.length,
        note: `of 10,000 device ids, compatibilityPartitioner agrees on ${compatible}, the default partitioner on ${byDefault}: the producer must be given partitioner: compatibilityPartitioner to keep existing data co-partitioned`,
      };
    });

    await check('tombstones (key, null value) on the compacted topic', async () => {
      const producer = new PlatformaticProducer({ clientId: CLIENT_ID, bootstrapBrokers: brokers, idempotent: true, serializers: stringSerializers, partitioner: compatibilityPartitioner });
      try {
        await producer.send({ messages: [{ topic: stateTopic, key: 'HM-000001', value: '{"offset":1,"state":{}}' }, { topic: stateTopic, key: 'HM-000001' }] });
      } finally {
        await producer.close();
      }
      return { kafkajs: null, platformatic: (await topicTotal(admin, stateTopic, parts)) === 2, note: 'a record without a value is written as a tombstone' };
    });

    await check('consumer group: assignment on join and on rebalance, manual commit, committed offsets by admin', async () => {
      const groupId = `${prefix}caps-group`;
      const joins: string[] = [];
      const latest = new Map<string, { generation: number; partitions: number[] }>();
      const member = (name: string) => {
        const c = new PlatformaticConsumer({ clientId: `${CLIENT_ID}-${name}`, groupId, bootstrapBrokers: brokers, sessionTimeout, heartbeatInterval, maxWaitTime: 500 });
        c.on('consumer:group:join', (p) => {
          const partitions = (p.assignments ?? []).flatMap((a) => a.partitions).sort((x, y) => x - y);
          latest.set(name, { generation: p.generationId ?? -1, partitions });
          joins.push(`${name} gen ${p.generationId}: ${partitions.join(',')}`);
        });
        return c;
      };
      const a = member('A');
      const b = member('B');
      try {
        // A takes one record and pauses: the rest of its fetch waits in the stream's buffer through the rebalance.
        const sa = await a.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
        const first = await new Promise<{ partition: number; offset: bigint }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('member A got no record')), 10_000);
          sa.once('data', (m) => {
            sa.pause();
            clearTimeout(timer);
            resolve(m);
          });
        });
        await a.commit({ offsets: [{ topic, partition: first.partition, offset: first.offset + 1n, leaderEpoch: -1 }] });
        const buffered = sa.readableLength;
        const sb = await b.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false });
        sb.resume();
        // Both members' join events of the same generation: the rebalance is done.
        for (let i = 0; i < 300 && !(latest.get('A') && latest.get('A')!.generation === latest.get('B')?.generation); i++) await sleep(50);
        const mine = (name: string) => latest.get(name)?.partitions ?? [];
        const owned = [...mine('A'), ...mine('B')].sort((x, y) => x - y);
        const split = owned.join(',') === Array.from({ length: parts }, (_, p) => p).join(',') && mine('A').length > 0 && mine('B').length > 0;
        let stale = 0;
        for (let m = sa.read() as { partition: number } | null; m !== null; m = sa.read() as { partition: number } | null) if (!mine('A').includes(m.partition)) stale++;
        const [committed] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
        const seen = committed?.topics.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === first.partition)?.committedOffset;
        afterRebalance = { buffered, stale };
        return {
          kafkajs: null,
          platformatic: split && seen === first.offset + 1n,
          note: `consumer:group:join events: ${joins.join('; ')}; committed ${first.partition}@${first.offset + 1n} by consumer.commit, admin.listConsumerGroupOffsets read ${String(seen)}; the member rejoins from its heartbeat timer as soon as it sees a rebalance, whatever its handler is doing`,
        };
      } finally {
        await Promise.allSettled([closeConsumer(a), closeConsumer(b)]);
      }
    });

    await check('records of partitions that moved away are not handed out after a rebalance', async () => {
      if (!afterRebalance) throw new Error('the consumer group check did not get that far');
      const { buffered, stale } = afterRebalance;
      return {
        kafkajs: null,
        platformatic: stale === 0,
        note: `of ${buffered} records member A had fetched but not yet read when B joined, ${stale} from partitions now B's were still handed out after the rebalance; kafkajs marks such a batch with isStale(), which the bus checks, here the handler would have to compare the message's metadata generationId with the consumer's`,
      };
    });
  } finally {
    await admin.close().catch(() => undefined);
  }
  return out;
}

// --- figures and verdict -----------------------------------------------------------------------

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const r2 = (x: number) => Number(x.toFixed(2));
const r3 = (x: number) => Number(x.toFixed(3));

export function summarise(runs: ClientRun[], capabilities: Capability[]): Pick<KafkaClientsResults, 'summary' | 'ratios' | 'verdict'> {
  const of = (c: ClientName) => runs.filter((r) => r.client === c).sort((a, b) => a.round - b.round);
  const summary = Object.fromEntries(CLIENTS.map((c) => {
    const rs = of(c);
    return [c, {
      client: c,
      version: rs[0]?.version ?? '',
      produceReadingsPerS: Math.round(mean(rs.map((r) => r.produce.readingsPerS))),
      produceReadingsPerCpuS: Math.round(mean(rs.map((r) => r.produce.readingsPerCpuS))),
      consumeReadingsPerS: Math.round(mean(rs.map((r) => r.consume.readingsPerS))),
      consumeReadingsPerCpuS: Math.round(mean(rs.map((r) => r.consume.readingsPerCpuS))),
      sendP50Ms: r3(median(rs.map((r) => r.sendLatencyMs.p50))),
      sendP99Ms: r3(median(rs.map((r) => r.sendLatencyMs.p99))),
    } satisfies ClientSummary];
  })) as Record<ClientName, ClientSummary>;
  const k = of('kafkajs');
  const p = of('platformatic');
  const ratio = (get: (r: ClientRun) => number): Ratio => {
    const perRound = p.map((pr) => {
      const kr = k.find((x) => x.round === pr.round);
      return kr ? r2(get(pr) / get(kr)) : NaN;
    }).filter(Number.isFinite);
    return { mean: r2(mean(p.map(get)) / mean(k.map(get))), perRound };
  };
  const ratios = {
    produce: ratio((r) => r.produce.readingsPerS),
    produceCpu: ratio((r) => r.produce.readingsPerCpuS),
    consume: ratio((r) => r.consume.readingsPerS),
    consumeCpu: ratio((r) => r.consume.readingsPerCpuS),
    sendP50: ratio((r) => r.sendLatencyMs.p50),
    sendP99: ratio((r) => r.sendLatencyMs.p99),
  };
  const throughput = [ratios.produce, ratios.consume];
  const platformaticAhead = throughput.every((x) => x.mean > 1);
  const kafkajsAhead = throughput.every((x) => x.mean < 1);
  const faster: ClientName | 'neither' = platformaticAhead ? 'platformatic' : kafkajsAhead ? 'kafkajs' : 'neither';
  const clearlyFaster = faster === 'platformatic'
    ? throughput.every((x) => x.perRound.length > 0 && Math.min(...x.perRound) >= CLEAR_MARGIN)
    : faster === 'kafkajs'
      ? throughput.every((x) => x.perRound.length > 0 && Math.max(...x.perRound) <= 1 / CLEAR_MARGIN)
      : false;
  const failed = capabilities.filter((c) => !c.platformatic).map((c) => c.check);
  const pct = (x: number) => `${Math.round(Math.abs(x - 1) * 100)} %`;
  const lead = faster === 'neither'
    ? `neither client is faster at both: @platformatic/kafka produces at ${r2(ratios.produce.mean)}× and consumes at ${r2(ratios.consume.mean)}× kafkajs's readings/s`
    : faster === 'platformatic'
      ? `@platformatic/kafka is faster: produce +${pct(ratios.produce.mean)}, consume +${pct(ratios.consume.mean)} readings/s (${clearlyFaster ? `clearly: ≥ ${CLEAR_MARGIN}× in every round` : `not clearly: under ${CLEAR_MARGIN}× in some round`})`
      : `kafkajs is faster: @platformatic/kafka produces ${pct(ratios.produce.mean)} and consumes ${pct(ratios.consume.mean)} fewer readings/s (${clearlyFaster ? `clearly, in every round` : 'not by a clear margin in every round'})`;
  const why = faster === 'platformatic' && clearlyFaster
    ? failed.length > 0
      ? `but keep kafkajs: @platformatic/kafka failed ${failed.length} capability check(s) (${failed.join('; ')}), and the bus's Kafka tests have not been run on it`
      : 'candidate for a switch, but kafkajs stays until the bus is ported and passes every Kafka test (bus/kafka-bus.test.ts)'
    : 'so kafkajs stays';
  return { summary, ratios, verdict: { faster, clearlyFaster, keep: 'kafkajs', text: `${lead}; ${why}.` } };
}

// --- CLI ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { fail, positiveInt } = cliArgs('kafka-clients');
  const { values } = parseArgs({
    options: {
      readings: { type: 'string', default: '1000000' },
      rounds: { type: 'string', default: '2' },
      'messages-per-send': { type: 'string', default: '50' },
      'latency-sends': { type: 'string', default: '200' },
      partitions: { type: 'string', default: '6' },
      'skip-capabilities': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/out/kafka-clients.json' },
    },
  });
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) fail('KAFKA_BROKERS is required (bash scripts/services.sh start kafka)');
  const readings = positiveInt('--readings', values.readings);
  const rounds = positiveInt('--rounds', values.rounds);
  const messagesPerSend = positiveInt('--messages-per-send', values['messages-per-send']);
  const latencySends = positiveInt('--latency-sends', values['latency-sends']);
  const partitions = positiveInt('--partitions', values.partitions);
  const bus = parseKafkaBusOptions({ brokers });

  const uplinks = buildUplinks(readings, partitions);
  const poolRecords = uplinks.reduce((n, u) => n + u.records.length, 0);
  const poolReadings = uplinks.reduce((n, u) => n + u.readings, 0);
  const poolBytes = uplinks.reduce((n, u) => n + u.bytes, 0);
  const prefix = `bench.kafka-clients.${Date.now().toString(36)}.`;
  const clients: Record<ClientName, BenchClient> = {
    kafkajs: kafkajsClient(brokers, bus.sessionTimeoutMs, bus.heartbeatIntervalMs),
    platformatic: platformaticClient(brokers, bus.sessionTimeoutMs, bus.heartbeatIntervalMs),
  };
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`kafka-clients: ${uplinks.length} MQTT messages (${poolReadings} readings, ${poolRecords} records) encoded as the pipeline does; ${readings} readings a run, ${rounds} round(s)`);

  const runs: ClientRun[] = [];
  let caps: Capability[] = [];
  const groups: string[] = [];
  const clean = cleaner(brokers, prefix);
  try {
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? CLIENTS : [...CLIENTS].reverse();
      for (const [i, name] of order.entries()) {
        const topic = `${prefix}r${round}.${name}`;
        const groupId = `${topic}.consumers`;
        groups.push(groupId);
        const run = await runClient(clients[name], { topic, groupId, partitions, readings, messagesPerSend, latencySends, uplinks, round, order: i + 1 });
        await clean.topic(topic);
        runs.push(run);
        say(`round ${round}, ${CLIENT_LABEL[name]}: produce ${run.produce.readingsPerS} readings/s (CPU ${run.produce.cpuSeconds} s), consume ${run.consume.readingsPerS} readings/s (CPU ${run.consume.cpuSeconds} s, join ${run.consume.joinSeconds} s), send p50 ${run.sendLatencyMs.p50} / p99 ${run.sendLatencyMs.p99} ms`);
      }
    }
    if (!values['skip-capabilities']) {
      caps = await capabilities(brokers, prefix, uplinks, bus.sessionTimeoutMs, bus.heartbeatIntervalMs);
      groups.push(`${prefix}caps-group`);
    }
  } finally {
    await Promise.allSettled(Object.values(clients).map((c) => c.close()));
    await clean.all(groups);
  }

  const { summary, ratios, verdict } = summarise(runs, caps);
  const recordsPerRun = Math.round(mean(runs.map((r) => r.produce.records)));
  const results: KafkaClientsResults = {
    partitions,
    readingsPerRun: Math.round(mean(runs.map((r) => r.produce.readings))),
    recordsPerRun,
    readingsPerRecord: r2(poolReadings / poolRecords),
    bytesPerRecord: Math.round(poolBytes / poolRecords),
    messagesPerSend,
    runs,
    summary,
    ratios,
    verdict,
    capabilities: caps,
  };
  const int = (x: number) => Math.round(x).toLocaleString('en');
  const lines = [
    `kafka-clients: ${int(results.readingsPerRun)} readings a run in ${int(recordsPerRun)} records (${results.readingsPerRecord} readings, ${int(results.bytesPerRecord)} bytes a record), the records of ${messagesPerSend} MQTT messages a send, ${partitions} partitions, ${rounds} round(s)`,
    ...runs.map((r) => `round ${r.round} (${r.order === 1 ? 'first' : 'second'}) ${CLIENT_LABEL[r.client]} ${r.version}: produce ${int(r.produce.readingsPerS)} readings/s = ${int(r.produce.recordsPerS)} records/s, ${int(r.produce.readingsPerCpuS)} readings per CPU-s (${r.produce.cpuPct} % of a core); consume ${int(r.consume.readingsPerS)} readings/s, ${int(r.consume.readingsPerCpuS)} per CPU-s (${r.consume.cpuPct} %), group join ${r.consume.joinSeconds} s; one-message send p50 ${r.sendLatencyMs.p50} ms, p99 ${r.sendLatencyMs.p99} ms`),
    `@platformatic/kafka ÷ kafkajs: produce ${ratios.produce.mean}× readings/s (rounds ${ratios.produce.perRound.join(', ')}), ${ratios.produceCpu.mean}× per CPU-s; consume ${ratios.consume.mean}× (rounds ${ratios.consume.perRound.join(', ')}), ${ratios.consumeCpu.mean}× per CPU-s; send p50 ${ratios.sendP50.mean}×, p99 ${ratios.sendP99.mean}× (lower is faster)`,
    ...caps.map((c) => `capability ${c.platformatic ? 'ok  ' : 'FAIL'} ${c.check}${c.kafkajs === null ? '' : ` (kafkajs ${c.kafkajs ? 'ok' : 'FAIL'})`}: ${c.note}`),
    `verdict: ${verdict.text}`,
  ];
  writeResult(values.out, {
    benchmark: 'kafka-clients',
    params: { readings, rounds, messagesPerSend, latencySends, partitions, clients: Object.fromEntries(CLIENTS.map((c) => [c, clients[c].version])) },
    results,
    summary: lines,
  });
}

/** Deletes the bench's topics (a run's as soon as it is done, the disk holds a few) and groups; a failure is said on stderr. */
function cleaner(brokers: string[], prefix: string) {
  const admin = new Kafka({ clientId: `${CLIENT_ID}-cleanup`, brokers, logLevel: logLevel.NOTHING }).admin();
  const connected = admin.connect();
  connected.catch(() => undefined);
  const report = (err: unknown) => process.stderr.write(`kafka-clients: could not delete ${prefix}* topics or groups: ${(err as Error).message}\n`);
  return {
    async topic(topic: string): Promise<void> {
      try {
        await connected;
        await admin.deleteTopics({ topics: [topic], timeout: 30_000 });
      } catch (err) {
        report(err);
      }
    },
    async all(groups: string[]): Promise<void> {
      try {
        await connected;
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
        // Only groups that exist (kafkajs fails the whole call for one it cannot find); a group whose
        // last member is still leaving is not empty yet, so it is tried again.
        for (let attempt = 1; ; attempt++) {
          const existing = new Set((await admin.listGroups()).groups.map((g) => g.groupId));
          const ours = groups.filter((g) => existing.has(g));
          if (ours.length === 0) break;
          try {
            await admin.deleteGroups(ours);
            break;
          } catch (err) {
            const failed = (err as { groups?: Array<{ groupId: string; error?: Error }> }).groups?.filter((g) => g.error) ?? [];
            if (attempt >= 5) throw new Error(`groups ${failed.map((g) => `${g.groupId}: ${g.error!.message}`).join('; ') || (err as Error).message}`);
            await sleep(1000);
          }
        }
      } catch (err) {
        report(err);
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
