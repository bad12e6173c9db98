/**
 * RESULTS.md and its chart from the benchmarks' result files: the method and command of each, the
 * machine, the figures, the targets with their ratios and pass/fail, and the hand-written
 * bench/bounds.md on what bounds the figures. A file that is missing shows as "not run". The chart
 * (echarts, rendered server-side to SVG) is readings/s achieved and alarm p99 latency against
 * offered load, per path, from throughput.json's levels.
 *
 *   npx tsx bench/report.ts [--in bench/out] [--md bench/RESULTS.md] [--svg bench/results-chart.svg]
 *     [--bounds bench/bounds.md]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as echarts from 'echarts';
import type { Machine, Percentiles, ThroughputRun } from './common.ts';
import type { ClientName, KafkaClientsResults } from './kafka-clients.ts';

// --- the shapes of the result files (see each benchmark's header) -------------------------------

interface PeakResult {
  batchSize: number;
  readings: number;
  seconds: number;
  readingsPerS: number;
  cpu: { pipelinePct?: number; loadPct?: number };
}
interface LevelResult {
  loadPct: number;
  offeredReadingsPerS: number;
  achievedReadingsPerS: number;
  alertLatencyMs: Percentiles;
  pushLatencyMs: Percentiles;
  /** Absent in files written before the throughput bench measured CPU per level. */
  cpu?: { pipelinePct?: number; brokerPct?: number; loadPct: number };
}
interface PathResult {
  influx: boolean;
  peak: PeakResult[];
  levels: LevelResult[];
}
interface Throughput {
  embedded?: PathResult;
  mosquitto?: PathResult;
  kafka?: PathResult;
}
const THROUGHPUT_PATHS = ['embedded', 'mosquitto', 'kafka'] as const;
interface Floors {
  decode: ThroughputRun[];
  mosquitto: ThroughputRun[];
}
interface NodeRedPeer {
  nodeRed: string;
  runs: ThroughputRun[];
}
/** `burst.json`'s results, as bench/burst.ts writes them. */
export interface Burst {
  path: string;
  meters: number;
  gateways: number;
  readingsSent: number;
  readingsJudged: number;
  /** Null when the burst was never drained. */
  drainSeconds: number | null;
  readingsPerS: number;
  peakLag: number;
  /** On Kafka: the consumer group's own lag at its peak. */
  peakKafkaLag?: number;
  faultsInjected: number;
  faultsFound: number;
  lost: { readings: number; faults: number };
  pass: boolean;
  series: Array<{ t: number; published: number; judged: number; lag: number; kafkaLag?: number }>;
}
/** `storm.json`'s phases, as bench/storm.ts writes them. */
export type StormPhaseName = 'baseline' | 'fault-storm' | 'silence-storm';
export interface StormLeaks {
  sent: number;
  alertSeen: number;
  pushSeen: number;
  /** Leaks whose alert (or push) never arrived on that stream. */
  alertLost: number;
  pushLost: number;
}
/** A storm's tickets and alerts; seconds from the storm's start, null when never complete. */
export interface StormTickets {
  stormDevices: number;
  covered: number;
  tickets: number;
  offlineGateways?: number;
  devicesListedOnGatewayTickets?: number;
  /** The earliest a silence alert may fire by the settings: missed reports × report interval. */
  detectionFloorS?: number;
  firstTicketS: number | null;
  ticketsCompleteS: number | null;
  publishedS?: number;
  polls: number;
  pollErrors: number;
  /** A poll got the API's 1,000-ticket maximum: devices on older tickets were not seen. */
  listFull?: boolean;
  alertsExpected: number;
  alertsSeen: number;
  alertsCompleteS: number | null;
  startS: number;
}
export interface StormSample {
  t: number;
  phase: StormPhaseName;
  /** The pipeline's event-loop delay over the second before the scrape. */
  loopMaxMs: number;
  loopP99Ms: number;
  /** The slowest /healthz answer over the same second. */
  healthzMaxMs: number;
}
export interface StormPhase {
  name: StormPhaseName;
  seconds: number;
  /** The pipeline process's CPU over the phase, 100 = one core. */
  pipelineCpuPct?: number;
  /** The machine's 1-minute load average at the phase's end. */
  loadAvg1?: number;
  leaks: StormLeaks;
  /** The three leaks pushed last after their publish (null: never), `atS` from the phase's start. */
  slowestLeaks: Array<{ atS: number; alertMs: number | null; pushMs: number | null }>;
  alertLatencyMs: Percentiles;
  pushLatencyMs: Percentiles;
  healthz: { latencyMs: Percentiles; non200: number; errors: number };
  eventLoop: { samples: number; maxMs: number; worstP99Ms: number; medianP99Ms: number };
  tickets?: StormTickets;
  /** The leaks published from the storm's start until every storm ticket existed (the whole phase when they never did). */
  whileStorming?: { seconds: number; leaks: number; alertLatencyMs: Percentiles; pushLatencyMs: Percentiles };
}
export interface Storm {
  path: string;
  devices: number;
  gateways: number;
  leakEveryMs: number;
  phases: StormPhase[];
  /** Leak push p99 in the storm ÷ in the baseline. */
  pushP99Ratio: { faultStorm: number | null; silenceStorm: number | null };
  lost: { alert: number; push: number };
  /** Alert raises no storm explains, by "phase: condition". */
  unexpectedAlerts: Record<string, number>;
  /** Every /metrics scrape (about a second apart), `t` from the baseline's start. */
  series: StormSample[];
  streams: { alertEvents: number; pushEvents: number; alertLastEventS: number | null; pushLastEventS: number | null; endS: number };
  method: Record<string, string>;
}
/** `phone-latency.json`'s results, as bench/phone-latency.ts writes them. */
export interface PhoneLatency {
  path: string;
  leaks: number;
  ratePerS: number;
  publishSeconds: number;
  repeatNotifyMs: number;
  slaCheckIntervalMs: number;
  /** The machine's 1-minute load average when publishing began and when the last message was in: what else it ran. */
  loadAvg1?: { start: number; end: number };
  channels: Array<{
    channel: string;
    type: string;
    provider: string;
    measured: string;
    received: number;
    missing: number;
    latencyMs: Percentiles;
    /** Voice: repeat due → the SLA check that repeated started (its escalation's time), and that check → the call. */
    split?: { dueToCheckMs: Percentiles; checkToCallMs: Percentiles };
  }>;
  /** Stand-in messages that named no bench device (or ticket, for a call). */
  unmatched: number;
}
interface Memory {
  runs: Array<{ devices: number; devicesTracked?: number; baselineHeapBytes: number; heapBytes: number; bytesPerDevice: number; rssBytes: number }>;
}
interface Api {
  routes: Array<{ name: string; method: string; path: string; connections: number; seconds: number; requests: number; requestsPerS: number; latencyMs: { p50: number; p90: number; p99: number; max: number }; non2xx: number; errors: number }>;
}
/** The older files, written before bench/common.ts: their figures at the top level. */
interface AlarmToPush {
  path?: string;
  alarms: number;
  latencyMs: { p50: number; p90: number; p99: number; p999?: number; max: number; mean?: number };
}
interface ProcessCpu {
  cpuSeconds: number;
  cpuPct: number;
}
/** bench/kafka-processors.ts's results; files before CPU was measured have only the first five fields of a run. */
interface KafkaProcessors {
  devices?: number;
  rounds?: number;
  partitions?: number;
  perGateway?: number;
  runs: Array<{
    processors: number;
    readings: number;
    produceReadingsPerS: number;
    drainSeconds: number;
    readingsPerS: number;
    records?: number;
    startSeconds?: number;
    judgeSeconds?: number;
    readingsPerSToCommit?: number;
    rejudged?: number;
    cpu?: { processors: ProcessCpu[]; processorsTotal: ProcessCpu; broker?: ProcessCpu; bench: ProcessCpu };
    readingsPerProcessorCpuS?: number;
  }>;
}
/** bench/kafka-restore.ts's results. */
interface KafkaRestore {
  goalSeconds: number;
  meanStateBytes: number;
  runs: Array<{
    variant: string;
    devices: number;
    savesPerDevice: number;
    records: number;
    partitionBytes?: number;
    loaded: number;
    loadSeconds: number;
    loadRecordsPerS: number;
    loadCpuSeconds: number;
    brokerCpuSecondsDuringLoad?: number;
    restoreSeconds: number;
    restoreDevicesPerS: number;
    totalSeconds: number;
    rssBeforeBytes: number;
    rssAfterLoadBytes: number;
    rssAfterRestoreBytes: number;
    peakRssBytes: number;
    checked: number;
    differing: number;
    withinGoal: boolean;
  }>;
}
/** `kafka-clients.json`'s results, as bench/kafka-clients.ts writes them. */
type KafkaClients = KafkaClientsResults;
interface Soak {
  seconds: number;
  devices: number;
  readingsPerSecondOffered: number;
  heapGrowthMbPerMin: number;
  backlogSlopePerMin: number;
  maxBacklog: number;
  limits?: { maxHeapGrowthMbPerMin?: number; maxBacklog?: number };
  ok: boolean;
}

