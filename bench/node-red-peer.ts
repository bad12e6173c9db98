/**
 * The peer: the same job hacked together in Node-RED 4, at the same load (bench/load.ts) through the
 * same private Mosquitto as bench/floors.ts. Node-RED runs as its own process with
 * bench/node-red/settings.cjs (headless, loopback only, no telemetry, diagnostics or installs) and
 * bench/node-red/flows.json: `mqtt in` (gas/v1/+/up, QoS 1, parsed JSON) → a function node that
 * loops over the batch's readings checking thresholds the obvious way (gas ≥ 25 %LEL, ERR codes,
 * battery < 3.3 V, flow over qmax 160 m³/h, valve closed…), counts readings and alarms in flow
 * context and sends each alarm out over MQTT. `GET /bench/count` on Node-RED returns the counts and
 * the time of the last reading processed. A probe message first proves the flow is subscribed.
 *
 * Per batch size: readings/s from the first publish to the last reading the flow processed (the
 * flow's own clock); every reading sent must be counted by the flow, no more, no less.
 *
 *   npx tsx bench/node-red-peer.ts [--devices 100000] [--rounds R] [--batch 1,100] [--out bench/out/node-red-peer.json]
 *
 * Without --rounds, batch 1 runs 2 rounds and larger batches 5.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../tests/support.ts';
import { writeResult, type ThroughputRun } from './common.ts';
import { buildLoad, parseLoadArgs, Publisher, PUBLISHER, type Load } from './load.ts';
import { mosquittoVersion, startMosquitto, type Mosquitto, UNBOUNDED_QUEUE } from './mosquitto.ts';


interface FlowCounts {
  messages: number;
  readings: number;
  alarms: number;
  /** Node-RED's Date.now() when it finished the last message. */
  lastAtMs: number;
}

