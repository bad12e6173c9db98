/**
 * The two floors under every MQTT ingest figure, on the shared load (bench/load.ts), per batch size:
 *
 * - decode: `UplinkDecoder.decode` (ingest's edge validation, with the options the pipeline uses)
 *   over every pre-built message, in this process and nothing else; after a warm-up on one round.
 *   Every reading must be accepted.
 * - mosquitto: a private anonymous Mosquitto passing the messages from the QoS 1 publisher pool in
 *   this process to one mqtt.js subscriber (QoS 1, `gas/v1/+/up`) in a child process, so the two
 *   do not share an event loop. Timed from the first publish to the last message received; the
 *   subscriber counts the readings in what it receives, which must equal what was sent.
 *
 * Each round goes out in one `publishAll` call, so every gateway's seq rises.
 *
 *   npx tsx bench/floors.ts [--devices 100000] [--rounds R] [--batch 1,100] [--out bench/out/floors.json]
 *
 * Without --rounds, batch 1 runs 2 rounds and larger batches 5.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import mqtt from 'mqtt';
import { DecoderOptionsSchema, UplinkDecoder, type DecoderOptions } from '../ingest/uplink-decoder.ts';
import { writeResult, type ThroughputRun } from './common.ts';
import { buildLoad, parseLoadArgs, Publisher, PUBLISHER, type Load, type LoadMessage } from './load.ts';
import { mosquittoVersion, startMosquitto, type Mosquitto, UNBOUNDED_QUEUE } from './mosquitto.ts';


interface SubscriberCounts {
  messages: number;
  readings: number;
  bytes: number;
  /** Epoch ms, sub-millisecond (performance.timeOrigin + performance.now()). */
  lastAtMs: number;
}

type ChildMessage = { type: 'ready' } | ({ type: 'done' | 'counts' } & SubscriberCounts);

const TOPIC_FILTER = 'gas/v1/+/up';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const epochMs = (): number => performance.timeOrigin + performance.now();

function run(batchSize: number, readings: number, messages: number, seconds: number, received: number): ThroughputRun {
  return {
    batchSize, readings, messages,
    seconds: Number(seconds.toPrecision(4)),
    readingsPerS: Math.round(readings / seconds),
    messagesPerS: Math.round(messages / seconds),
    received,
  };
}

function decodeFloor(load: Load, batchSize: number): ThroughputRun {
  const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as DecoderOptions);
  const decodeAll = (rounds: readonly LoadMessage[][]): number => {
    let accepted = 0;
    for (const round of rounds) {
      for (const m of round) {
        const result = decoder.decode(m.topic, m.payload, Date.now());
        if (result.rejects.length > 0) throw new Error(`decoder rejected part of ${m.topic}: ${result.rejects[0]!.message}`);
        accepted += result.batch?.readings.length ?? 0;
      }
    }
    return accepted;
  };
  decodeAll(load.rounds.slice(0, 1));
  const started = performance.now();
  const accepted = decodeAll(load.rounds);
  const seconds = (performance.now() - started) / 1000;
  if (accepted !== load.readings) throw new Error(`decoder accepted ${accepted} of ${load.readings} readings`);
  return run(batchSize, load.readings, load.messages, seconds, accepted);
}

/** The subscriber child: counts until `expect` messages have arrived, then reports `done`. */
async function subscriberMain(url: string, expect: number): Promise<void> {
  const send = (m: ChildMessage) => process.send!(m);
  const client = await mqtt.connectAsync(url, { clientId: `floors-sub-${process.pid}`, clean: true, reconnectPeriod: 0 });
  const counts: SubscriberCounts = { messages: 0, readings: 0, bytes: 0, lastAtMs: 0 };
  // Counting a key is enough to know how many readings arrived, without parsing what a floor should not.
  const key = Buffer.from('"deviceId":');
  client.on('message', (_topic, payload) => {
    counts.lastAtMs = epochMs();
    counts.messages++;
    counts.bytes += payload.length;
    for (let i = payload.indexOf(key); i !== -1; i = payload.indexOf(key, i + key.length)) counts.readings++;
    if (counts.messages === expect) send({ type: 'done', ...counts });
  });
  process.on('message', (m) => {
    if (m === 'counts') send({ type: 'counts', ...counts });
  });
  process.on('disconnect', () => {
    client.end(true);
    process.exit(0);
  });
  await client.subscribeAsync(TOPIC_FILTER, { qos: 1 });
  send({ type: 'ready' });
}