/** One result file as read: `results` is the figures whichever format wrote them. */
interface Loaded<R> {
  file: string;
  command?: string;
  machine?: Partial<Machine>;
  at?: string;
  params?: Record<string, unknown>;
  results: R;
}

const BENCHMARKS = ['throughput', 'floors', 'node-red-peer', 'burst', 'burst-kafka', 'storm', 'memory', 'api', 'alarm-to-push', 'phone-latency', 'kafka-processors', 'kafka-restore', 'kafka-clients', 'soak'] as const;
type BenchName = (typeof BENCHMARKS)[number];

/** How each benchmark is run, for the files that do not record their command (the older format). */
const USAGE: Record<BenchName, string> = {
  throughput: 'npx tsx bench/throughput.ts',
  floors: 'npx tsx bench/floors.ts',
  'node-red-peer': 'npx tsx bench/node-red-peer.ts',
  burst: 'npx tsx bench/burst.ts',
  'burst-kafka': 'KAFKA_BROKERS=… npx tsx bench/burst.ts --kafka --out bench/out/burst-kafka.json',
  storm: 'npx tsx bench/storm.ts',
  memory: 'npx tsx bench/memory.ts',
  api: 'npx tsx bench/api.ts',
  'alarm-to-push': 'npx tsx bench/alarm-to-push.ts',
  'phone-latency': 'npx tsx bench/phone-latency.ts',
  'kafka-processors': 'KAFKA_BROKERS=… npx tsx bench/kafka-processors.ts',
  'kafka-restore': 'KAFKA_BROKERS=… npx tsx bench/kafka-restore.ts',
  'kafka-clients': 'KAFKA_BROKERS=… npx tsx bench/kafka-clients.ts',
  soak: 'node --expose-gc --import tsx bench/soak.ts',
};

const METHOD: Record<BenchName, string> = {
  throughput:
    'End-to-end readings/s through the whole pipeline — broker, ingest, every detector, alert book, tickets, pushes — embedded (one process, aedes), the same process reading from Mosquitto (as the compose stack runs it, and as the Node-RED peer reads), and on Kafka (Mosquitto and separate ingest, processor and alerts processes). Peak: the pre-serialised simulator load published at QoS 1 as fast as the publisher can, per batch size, counted from the processors\' own judged-readings counter. Then an open-loop load at a percentage of that peak, while a fresh home gas alarm is published every 100 ms and timed, on a thread of its own, to its alert on the operator stream and to the ticket push on the on-call technician\'s stream.',
  floors:
    'The two floors under any MQTT ingest figure on the same load: `UplinkDecoder.decode` alone (edge validation, in process), and a private Mosquitto passing the messages to one QoS 1 subscriber in its own process.',
  'node-red-peer':
    'The peer: a Node-RED 4 flow (mqtt in → threshold-checking function → mqtt out) fed the same load through the same private Mosquitto, timed from the first publish to the last reading the flow counted.',
  burst:
    'A fleet of meters reporting at once after an outage: the burst published as fast as possible with faults injected, timed until the processors have judged every reading; every reading and every injected fault must be accounted for.',
  'burst-kafka': 'The same burst on the Kafka bus (role all: embedded broker, ingest, processors and alerts on one Kafka broker).',
  storm:
    'A leak in the middle of alert storms (the load average column says what else the machine ran): one home gas alarm raises a leak every 500 ms (60 %LEL, valve open, then a normal reading that clears it) while a fleet behind its own gateways first all report POWER_LOST at once (fault storm), then a second fleet stops reporting, some gateways silent altogether (GATEWAY_OFFLINE) and the rest alive with silent devices (NO_SIGNAL). Each leak is timed from its publish to its alert on the operator stream and to the safety lane\'s push on the technician\'s stream; a leak never seen is lost. Per phase also `/healthz` latency (polled every 100 ms) and the pipeline\'s event-loop delay (from /metrics every second); per storm the time until every storm device is covered by a ticket (incident tickets on the gateways, polled every second) and until every storm alert was on the operator stream. Embedded pipeline in its own process.',
  memory:
    'Processor state per device: in a fresh process per size, the engine built as the pipeline builds it, the heap after gc() with registry and engine loaded, then two readings per device through decode and the engine, gc() again; (heap − baseline) / devices. The simulator fleet is built before the baseline and kept alive, so it is not counted.',
  api:
    'The HTTP API under autocannon, the embedded pipeline in its own process, seeded over MQTT with faulty devices so there are active alerts and dispatched tickets. Each route runs for a fixed time after a warm-up; lifecycle actions hit a different ticket with every request and stop early when those tickets are used up. Every non-2xx answer is counted.',
  'alarm-to-push':
    'One gas alarm at a time, otherwise idle: from publishing the alarm reading over MQTT to the ticket\'s push arriving on the on-call technician\'s SSE stream, through the embedded pipeline.',
  'phone-latency':
    'A leak to the technician\'s phone through each phone channel: distinct home gas alarms raise a leak each (60 %LEL), published over MQTT at a steady rate to the embedded pipeline in its own process, whose phone channels point at the providers\' stand-ins in the benchmark\'s process (`alerts/push/phone-stand-ins.ts`, the ones `npm run stand-ins` runs: tokens and signatures checked, the Web Push payload decrypted from an https push service). The on-call technician has every messenger account, a phone and a Web Push subscription. Each channel is timed from the publish to its stand-in receiving that leak\'s first message; the technician\'s live stream (SSE, no provider behind it) is the reference. A voice call rings only at the SLA repeat of an emergency nobody acknowledged: with the repeat shortened, voice is timed from when the repeat was due (the ticket\'s dispatch + the repeat) to the call, which includes the wait for the next SLA check.',
  'kafka-processors':
    'Readings/s of 1…N processor processes (ROLE=processor, each its own process) draining a backlog on the Kafka readings topic, and the CPU of each process and of the broker. The backlog is the simulator fleet\'s readings published as ingest publishes them, one gateway\'s readings of a round per publish (one record per partition of it). The processors start on the empty topics, join their group and are stopped; the backlog is produced; they are resumed and timed until their own judged-readings counters reach every reading produced (readings/s), then until the group\'s lag is zero, i.e. every partition checkpointed and committed (up to the 10 s checkpoint interval later). CPU from /proc over the judging time; 100 % is one core. Readings per processor CPU-second is the per-core efficiency.',
  'kafka-restore':
    'A processor given a partition with 1M devices\' state: real device states (the simulator\'s `all` scenario through the decoder and every detector, at its round with the most active alerts) are saved under a 1M-device fleet\'s ids to a one-partition state topic with `bus.state.save`, once per device or twice (two checkpoints the log cleaner may not have compacted); then a fresh process holding the fleet\'s registry, started with the pipeline\'s node flags, times `bus.state.load([0])` and `engine.restoreDevice` for every device loaded. About 1000 devices, evenly spread, are snapshotted again and compared with what was saved.',
  'kafka-clients':
    'Client choice by measurement: kafkajs (the bus\'s client) against @platformatic/kafka on the readings path\'s own records — the simulator fleet\'s MQTT messages of 100 readings, encoded by `readingRecords` (one compact record per partition per message, `bus/compact-readings.ts`; partition from the Java murmur2 of the placement key). Per client and round, on a fresh topic: one message\'s records per send when idle (p50/p99); produce with an idempotent producer, acks=-1, one request in flight, each request the records of several messages under 800,000 bytes, as the bus\'s publisher sends; consume the whole topic in a new group, decoding every record with the codec and committing only what was decoded, timed from the first record to the last. CPU seconds of the bench process per phase give readings per CPU-second, the fairer figure on a shared machine (the broker runs on it too). Rounds alternate which client goes first. Then checks, against the broker, of what the bus needs from a client (see `bench/kafka-clients.md`). kafkajs stays unless the other is clearly faster (≥ 1.2× produce and consume readings/s in every round) and passes every Kafka test.',
  soak:
    'The embedded pipeline under a steady real-time load for minutes: heap after a forced GC and the backlog sampled, their trends must stay under the limits.',
};