interface NodeRed {
  url: string;
  counts(): Promise<FlowCounts>;
  log(): string;
  stop(): Promise<void>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_RED_HOME = join(ROOT, 'node_modules', 'node-red');
const FLOW_DIR = join(ROOT, 'bench', 'node-red');
/** A run fails when the flow's count has not moved for this long. */
const STALL_MS = 30_000;
const epochMs = (): number => performance.timeOrigin + performance.now();

function nodeRedVersion(): string {
  return (JSON.parse(readFileSync(join(NODE_RED_HOME, 'package.json'), 'utf8')) as { version: string }).version;
}

async function startNodeRed(broker: Mosquitto): Promise<NodeRed> {
  const dir = mkdtempSync(join(tmpdir(), 'gas-bench-node-red-'));
  // Node-RED keeps its runtime files beside the flow; a copy keeps them out of the checkout.
  const flowFile = join(dir, 'flows.json');
  copyFileSync(join(FLOW_DIR, 'flows.json'), flowFile);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(NODE_RED_HOME, 'red.js'), '--userDir', dir, '--settings', join(FLOW_DIR, 'settings.cjs'), '--port', String(port), '--no-telemetry', flowFile], {
    cwd: dir,
    env: { ...process.env, BENCH_MQTT_HOST: '127.0.0.1', BENCH_MQTT_PORT: String(broker.port), NODE_RED_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const running = () => child.exitCode === null && child.signalCode === null;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (running()) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const counts = async (): Promise<FlowCounts> => {
    const res = await fetch(`${url}/bench/count`);
    if (!res.ok) throw new Error(`GET /bench/count: HTTP ${res.status}`);
    return (await res.json()) as FlowCounts;
  };

  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!running()) throw new Error(`Node-RED exited at start (${child.exitCode ?? child.signalCode}): ${log.trim()}`);
      if (await counts().then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error(`Node-RED did not answer on ${url} in 60 s: ${log.trim()}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, counts, log: () => log, stop };
}

/** Publishes a one-reading probe until the flow counts it: then its MQTT subscription is live. */
async function awaitSubscribed(nodeRed: NodeRed, publisher: Publisher): Promise<void> {
  const before = (await nodeRed.counts()).readings;
  const deadline = Date.now() + 30_000;
  for (let seq = 1; ; seq++) {
    const at = new Date().toISOString();
    await publisher.publishOne('gas/v1/GW-PROBE/up', JSON.stringify({ gatewayId: 'GW-PROBE', seq, sentAt: at, readings: [{ deviceId: 'HM-PROBE', kind: 'household_meter', at, volumeM3: 1, valve: 'open' }] }));
    for (let i = 0; i < 5; i++) {
      await sleep(100);
      if ((await nodeRed.counts()).readings > before) return;
    }
    if (Date.now() > deadline) throw new Error(`the flow counted none of ${seq} probe messages in 30 s: ${nodeRed.log().trim()}`);
  }
}

async function runOnce(nodeRed: NodeRed, publisher: Publisher, load: Load, batchSize: number): Promise<{ run: ThroughputRun; alarms: number }> {
  const base = await nodeRed.counts();
  const target = base.readings + load.readings;
  const startedMs = epochMs();
  let published = false;
  const publishing = (async () => {
    for (const round of load.rounds) await publisher.publishAll(round);
    published = true;
  })();
  publishing.catch(() => undefined);

  let last = base;
  let movedAtMs = Date.now();
  for (;;) {
    await sleep(100);
    const now = await nodeRed.counts();
    if (now.readings !== last.readings) movedAtMs = Date.now();
    last = now;
    if (published && now.readings >= target) break;
    if (Date.now() - movedAtMs > STALL_MS) {
      throw new Error(`the flow counted ${now.readings - base.readings} of ${load.readings} readings and nothing more for ${STALL_MS / 1000} s${published ? '' : ' (still publishing)'}: ${nodeRed.log().trim()}`);
    }
  }
  await publishing;
  const received = last.readings - base.readings;
  if (received !== load.readings) throw new Error(`the flow counted ${received} readings, ${load.readings} were sent`);
  const seconds = (last.lastAtMs - startedMs) / 1000;
  return {
    run: {
      batchSize,
      readings: load.readings,
      messages: load.messages,
      seconds: Number(seconds.toPrecision(4)),
      readingsPerS: Math.round(load.readings / seconds),
      messagesPerS: Math.round(load.messages / seconds),
      received,
    },
    alarms: last.alarms - base.alarms,
  };
}

async function main(): Promise<void> {
  const args = parseLoadArgs('bench/out/node-red-peer.json');
  const { devices, batchSizes, roundsFor, out } = args;

  const runs: ThroughputRun[] = [];
  const alarms: number[] = [];
  const broker = await startMosquitto(UNBOUNDED_QUEUE);
  let nodeRed: NodeRed | undefined;
  let publisher: Publisher | undefined;
  try {
    nodeRed = await startNodeRed(broker);
    publisher = await Publisher.connect({ url: broker.url, ...PUBLISHER, clientIdPrefix: 'node-red-peer-pub' });
    await awaitSubscribed(nodeRed, publisher);
    for (const batchSize of batchSizes) {
      const load = buildLoad({ devices, batchSize, rounds: roundsFor(batchSize) });
      const result = await runOnce(nodeRed, publisher, load, batchSize);
      runs.push(result.run);
      alarms.push(result.alarms);
    }
  } finally {
    await publisher?.close();
    await nodeRed?.stop();
    await broker.stop();
  }

  const version = nodeRedVersion();
  const n = (x: number) => x.toLocaleString('en-US');
  writeResult(out, {
    benchmark: 'node-red-peer',
    params: {
      ...args.params(),
      mosquitto: { version: mosquittoVersion() ?? 'unknown', ...UNBOUNDED_QUEUE, persistence: false },
      flow: 'bench/node-red/flows.json: mqtt in (QoS 1, parsed JSON) → function (threshold checks, counts in flow context) → mqtt out (alarms)',
    },
    results: { nodeRed: version, runs },
    summary: runs.map((r, i) => `Node-RED ${version} peer flow, batch ${r.batchSize}: ${n(r.readings)} readings in ${n(r.messages)} messages, ${r.seconds} s: ${n(r.readingsPerS)} readings/s, ${n(r.messagesPerS)} messages/s (${n(alarms[i]!)} alarms sent)`),
  });
}

await main();