function nextMessage(child: ChildProcess, type: ChildMessage['type'], timeoutMs: number): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: ChildMessage) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`subscriber exited (${code}) while waiting for '${type}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${type}' from the subscriber in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function mosquittoFloor(broker: Mosquitto, load: Load, batchSize: number): Promise<ThroughputRun> {
  const child = fork(fileURLToPath(import.meta.url), ['--subscriber', broker.url, '--expect', String(load.messages)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let publisher: Publisher | undefined;
  try {
    await nextMessage(child, 'ready', 20_000);
    publisher = await Publisher.connect({ url: broker.url, ...PUBLISHER, clientIdPrefix: `floors-pub-${batchSize}` });
    const done = nextMessage(child, 'done', 24 * 3600_000);
    done.catch(() => undefined);
    const startedMs = epochMs();
    for (const round of load.rounds) await publisher.publishAll(round);
    const publishedS = (epochMs() - startedMs) / 1000;
    // The subscriber gets as long again as publishing took (at least 30 s) to drain the broker's queue.
    const drainMs = Math.max(30_000, publishedS * 1000);
    const drain = new AbortController();
    const result = await Promise.race([done, sleep(drainMs, undefined, { signal: drain.signal }).catch(() => undefined)]);
    drain.abort();
    if (!result || result.type !== 'done') {
      child.send('counts');
      const counts = (await nextMessage(child, 'counts', 5000)) as SubscriberCounts;
      throw new Error(`subscriber received ${counts.messages} of ${load.messages} messages (${counts.readings} of ${load.readings} readings) ${drainMs / 1000} s after the last publish`);
    }
    if (result.readings !== load.readings) throw new Error(`subscriber counted ${result.readings} readings in ${result.messages} messages, ${load.readings} were sent`);
    return run(batchSize, load.readings, load.messages, (result.lastAtMs - startedMs) / 1000, result.readings);
  } finally {
    await publisher?.close();
    if (child.connected) child.disconnect();
    if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}

async function main(): Promise<void> {
  const args = parseLoadArgs('bench/out/floors.json');
  const { devices, batchSizes, roundsFor, out } = args;

  const decode: ThroughputRun[] = [];
  const passthrough: ThroughputRun[] = [];
  const broker = await startMosquitto(UNBOUNDED_QUEUE);
  try {
    for (const batchSize of batchSizes) {
      const load = buildLoad({ devices, batchSize, rounds: roundsFor(batchSize) });
      decode.push(decodeFloor(load, batchSize));
      passthrough.push(await mosquittoFloor(broker, load, batchSize));
    }
  } finally {
    await broker.stop();
  }

  const n = (x: number) => x.toLocaleString('en-US');
  const line = (what: string, r: ThroughputRun) => `${what}, batch ${r.batchSize}: ${n(r.readings)} readings in ${n(r.messages)} messages, ${r.seconds} s: ${n(r.readingsPerS)} readings/s, ${n(r.messagesPerS)} messages/s`;
  writeResult(out, {
    benchmark: 'floors',
    params: {
      ...args.params(),
      mosquitto: { version: mosquittoVersion() ?? 'unknown', ...UNBOUNDED_QUEUE, persistence: false },
      subscriber: { client: 'mqtt.js, own process', qos: 1, topic: TOPIC_FILTER },
    },
    results: { decode, mosquitto: passthrough },
    summary: [
      ...decode.map((r) => line('decode-and-validate floor (in process)', r)),
      ...passthrough.map((r) => line('Mosquitto passthrough floor (QoS 1, first publish → last message received)', r)),
    ],
  });
}

const { values: role } = parseArgs({ options: { subscriber: { type: 'string' }, expect: { type: 'string' } }, strict: false });
if (typeof role.subscriber === 'string') await subscriberMain(role.subscriber, Number(role.expect));
else await main();