const TITLE: Record<BenchName, string> = {
  throughput: 'End-to-end throughput and latency against load',
  floors: 'Floors: decode-and-validate, and Mosquitto pass-through',
  'node-red-peer': 'Node-RED peer',
  burst: '1M-meter burst',
  'burst-kafka': '1M-meter burst on Kafka',
  storm: 'Leak push through fault and silence storms',
  memory: 'Memory per device',
  api: 'HTTP API under load',
  'alarm-to-push': 'Gas alarm → technician push, idle pipeline',
  'phone-latency': 'Leak → the technician\'s phone, per phone channel',
  'kafka-processors': 'Kafka processors draining a backlog',
  'kafka-restore': 'Restoring a partition of 1M devices\' state from Kafka',
  'kafka-clients': 'Kafka client race: kafkajs against @platformatic/kafka',
  soak: 'Soak',
};

function load<R>(dir: string, name: BenchName): Loaded<R> | undefined {
  const file = join(dir, `${name}.json`);
  if (!existsSync(file)) return undefined;
  const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const modern = typeof json.results === 'object' && json.results !== null && typeof json.benchmark === 'string';
  return {
    file: `${name}.json`,
    command: typeof json.command === 'string' ? json.command : undefined,
    machine: json.machine as Partial<Machine> | undefined,
    at: typeof json.at === 'string' ? json.at : undefined,
    params: modern ? (json.params as Record<string, unknown>) : undefined,
    results: (modern ? json.results : json) as R,
  };
}

/** The command as typed: tsx runs the script under node, which is what process.argv records. */
function shownCommand(command: string): string {
  return command.replace(/^\S*node(\.exe)? (?=bench\/)/, 'npx tsx ');
}

// --- formatting -------------------------------------------------------------------------------

const int = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en'));
const dec = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '—' : x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x < 10 ? dec(x, 2) : x < 100 ? dec(x, 1) : int(x));
const mib = (bytes: number) => dec(bytes / 2 ** 20, 1);

function table(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map((c) => String(c).replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

// --- targets ----------------------------------------------------------------------------------

export type TargetStatus = 'pass' | 'fail' | 'not run';

export interface Target {
  id: string;
  target: string;
  goal: string;
  measured: string;
  /** Measured ÷ goal: at least 1 passes a "≥" goal, at most 1 a "≤" goal. */
  ratio?: number;
  status: TargetStatus;
  note?: string;
}

export const GOALS = {
  embeddedReadingsPerS: 250_000,
  vsNodeRed: 1.0,
  vsDecodeFloor: 0.5,
  pushP99Ms: 50,
  pushAtLoadPct: 50,
  bytesPerDevice: 300,
  memoryDevices: 1_000_000,
  burstMeters: 1_000_000,
  burstDrainSeconds: 60,
  // Issue 16: the Kafka path.
  kafkaReadingsPerS: 100_000,
  kafkaVsEmbedded: 0.5,
  kafkaReadingsPerSBatch1: 15_000,
  kafkaPushP99Ms: 50,
} as const;

const RATIO_BATCHES = [1, 100] as const;

interface Inputs {
  throughput?: Loaded<Throughput>;
  floors?: Loaded<Floors>;
  nodeRed?: Loaded<NodeRedPeer>;
  burst?: Loaded<Burst>;
  burstKafka?: Loaded<Burst>;
  storm?: Loaded<Storm>;
  memory?: Loaded<Memory>;
  api?: Loaded<Api>;
  alarmToPush?: Loaded<AlarmToPush>;
  phoneLatency?: Loaded<PhoneLatency>;
  kafkaProcessors?: Loaded<KafkaProcessors>;
  kafkaRestore?: Loaded<KafkaRestore>;
  kafkaClients?: Loaded<KafkaClients>;
  soak?: Loaded<Soak>;
}

function readInputs(dir: string): Inputs {
  return {
    throughput: load<Throughput>(dir, 'throughput'),
    floors: load<Floors>(dir, 'floors'),
    nodeRed: load<NodeRedPeer>(dir, 'node-red-peer'),
    burst: load<Burst>(dir, 'burst'),
    burstKafka: load<Burst>(dir, 'burst-kafka'),
    storm: load<Storm>(dir, 'storm'),
    memory: load<Memory>(dir, 'memory'),
    api: load<Api>(dir, 'api'),
    alarmToPush: load<AlarmToPush>(dir, 'alarm-to-push'),
    phoneLatency: load<PhoneLatency>(dir, 'phone-latency'),
    kafkaProcessors: load<KafkaProcessors>(dir, 'kafka-processors'),
    kafkaRestore: load<KafkaRestore>(dir, 'kafka-restore'),
    kafkaClients: load<KafkaClients>(dir, 'kafka-clients'),
    soak: load<Soak>(dir, 'soak'),
  };
}

const atLeast = (ratio: number): TargetStatus => (ratio >= 1 ? 'pass' : 'fail');
const atMost = (ratio: number): TargetStatus => (ratio <= 1 ? 'pass' : 'fail');
const notRun = (t: Omit<Target, 'measured' | 'status'>, why: string): Target => ({ ...t, measured: '—', status: 'not run', note: why });

export function evaluateTargets(inputs: Inputs): Target[] {
  const out: Target[] = [];
  const embedded = inputs.throughput?.results.embedded;
  const peakAt = (batch: number) => embedded?.peak.find((p) => p.batchSize === batch);

  {
    const t = { id: 'embedded-peak-100', target: 'Embedded end-to-end, 100-reading batches', goal: `≥ ${int(GOALS.embeddedReadingsPerS)} readings/s` };
    const p = peakAt(100);
    if (!p) out.push(notRun(t, inputs.throughput ? 'no embedded peak at batch 100 in throughput.json' : 'throughput.json not run'));
    else {
      const ratio = p.readingsPerS / GOALS.embeddedReadingsPerS;
      out.push({ ...t, measured: `${int(p.readingsPerS)} readings/s`, ratio, status: atLeast(ratio) });
    }
  }

  const sameFleet = (other?: Loaded<unknown>): string | undefined => {
    const a = inputs.throughput?.params?.devices;
    const b = other?.params?.devices;
    return a !== undefined && b !== undefined && a !== b ? `different fleets: ${int(Number(a))} devices embedded, ${int(Number(b))} here` : undefined;
  };
  // The peer reads from Mosquitto: compare the pipeline reading from the same broker when it was run.
  const viaMosquitto = inputs.throughput?.results.mosquitto;
  const peerPeakAt = (batch: number) => (viaMosquitto ?? embedded)?.peak.find((p) => p.batchSize === batch);
  const peerPath = viaMosquitto ? 'Pipeline reading Mosquitto' : 'Embedded';
  for (const batch of RATIO_BATCHES) {
    const t = { id: `vs-node-red-${batch}`, target: `${peerPath} ÷ Node-RED peer, batch ${batch}`, goal: `≥ ${dec(GOALS.vsNodeRed, 1)}×` };
    const p = peerPeakAt(batch);
    const peer = inputs.nodeRed?.results.runs.find((r) => r.batchSize === batch);
    if (!p || !peer) out.push(notRun(t, [!p && `no embedded peak at batch ${batch}`, !peer && (inputs.nodeRed ? `no Node-RED run at batch ${batch}` : 'node-red-peer.json not run')].filter(Boolean).join('; ')));
    else {
      const measured = p.readingsPerS / peer.readingsPerS;
      const ratio = measured / GOALS.vsNodeRed;
      out.push({ ...t, measured: `${dec(measured, 2)}× (${int(p.readingsPerS)} vs ${int(peer.readingsPerS)} readings/s)`, ratio, status: atLeast(ratio), note: sameFleet(inputs.nodeRed) });
    }
  }
  for (const batch of RATIO_BATCHES) {
    const t = { id: `vs-decode-floor-${batch}`, target: `Embedded ÷ decode-and-validate floor, batch ${batch}`, goal: `≥ ${dec(GOALS.vsDecodeFloor, 1)}×` };
    const p = peakAt(batch);
    const floor = inputs.floors?.results.decode.find((r) => r.batchSize === batch);
    if (!p || !floor) out.push(notRun(t, [!p && `no embedded peak at batch ${batch}`, !floor && (inputs.floors ? `no decode floor at batch ${batch}` : 'floors.json not run')].filter(Boolean).join('; ')));
    else {
      const measured = p.readingsPerS / floor.readingsPerS;
      const ratio = measured / GOALS.vsDecodeFloor;
      out.push({ ...t, measured: `${dec(measured, 2)}× (${int(p.readingsPerS)} vs ${int(floor.readingsPerS)} readings/s)`, ratio, status: atLeast(ratio), note: sameFleet(inputs.floors) });
    }
  }

  {
    const t = { id: 'push-p99-at-50', target: `Gas alarm publish → technician push p99, embedded at ${GOALS.pushAtLoadPct} % of peak`, goal: `≤ ${GOALS.pushP99Ms} ms` };
    const level = embedded?.levels.find((l) => l.loadPct === GOALS.pushAtLoadPct);
    if (!level) out.push(notRun(t, inputs.throughput ? `no embedded level at ${GOALS.pushAtLoadPct} % in throughput.json` : 'throughput.json not run'));
    else if (level.pushLatencyMs.count === 0) out.push({ ...t, measured: 'no push arrived', status: 'fail' });
    else {
      const ratio = level.pushLatencyMs.p99 / GOALS.pushP99Ms;
      out.push({ ...t, measured: `${ms(level.pushLatencyMs.p99)} ms (${int(level.pushLatencyMs.count)} alarms)`, ratio, status: atMost(ratio) });
    }
  }

  const kafka = inputs.throughput?.results.kafka;
  {
    const t = { id: 'kafka-peak-100', target: 'Kafka path end-to-end, 100-reading batches, and ÷ embedded in the same run', goal: `≥ ${int(GOALS.kafkaReadingsPerS)} readings/s and ≥ ${GOALS.kafkaVsEmbedded}×` };
    const k = kafka?.peak.find((p) => p.batchSize === 100);
    const e = peakAt(100);
    if (!k || !e) out.push(notRun(t, inputs.throughput ? 'no Kafka and embedded peaks at batch 100 in throughput.json' : 'throughput.json not run'));
    else {
      const ratio = Math.min(k.readingsPerS / GOALS.kafkaReadingsPerS, k.readingsPerS / e.readingsPerS / GOALS.kafkaVsEmbedded);
      out.push({ ...t, measured: `${int(k.readingsPerS)} readings/s, ${dec(k.readingsPerS / e.readingsPerS, 2)}× embedded (${int(e.readingsPerS)})`, ratio, status: atLeast(ratio) });
    }
  }
  {
    const t = { id: 'kafka-peak-1', target: 'Kafka path end-to-end, 1 reading per message', goal: `≥ ${int(GOALS.kafkaReadingsPerSBatch1)} readings/s` };
    const k = kafka?.peak.find((p) => p.batchSize === 1);
    if (!k) out.push(notRun(t, inputs.throughput ? 'no Kafka peak at batch 1 in throughput.json' : 'throughput.json not run'));
    else {
      const ratio = k.readingsPerS / GOALS.kafkaReadingsPerSBatch1;
      out.push({ ...t, measured: `${int(k.readingsPerS)} readings/s`, ratio, status: atLeast(ratio) });
    }
  }
  {
    const t = { id: 'kafka-push-p99-at-50', target: `Gas alarm publish → technician push p99, Kafka path at ${GOALS.pushAtLoadPct} % of its peak`, goal: `≤ ${GOALS.kafkaPushP99Ms} ms` };
    const level = kafka?.levels.find((l) => l.loadPct === GOALS.pushAtLoadPct);
    if (!level) out.push(notRun(t, inputs.throughput ? `no Kafka level at ${GOALS.pushAtLoadPct} % in throughput.json` : 'throughput.json not run'));
    else if (level.pushLatencyMs.count === 0) out.push({ ...t, measured: 'no push arrived', status: 'fail' });
    else {
      const ratio = level.pushLatencyMs.p99 / GOALS.kafkaPushP99Ms;
      out.push({ ...t, measured: `${ms(level.pushLatencyMs.p99)} ms (${int(level.pushLatencyMs.count)} alarms)`, ratio, status: atMost(ratio) });
    }
  }

  {
    const t = { id: 'memory-1m', target: 'Processor state per device at 1M devices', goal: `≤ ${GOALS.bytesPerDevice} bytes` };
    const runs = inputs.memory?.results.runs ?? [];
    const run = runs.find((r) => r.devices === GOALS.memoryDevices);
    if (!run) {
      const largest = runs.reduce<Memory['runs'][number] | undefined>((a, r) => (!a || r.devices > a.devices ? r : a), undefined);
      out.push(notRun(t, !inputs.memory ? 'memory.json not run' : `not run at 1M${largest ? ` (largest: ${int(largest.devices)} devices, ${int(largest.bytesPerDevice)} bytes/device)` : ''}`));
    } else {
      const ratio = run.bytesPerDevice / GOALS.bytesPerDevice;
      out.push({ ...t, measured: `${int(run.bytesPerDevice)} bytes/device`, ratio, status: atMost(ratio) });
    }
  }

  for (const [id, name, loaded] of [['burst-1m', 'burst', inputs.burst], ['burst-1m-kafka', 'burst-kafka', inputs.burstKafka]] as const) {
    const t = { id, target: `1M-meter burst drained${id === 'burst-1m' ? '' : ' on Kafka'}, nothing lost`, goal: `≤ ${GOALS.burstDrainSeconds} s, 0 lost` };
    const b = loaded?.results;
    if (!b) out.push(notRun(t, `${name}.json not run`));
    else {
      const drained = b.drainSeconds !== null;
      const measured = `${drained ? `${dec(b.drainSeconds!, 1)} s` : 'not drained'}; lost ${int(b.lost.readings)} readings, ${int(b.lost.faults)} of ${int(b.faultsInjected)} faults`;
      const ratio = drained ? b.drainSeconds! / GOALS.burstDrainSeconds : undefined;
      const nothingLost = b.lost.readings === 0 && b.lost.faults === 0;
      if (b.meters < GOALS.burstMeters) out.push({ ...t, measured, ratio, status: 'not run', note: `run at ${int(b.meters)} meters, not 1M` });
      else out.push({ ...t, measured, ratio, status: ratio !== undefined && ratio <= 1 && nothingLost ? 'pass' : 'fail', note: nothingLost ? undefined : 'something was lost' });
    }
  }
  return out;
}

// --- the chart --------------------------------------------------------------------------------

const COLOURS = { embedded: '#1f6fb4', mosquitto: '#2a9d5c', kafka: '#e07b00' } as const;

/** Readings/s achieved (top) and gas-alarm p99 latency (bottom) against offered load, per path. */
export function renderChart(throughput: Loaded<Throughput> | undefined, width = 900, height = 640): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    const paths = THROUGHPUT_PATHS.filter((p) => (throughput?.results[p]?.levels.length ?? 0) > 0);
    const series: echarts.SeriesOption[] = [];
    for (const path of paths) {
      const levels = [...throughput!.results[path]!.levels].sort((a, b) => a.loadPct - b.loadPct);
      const colour = COLOURS[path];
      series.push(
        { name: `${path}: readings/s offered`, type: 'line', xAxisIndex: 0, yAxisIndex: 0, color: colour, lineStyle: { type: 'dashed', width: 1 }, symbol: 'none', data: levels.map((l) => [l.loadPct, l.offeredReadingsPerS]) },
        { name: `${path}: readings/s achieved`, type: 'line', xAxisIndex: 0, yAxisIndex: 0, color: colour, lineStyle: { width: 2 }, symbol: 'circle', data: levels.map((l) => [l.loadPct, l.achievedReadingsPerS]) },
        { name: `${path}: push p99`, type: 'line', xAxisIndex: 1, yAxisIndex: 1, color: colour, lineStyle: { width: 2 }, symbol: 'diamond', data: levels.map((l) => [l.loadPct, l.pushLatencyMs.count > 0 ? l.pushLatencyMs.p99 : null]) },
        { name: `${path}: alert p99`, type: 'line', xAxisIndex: 1, yAxisIndex: 1, color: colour, lineStyle: { type: 'dotted', width: 2 }, symbol: 'triangle', data: levels.map((l) => [l.loadPct, l.alertLatencyMs.count > 0 ? l.alertLatencyMs.p99 : null]) },
      );
    }
    if (series.length > 0) {
      (series[2] as echarts.LineSeriesOption).markLine = {
        silent: true, symbol: 'none', lineStyle: { color: '#c00', type: 'dashed' },
        label: { formatter: `target ${GOALS.pushP99Ms} ms at ${GOALS.pushAtLoadPct} %`, position: 'insideEndTop' },
        data: [{ yAxis: GOALS.pushP99Ms }],
      };
    }
    const axisName = { nameLocation: 'middle' as const, nameGap: 52 };
    chart.setOption({
      animation: false,
      backgroundColor: '#ffffff',
      title: [
        { text: 'Readings/s against offered load', left: 'center', top: 8, textStyle: { fontSize: 14 } },
        { text: 'Gas alarm → alert and technician push, p99', left: 'center', top: height / 2 + 4, textStyle: { fontSize: 14 } },
        ...(paths.length === 0 ? [{ text: throughput ? 'throughput.json has no load levels' : 'throughput.json: not run', left: 'center', top: 'middle', textStyle: { fontSize: 16, color: '#888' } }] : []),
      ],
      legend: { bottom: 4, type: 'plain', textStyle: { fontSize: 11 } },
      grid: [
        { left: 90, right: 30, top: 40, height: height / 2 - 90 },
        { left: 90, right: 30, top: height / 2 + 36, height: height / 2 - 120 },
      ],
      xAxis: [
        { type: 'value', gridIndex: 0, min: 0, max: 100, name: 'offered load, % of the path\'s peak', ...axisName, nameGap: 28, axisLabel: { formatter: '{value} %' } },
        { type: 'value', gridIndex: 1, min: 0, max: 100, name: 'offered load, % of the path\'s peak', ...axisName, nameGap: 28, axisLabel: { formatter: '{value} %' } },
      ],
      yAxis: [
        { type: 'value', gridIndex: 0, name: 'readings/s', ...axisName, nameGap: 70 },
        // Log scale: a few milliseconds when idle and seconds when saturated both stay readable.
        { type: 'log', logBase: 10, gridIndex: 1, name: 'p99, ms (log scale)', ...axisName },
      ],
      series,
    });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

// --- RESULTS.md -------------------------------------------------------------------------------

function machineText(m: Partial<Machine>): string {
  const parts = [
    m.cpus !== undefined ? `${m.cpus} CPU${m.cpus === 1 ? '' : 's'}${m.cpuModel ? ` (${m.cpuModel})` : ''}` : undefined,
    m.memGiB !== undefined ? `${m.memGiB} GiB` : undefined,
    m.node ? `Node.js ${m.node}` : undefined,
    m.platform,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'not recorded';
}

function figures(name: BenchName, inputs: Inputs): string {
  switch (name) {
    case 'throughput': {
      const r = inputs.throughput!.results;
      const parts: string[] = [];
      const peakRows = THROUGHPUT_PATHS.flatMap((p) => (r[p]?.peak ?? []).map((x) => [p, x.batchSize, int(x.readings), dec(x.seconds, 2), int(x.readingsPerS), dec(x.cpu.pipelinePct, 0), dec(x.cpu.loadPct, 0)]));
      if (peakRows.length > 0) parts.push(table(['Path', 'Batch', 'Readings', 'Seconds', 'Readings/s', 'Pipeline CPU %', 'Load generator CPU %'], peakRows));
      const levelRows = THROUGHPUT_PATHS.flatMap((p) => (r[p]?.levels ?? []).map((l) => [
        p, `${l.loadPct} %`, int(l.offeredReadingsPerS), int(l.achievedReadingsPerS),
        `${ms(l.alertLatencyMs.p50)} / ${ms(l.alertLatencyMs.p99)} / ${ms(l.alertLatencyMs.max)}`,
        `${ms(l.pushLatencyMs.p50)} / ${ms(l.pushLatencyMs.p99)} / ${ms(l.pushLatencyMs.max)}`,
        int(l.pushLatencyMs.count),
        l.cpu ? [dec(l.cpu.pipelinePct, 0), dec(l.cpu.brokerPct, 0), dec(l.cpu.loadPct, 0)].join(' / ') : '—',
      ]));
      if (levelRows.length > 0) parts.push(table(['Path', 'Load', 'Offered readings/s', 'Achieved readings/s', 'Alert p50 / p99 / max, ms', 'Push p50 / p99 / max, ms', 'Alarms timed', 'CPU % pipeline / Kafka broker / load generator'], levelRows));
      const influx = THROUGHPUT_PATHS.filter((p) => r[p]).map((p) => `${p}: InfluxDB writes ${r[p]!.influx ? 'on' : 'off'}`);
      if (influx.length > 0) parts.push(influx.join('; ') + '.');
      return parts.join('\n\n') || 'No figures in the file.';
    }
    case 'floors': {
      const r = inputs.floors!.results;
      const rows = [...r.decode.map((x) => ['decode-and-validate', x] as const), ...r.mosquitto.map((x) => ['Mosquitto pass-through', x] as const)]
        .map(([what, x]) => [what, x.batchSize, int(x.readings), int(x.messages), dec(x.seconds, 2), int(x.readingsPerS), int(x.messagesPerS), int(x.received)]);
      return table(['Floor', 'Batch', 'Readings', 'Messages', 'Seconds', 'Readings/s', 'Messages/s', 'Received'], rows);
    }
    case 'node-red-peer': {
      const r = inputs.nodeRed!.results;
      return `Node-RED ${r.nodeRed}.\n\n` + table(['Batch', 'Readings', 'Messages', 'Seconds', 'Readings/s', 'Messages/s', 'Counted by the flow'],
        r.runs.map((x) => [x.batchSize, int(x.readings), int(x.messages), dec(x.seconds, 2), int(x.readingsPerS), int(x.messagesPerS), int(x.received)]));
    }
    case 'burst':
    case 'burst-kafka': {
      const b = (name === 'burst' ? inputs.burst : inputs.burstKafka)!.results;
      return table(['Path', 'Meters', 'Gateways', 'Readings sent', 'Readings judged', 'Drain, s', 'Readings/s', 'Peak lag', 'Faults found / injected', 'Lost readings', 'Lost faults', 'Burst verdict'], [[
        b.path, int(b.meters), int(b.gateways), int(b.readingsSent), int(b.readingsJudged), b.drainSeconds === null ? 'not drained' : dec(b.drainSeconds, 1), int(b.readingsPerS), int(b.peakLag),
        `${int(b.faultsFound)} / ${int(b.faultsInjected)}`, int(b.lost.readings), int(b.lost.faults), b.pass ? 'pass' : 'fail',
      ]]);
    }
    case 'storm':
      return stormFigures(inputs.storm!.results);
    case 'memory':
      return table(['Devices', 'Baseline heap, MiB', 'Heap after, MiB', 'Bytes/device', 'RSS, MiB'],
        inputs.memory!.results.runs.map((x) => [int(x.devices), mib(x.baselineHeapBytes), mib(x.heapBytes), int(x.bytesPerDevice), mib(x.rssBytes)]));
    case 'api':
      return table(['Route', 'Request', 'Connections', 'Seconds', 'Requests', 'Requests/s', 'p50, ms', 'p90, ms', 'p99, ms', 'max, ms', 'Non-2xx', 'Errors'],
        inputs.api!.results.routes.map((x) => [x.name, `\`${x.method} ${x.path}\``, x.connections, dec(x.seconds, 2), int(x.requests), int(x.requestsPerS), ms(x.latencyMs.p50), ms(x.latencyMs.p90), ms(x.latencyMs.p99), ms(x.latencyMs.max), int(x.non2xx), int(x.errors)]));
    case 'alarm-to-push': {
      const r = inputs.alarmToPush!.results;
      const l = r.latencyMs;
      return (r.path ? `Path: ${r.path}.\n\n` : '') + table(['Alarms', 'p50, ms', 'p90, ms', 'p99, ms', 'p99.9, ms', 'max, ms'], [[int(r.alarms), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max)]]);
    }
    case 'phone-latency': {
      const r = inputs.phoneLatency!.results;
      const parts = [
        `${int(r.leaks)} leaks (distinct home gas alarms) at ${int(r.ratePerS)}/s, published in ${dec(r.publishSeconds, 1)} s; emergency repeat ${int(r.repeatNotifyMs)} ms, SLA check every ${int(r.slaCheckIntervalMs)} ms.` +
          (r.loadAvg1 ? ` Load average (1 min) ${dec(r.loadAvg1.start, 1)} at the start, ${dec(r.loadAvg1.end, 1)} at the end: what else the machine ran.` : ''),
        table(['Channel', 'Type', 'Provider stand-in', 'Timed', 'Received', 'Missing', 'p50, ms', 'p90, ms', 'p99, ms', 'max, ms'],
          r.channels.map((c) => [c.channel, c.type, c.provider, c.measured, int(c.received), int(c.missing), ms(c.latencyMs.p50), ms(c.latencyMs.p90), ms(c.latencyMs.p99), ms(c.latencyMs.max)])),
      ];
      const splits = r.channels.filter((c) => c.split).map((c) => `${c.channel}: repeat due → the SLA check that repeated started p50 ${ms(c.split!.dueToCheckMs.p50)} / p99 ${ms(c.split!.dueToCheckMs.p99)} ms, that check's start → call p50 ${ms(c.split!.checkToCallMs.p50)} / p99 ${ms(c.split!.checkToCallMs.p99)} ms`);
      if (splits.length > 0) parts.push(`${splits.join('; ')}.`);
      if (r.unmatched > 0) parts.push(`${int(r.unmatched)} stand-in message(s) named no leak or ticket of the run.`);
      return parts.join('\n\n');
    }
    case 'kafka-processors':
      return kafkaProcessorsFigures(inputs.kafkaProcessors!.results);
    case 'kafka-restore':
      return kafkaRestoreFigures(inputs.kafkaRestore!.results);
    case 'kafka-clients':
      return kafkaClientsFigures(inputs.kafkaClients!.results);
    case 'soak': {
      const r = inputs.soak!.results;
      return table(['Seconds', 'Devices', 'Offered readings/s', 'Heap growth, MB/min', 'Backlog slope, readings/min', 'Max backlog', 'Verdict'], [[
        int(r.seconds), int(r.devices), int(r.readingsPerSecondOffered),
        `${dec(r.heapGrowthMbPerMin, 2)}${r.limits?.maxHeapGrowthMbPerMin !== undefined ? ` (limit ${r.limits.maxHeapGrowthMbPerMin})` : ''}`,
        int(r.backlogSlopePerMin), `${int(r.maxBacklog)}${r.limits?.maxBacklog !== undefined ? ` (limit ${int(r.limits.maxBacklog)})` : ''}`, r.ok ? 'pass' : 'fail',
      ]]);
    }
  }
}

function kafkaProcessorsFigures(r: KafkaProcessors): string {
  const setup = [
    r.devices !== undefined && `${int(r.devices)} devices`,
    r.rounds !== undefined && `${r.rounds} rounds`,
    r.partitions !== undefined && `${r.partitions} partitions`,
    r.perGateway !== undefined && `${int(r.perGateway)} readings a publish`,
  ].filter(Boolean).join(', ');
  const pct = (c: ProcessCpu | undefined) => (c === undefined ? '—' : int(c.cpuPct));
  const rows = r.runs.map((x) => [
    x.processors, int(x.readings), int(x.records), int(x.produceReadingsPerS), dec(x.judgeSeconds, 2), int(x.readingsPerS), dec(x.drainSeconds, 2),
    x.cpu ? x.cpu.processors.map((c) => int(c.cpuPct)).join(' + ') : '—', pct(x.cpu?.processorsTotal), pct(x.cpu?.broker), int(x.readingsPerProcessorCpuS), int(x.rejudged),
  ]);
  return (setup ? `${setup}.\n\n` : '') +
    table(['Processors', 'Readings', 'Records', 'Produced, readings/s', 'Judged in, s', 'Readings/s', 'Lag 0 after, s', 'CPU per processor, %', 'Processors CPU, %', 'Broker CPU, %', 'Readings per processor CPU-s', 'Rejudged'], rows) +
    '\n\nCPU over the judging time, 100 % = one core; "Lag 0 after" includes the wait for each partition\'s checkpoint and commit.';
}

function kafkaRestoreFigures(r: KafkaRestore): string {
  return `Goal: ≤ ${r.goalSeconds} s for load and restore together; device states of ${int(r.meanStateBytes)} bytes of JSON on average.\n\n` +
    table(['Variant', 'Devices', 'Records', 'Partition, MiB', 'Load, s', 'Load, records/s', 'Load CPU, s', 'Broker CPU, s', 'restoreDevice, s', 'Devices/s', 'Total, s', 'RSS before / after load / after restore / peak, MiB', 'Differing', 'Result'],
      r.runs.map((x) => [
        `${x.variant} (${x.savesPerDevice} checkpoint${x.savesPerDevice > 1 ? 's' : ''} a device)`, int(x.devices), int(x.records), x.partitionBytes === undefined ? '—' : mib(x.partitionBytes),
        dec(x.loadSeconds, 2), int(x.loadRecordsPerS), dec(x.loadCpuSeconds, 1), dec(x.brokerCpuSecondsDuringLoad, 1), dec(x.restoreSeconds, 2), int(x.restoreDevicesPerS), dec(x.totalSeconds, 2),
        [x.rssBeforeBytes, x.rssAfterLoadBytes, x.rssAfterRestoreBytes, x.peakRssBytes].map((b) => int(b / 2 ** 20)).join(' / '),
        `${int(x.differing)} of ${int(x.checked)}`, x.withinGoal ? '**pass**' : '**FAIL**',
      ]));
}

const CLIENT_LABEL: Record<ClientName, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' };

function kafkaClientsFigures(r: KafkaClients): string {
  const x = (v: number) => `${dec(v, 2)}×`;
  const rounds = (ratio: { perRound: number[] }) => ratio.perRound.map(x).join(', ');
  const yesNo = (v: boolean | null) => (v === null ? '—' : v ? 'yes' : '**no**');
  const parts = [
    `${int(r.readingsPerRun)} readings a run in ${int(r.recordsPerRun)} records (${dec(r.readingsPerRecord, 1)} readings, ${int(r.bytesPerRecord)} bytes a record); the records of ${int(r.messagesPerSend)} MQTT messages a send; ${int(r.partitions)} partitions.`,
    table(['Round', 'Order', 'Client', 'Produce readings/s', 'Produce records/s', 'Produce readings per CPU-s', 'Consume readings/s', 'Consume readings per CPU-s', 'Group join, s', 'Send p50 / p99, ms'],
      r.runs.map((run) => [run.round, run.order === 1 ? 'first' : 'second', `${CLIENT_LABEL[run.client]} ${run.version}`, int(run.produce.readingsPerS), int(run.produce.recordsPerS), int(run.produce.readingsPerCpuS),
        int(run.consume.readingsPerS), int(run.consume.readingsPerCpuS), dec(run.consume.joinSeconds, 2), `${ms(run.sendLatencyMs.p50)} / ${ms(run.sendLatencyMs.p99)}`])),
    table(['Client', 'Produce readings/s', 'Produce readings per CPU-s', 'Consume readings/s', 'Consume readings per CPU-s', 'Send p50 / p99, ms (median of rounds)'],
      Object.values(r.summary).map((c) => [`${CLIENT_LABEL[c.client]} ${c.version}`, int(c.produceReadingsPerS), int(c.produceReadingsPerCpuS), int(c.consumeReadingsPerS), int(c.consumeReadingsPerCpuS), `${ms(c.sendP50Ms)} / ${ms(c.sendP99Ms)}`])),
    `@platformatic/kafka ÷ kafkajs, means over the rounds (per round in brackets): produce ${x(r.ratios.produce.mean)} readings/s (${rounds(r.ratios.produce)}), ${x(r.ratios.produceCpu.mean)} readings per CPU-s; ` +
      `consume ${x(r.ratios.consume.mean)} (${rounds(r.ratios.consume)}), ${x(r.ratios.consumeCpu.mean)} per CPU-s; one-message send p50 ${x(r.ratios.sendP50.mean)}, p99 ${x(r.ratios.sendP99.mean)} (below 1 is faster).`,
    `**Verdict:** ${r.verdict.text} Client kept: ${CLIENT_LABEL[r.verdict.keep]}.`,
  ];
  if (r.capabilities.length > 0) {
    parts.push(table(['What the bus needs', 'kafkajs', '@platformatic/kafka', 'Seen'], r.capabilities.map((c) => [c.check, yesNo(c.kafkajs), yesNo(c.platformatic), c.note])));
  }
  return parts.join('\n\n');
}

const STORM_NAMES: Record<StormPhaseName, string> = { baseline: 'baseline', 'fault-storm': 'fault storm', 'silence-storm': 'silence storm' };

function stormFigures(r: Storm): string {
  const three = (p: Percentiles) => (p.count === 0 ? '—' : `${ms(p.p50)} / ${ms(p.p99)} / ${ms(p.max)}`);
  const secondsOr = (x: number | null, what: string) => (x === null ? what : dec(x, 1));
  const parts = [
    `${int(r.devices)} devices on ${int(r.gateways)} gateways per storm; a leak every ${int(r.leakEveryMs)} ms.`,
    table(['Phase', 'Seconds', 'Leaks', 'Alert p50 / p99 / max, ms', 'Push p50 / p99 / max, ms', 'Lost: alert / push', '/healthz p50 / p99 / max, ms', '/healthz failed', 'Event loop max / worst p99, ms', 'Pipeline CPU %', 'Load average'],
      r.phases.map((p) => [
        STORM_NAMES[p.name], dec(p.seconds, 1), int(p.leaks.sent), three(p.alertLatencyMs), three(p.pushLatencyMs), `${int(p.leaks.alertLost)} / ${int(p.leaks.pushLost)}`,
        three(p.healthz.latencyMs), int(p.healthz.non200 + p.healthz.errors), `${ms(p.eventLoop.maxMs)} / ${ms(p.eventLoop.worstP99Ms)}`,
        int(p.pipelineCpuPct), dec(p.loadAvg1, 1),
      ])),
  ];
  const storms = r.phases.filter((p) => p.tickets);
  if (storms.length > 0) {
    parts.push(table(['Storm', 'Storm alerts on the stream', 'All alerts after, s', 'Devices ticketed', 'Tickets', 'All ticketed after, s', 'Earliest the settings allow, s', 'Leaks until then', 'Their push p50 / p99 / max, ms'],
      storms.map((p) => {
        const t = p.tickets!;
        return [
          STORM_NAMES[p.name], `${int(t.alertsSeen)} / ${int(t.alertsExpected)}`, secondsOr(t.alertsCompleteS, 'not all'), `${int(t.covered)} / ${int(t.stormDevices)}`, int(t.tickets),
          secondsOr(t.ticketsCompleteS, 'not all'), t.detectionFloorS === undefined ? '0' : dec(t.detectionFloorS, 1),
          int(p.whileStorming?.leaks), p.whileStorming ? three(p.whileStorming.pushLatencyMs) : '—',
        ];
      })));
  }
  const ratio = (x: number | null) => (x === null ? '—' : `${dec(x, 2)}×`);
  const unexpected = Object.entries(r.unexpectedAlerts);
  parts.push(`Leak push p99, storm ÷ baseline: fault storm ${ratio(r.pushP99Ratio.faultStorm)}, silence storm ${ratio(r.pushP99Ratio.silenceStorm)}. ` +
    `Leaks lost: ${int(r.lost.alert)} on the operator stream, ${int(r.lost.push)} on the technician's. ` +
    (unexpected.length === 0 ? 'No unexpected alerts.' : `Unexpected alerts: ${unexpected.map(([k, v]) => `${k} × ${int(v)}`).join(', ')}.`));
  return parts.join('\n\n');
}

function loadedOf(name: BenchName, inputs: Inputs): Loaded<unknown> | undefined {
  const by: Record<BenchName, Loaded<unknown> | undefined> = {
    throughput: inputs.throughput, floors: inputs.floors, 'node-red-peer': inputs.nodeRed, burst: inputs.burst, 'burst-kafka': inputs.burstKafka, storm: inputs.storm, memory: inputs.memory,
    api: inputs.api, 'alarm-to-push': inputs.alarmToPush, 'phone-latency': inputs.phoneLatency, 'kafka-processors': inputs.kafkaProcessors, 'kafka-restore': inputs.kafkaRestore, 'kafka-clients': inputs.kafkaClients, soak: inputs.soak,
  };
  return by[name];
}

/** Headings one level down, so the file sits under "What bounds it". */
function nested(markdown: string): string {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    return !fenced && /^#{1,4} /.test(line) ? `##${line}` : line;
  }).join('\n').trim();
}

const STATUS_TEXT: Record<TargetStatus, string> = { pass: '**pass**', fail: '**FAIL**', 'not run': 'not run' };

export interface Report {
  markdown: string;
  svg: string;
  targets: Target[];
}

export function buildReport(options: { inDir: string; chartLink: string; bounds?: string }): Report {
  const inputs = readInputs(options.inDir);
  const targets = evaluateTargets(inputs);
  const svg = renderChart(inputs.throughput);
  const md: string[] = [];
  md.push('# Benchmark results', '');
  md.push(`Generated by \`npx tsx bench/report.ts\` from the result files in \`${options.inDir}\`; do not edit by hand. Each benchmark writes its own file; a file that is missing shows as "not run".`, '');

  md.push('## Targets', '');
  md.push(table(['Target', 'Goal', 'Measured', 'Measured ÷ goal', 'Result'],
    targets.map((t) => [t.target, t.goal, t.status === 'not run' && t.measured === '—' ? (t.note ?? '—') : t.measured + (t.note ? ` — ${t.note}` : ''), t.ratio === undefined ? '—' : dec(t.ratio, 2), STATUS_TEXT[t.status]])), '');
  const passed = targets.filter((t) => t.status === 'pass').length;
  const failed = targets.filter((t) => t.status === 'fail').length;
  md.push(`${passed} of ${targets.length} targets pass, ${failed} fail, ${targets.length - passed - failed} not run. "Measured ÷ goal" is at least 1 for a passing "≥" goal and at most 1 for a passing "≤" goal.`, '');

  md.push('## Throughput and latency against load', '');
  md.push(`![Readings/s achieved and gas-alarm p99 latency against offered load, embedded and Kafka](${options.chartLink})`, '');

  md.push('## Machine', '');
  const machines = new Map<string, string[]>();
  for (const name of BENCHMARKS) {
    const l = loadedOf(name, inputs);
    if (!l) continue;
    const text = l.machine ? machineText(l.machine) : 'not recorded';
    machines.set(text, [...(machines.get(text) ?? []), l.file]);
  }
  if (machines.size === 0) md.push('No result files yet.', '');
  for (const [text, files] of machines) md.push(`- ${text} — ${files.map((f) => `\`${f}\``).join(', ')}`);
  md.push('');

  md.push('## Method and figures', '');
  for (const name of BENCHMARKS) {
    const l = loadedOf(name, inputs);
    md.push(`### ${TITLE[name]}`, '');
    md.push(METHOD[name], '');
    if (!l) {
      md.push(`\`${name}.json\`: **not run** (\`${USAGE[name]}\`).`, '');
      continue;
    }
    const older = l.command === undefined;
    md.push(`\`${l.file}\`${l.at ? `, ${l.at}` : ''}${older ? ' (older format, which does not record its command: this is the script\'s usage)' : ''}:`, '', '```sh', older ? USAGE[name] : shownCommand(l.command!), '```', '');
    md.push(figures(name, inputs), '');
  }

  md.push('## What bounds it', '');
  md.push(options.bounds !== undefined ? nested(options.bounds) : '`bench/bounds.md` is not written yet.', '');
  return { markdown: `${md.join('\n').trimEnd()}\n`, svg, targets };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      in: { type: 'string', default: 'bench/out' },
      md: { type: 'string', default: 'bench/RESULTS.md' },
      svg: { type: 'string', default: 'bench/results-chart.svg' },
      bounds: { type: 'string', default: 'bench/bounds.md' },
    },
  });
  const chartLink = relative(dirname(resolve(values.md)), resolve(values.svg)).split('\\').join('/');
  const bounds = existsSync(values.bounds) ? readFileSync(values.bounds, 'utf8') : undefined;
  const report = buildReport({ inDir: values.in, chartLink, bounds });
  for (const file of [values.md, values.svg]) mkdirSync(dirname(resolve(file)), { recursive: true });
  writeFileSync(values.md, report.markdown);
  writeFileSync(values.svg, report.svg);
  for (const t of report.targets) process.stdout.write(`${t.status.padEnd(7)} ${t.target}: ${t.measured}${t.ratio === undefined ? '' : ` (${dec(t.ratio, 2)} of goal)`}\n`);
  process.stdout.write(`wrote ${values.md} and ${values.svg}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
