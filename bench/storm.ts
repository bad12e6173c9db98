/**
 * Fault and silence storms against a leak (issue 11, item 5): does a gas leak still reach the
 * technician on call while thousands of other devices page at once?
 *
 *   npx tsx bench/storm.ts [--devices 5000] [--gateways 10] [--leak-every-ms 500] [--window-s 30]
 *     [--report-interval-s 5] [--missed-reports 2] [--silence-check-ms 1000] [--offline-gateways gateways/2]
 *     [--ticket-timeout-s 120] [--out bench/out/storm.json]
 *   smoke: npx tsx bench/storm.ts --devices 200 --gateways 2 --window-s 3 --report-interval-s 2
 *
 * The embedded pipeline (aedes broker, PGlite tickets, role all) runs in a child process of its own
 * (bench/pipeline-under-test.ts) with the bench on-call rota (one technician for every district).
 * Its registry holds three fleets of home gas alarms, each gateway's readings one batch:
 *
 * - the leak: one alarm on its own gateway GW-LEAK. Every --leak-every-ms it publishes a reading at
 *   60 %LEL with the valve open (GAS_ALARM_L1, GAS_ALARM_L2, VALVE_NOT_CUT) and half a period later a
 *   normal one, which clears them (the gas-alarm detector's clearAfterMs is 0 here), so every leak
 *   is a new alert. Timed from just before the publish to the first `alert.raised` of that reading
 *   on the operator stream (/api/v1/stream/alerts) and to the safety lane's `alarm.raised` push on
 *   the technician's stream (/api/v1/stream), both matched on the device and the reading's own
 *   timestamp (`raisedAt`), so a late event is never taken for the next leak's. A leak not seen on
 *   a stream by the end of the run (30 s after the last leak) is counted lost there.
 * - the fault fleet: --devices alarms behind --gateways gateways (GW-F…), reporting every hour, so
 *   they never fall silent during the run. The fault storm is one batch per gateway, all at once,
 *   with the green power lamp off: POWER_LOST on every device. (The brief asked for low battery as
 *   well: the battery detector does not judge home gas alarms — it runs for household meters,
 *   industrial controllers and flow meters — so no battery condition can be raised on them.)
 * - the silence fleet: --devices alarms behind --gateways more gateways (GW-S…), reporting every
 *   --report-interval-s. At the silence storm they all stop. The first --offline-gateways gateways
 *   fall silent altogether (GATEWAY_OFFLINE, one alert listing its devices); the others keep one
 *   extra "keeper" device reporting, so the gateway is alive and its silent devices page NO_SIGNAL
 *   each (folded into incident tickets by alerts/tickets/storm-folder.ts). Silence settings:
 *   missedReports and gatewayMissedReports --missed-reports, gatewayMinSilenceMs 1 s,
 *   checkIntervalMs --silence-check-ms; the earliest the rules allow a silence alert is therefore
 *   --missed-reports × --report-interval-s after the last report (`detectionFloorS`).
 *
 * Phases: a warm-up (every fleet's first reading judged, a few leaks; not reported), the baseline
 * (--window-s, no storm), the fault storm and the silence storm; each storm phase lasts --window-s
 * or until every storm ticket exists, whichever is later (at most --ticket-timeout-s more). The leak
 * and the silence fleet's reports go on through all of them. Meanwhile `/healthz` is requested
 * every 100 ms, one request at a time (its latency per phase), and `/metrics` every second for the
 * event-loop delay prom-client's default metrics measure with monitorEventLoopDelay and reset at
 * every scrape (gas_process_nodejs_eventloop_lag_{p50,p99,max}_seconds: each scrape covers the
 * second since the previous one).
 *
 * Storm tickets: `GET /api/v1/tickets?limit=1000` with the admin token, polled every second from the
 * storm's start. A fault-storm device counts as covered once a ticket whose `conditions` hold
 * POWER_LOST lists it (`devices` or `deviceId`): an incident ticket on its district or gateway or a ticket of
 * its own, whichever the storm folder made. A silent device behind a live gateway counts once a
 * ticket with NO_SIGNAL lists it; one behind a silent gateway once its gateway has a ticket with
 * GATEWAY_OFFLINE. `ticketsCompleteS` is the first poll that saw every storm device covered, from
 * the storm's start: the fault batch's publish, or the silence fleet's last report. Alerts are
 * counted too, from the operator stream (`alertsCompleteS`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceRecord } from '../contracts/device-record.ts';
import { openStream, type StreamClient } from '../tests/stream-client.ts';
import { BENCH_ADMIN_TOKEN, cliArgs, issueToken, BENCH_TECHNICIAN, LatencyHistogram, writeBenchOncall, writeResult } from './common.ts';
import { Publisher, PUBLISHER, type LoadMessage } from './load.ts';
import { cpuSecondsOf, startPipelineUnderTest, type PipelineUnderTest } from './pipeline-under-test.ts';
import type { Storm, StormLeaks, StormPhase, StormPhaseName, StormSample, StormTickets } from './report.ts';

const { fail, positiveInt } = cliArgs('storm');

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '5000' },
    gateways: { type: 'string', default: '10' },
    'leak-every-ms': { type: 'string', default: '500' },
    'window-s': { type: 'string', default: '30' },
    'report-interval-s': { type: 'string', default: '5' },
    'missed-reports': { type: 'string', default: '2' },
    'silence-check-ms': { type: 'string', default: '1000' },
    'offline-gateways': { type: 'string' },
    'ticket-timeout-s': { type: 'string', default: '120' },
    out: { type: 'string', default: 'bench/out/storm.json' },
  },
});


const devices = positiveInt('--devices', values.devices);
const gateways = positiveInt('--gateways', values.gateways);
if (gateways > devices) fail('--gateways must not exceed --devices');
const leakEveryMs = positiveInt('--leak-every-ms', values['leak-every-ms']);
const windowS = Number(values['window-s']);
if (!(windowS > 0)) fail(`--window-s must be positive, got ${values['window-s']}`);
const reportIntervalS = positiveInt('--report-interval-s', values['report-interval-s']);
const missedReports = positiveInt('--missed-reports', values['missed-reports']);
const silenceCheckMs = positiveInt('--silence-check-ms', values['silence-check-ms']);
if (silenceCheckMs < 100) fail('--silence-check-ms must be at least 100');
const offlineGateways = values['offline-gateways'] === undefined ? Math.floor(gateways / 2) : Number(values['offline-gateways']);
if (!Number.isInteger(offlineGateways) || offlineGateways < 0 || offlineGateways > gateways) fail(`--offline-gateways must be 0…${gateways}`);
const ticketTimeoutS = Number(values['ticket-timeout-s']);
if (!(ticketTimeoutS > 0)) fail('--ticket-timeout-s must be positive');

const ADMIN_TOKEN = BENCH_ADMIN_TOKEN;
const DISTRICT = '城东区';
const LEAK_DEVICE = 'HA-LEAK-000001';
const LEAK_GATEWAY = 'GW-LEAK';
const HEALTHZ_EVERY_MS = 100;
const METRICS_EVERY_MS = 1000;
const TICKETS_EVERY_MS = 1000;
/** How long after the last leak its alert and push may still arrive before they count as lost. */
const DRAIN_MS = 30_000;
const WARM_LEAKS = 4;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Ends the background loops' waits at once when the run stops. */
const stop = new AbortController();
const pause = (ms: number) => delay(ms, undefined, { signal: stop.signal }).catch(() => undefined);
const round = (x: number, digits = 3) => Number(x.toFixed(digits));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const began = performance.now();
/** Seconds since the bench began, for progress lines and event times in the result. */
const sinceBegan = (atMs: number) => round((atMs - began) / 1000, 3);
const progress = (line: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1)} s] storm: ${line}\n`);

// --- the fleets ------------------------------------------------------------------------------------

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const gatewayIds = (prefix: string) => Array.from({ length: gateways }, (_, g) => `${prefix}${pad(g, 3)}`);
/** Devices spread round-robin over the gateways: gateway g holds devices g, g + gateways, … */
function fleet(prefix: string, gws: string[]): Map<string, string[]> {
  const byGateway = new Map<string, string[]>(gws.map((g) => [g, []]));
  for (let i = 0; i < devices; i++) byGateway.get(gws[i % gws.length]!)!.push(`${prefix}${pad(i, 6)}`);
  return byGateway;
}
const faultGateways = gatewayIds('GW-F');
const silenceGateways = gatewayIds('GW-S');
const faultFleet = fleet('HA-F', faultGateways);
const silenceFleet = fleet('HA-S', silenceGateways);
const offline = new Set(silenceGateways.slice(0, offlineGateways));
/** One device per live silence gateway that keeps reporting through the silence storm. */
const keepers = new Map(silenceGateways.filter((g) => !offline.has(g)).map((g) => [g, `HA-K${g.slice(4)}`]));
const faultDevices = new Set([...faultFleet.values()].flat());
const silentDevices = new Set([...silenceFleet.values()].flat());
const gatewayOf = new Map<string, string>();
for (const [g, ids] of [...faultFleet, ...silenceFleet]) for (const id of ids) gatewayOf.set(id, g);

function registry(): DeviceRecord[] {
  const record = (deviceId: string, gatewayId: string, interval: number): DeviceRecord => ({ deviceId, kind: 'home_gas_alarm', gatewayId, district: DISTRICT, reportIntervalS: interval });
  return [
    record(LEAK_DEVICE, LEAK_GATEWAY, reportIntervalS),
    ...[...faultFleet].flatMap(([g, ids]) => ids.map((id) => record(id, g, 3600))),
    ...[...silenceFleet].flatMap(([g, ids]) => ids.map((id) => record(id, g, reportIntervalS))),
    ...[...keepers].map(([g, id]) => record(id, g, reportIntervalS)),
  ];
}

type Reading = Record<string, unknown>;
const normal = (deviceId: string, at: string): Reading => ({ deviceId, kind: 'home_gas_alarm', at, lelPct: 0, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', valve: 'open' });
const powerLost = (deviceId: string, at: string): Reading => ({ deviceId, kind: 'home_gas_alarm', at, lelPct: 0, lamps: { power: false, fault: false, alarm: false }, buzzer: 'off', valve: 'open' });
const leak = (deviceId: string, at: string): Reading => ({ deviceId, kind: 'home_gas_alarm', at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' });

const seqs = new Map<string, number>();
function batch(gatewayId: string, at: string, readings: Reading[]): LoadMessage {
  const seq = (seqs.get(gatewayId) ?? 0) + 1;
  seqs.set(gatewayId, seq);
  return { topic: `gas/v1/${gatewayId}/up`, payload: Buffer.from(JSON.stringify({ gatewayId, seq, sentAt: at, readings })), readings: readings.length };
}

// --- phases and what is recorded ------------------------------------------------------------------

type PhaseKey = StormPhaseName | 'warm-up';
interface PhaseSpan {
  name: PhaseKey;
  startMs: number;
  endMs: number;
  /** The pipeline process's CPU seconds when the phase began and ended. */
  cpuStart?: number;
  cpuEnd?: number;
  /** The machine's 1-minute load average as the phase ended: the benchmark shares the CPU with whatever else runs. */
  loadAvg1?: number;
}
const spans: PhaseSpan[] = [];
const pipelineCpu = () => (pipeline ? cpuSecondsOf(pipeline.pid) : undefined);
/** Ends the current phase now. */
function endPhase(span: PhaseSpan | undefined, atMs: number): void {
  if (!span) return;
  span.endMs = atMs;
  span.cpuEnd = pipelineCpu();
  span.loadAvg1 = loadavg()[0];
}
function enterPhase(name: PhaseKey): PhaseSpan {
  const now = performance.now();
  endPhase(spans[spans.length - 1], now);
  const span: PhaseSpan = { name, startMs: now, endMs: Infinity, cpuStart: pipelineCpu() };
  spans.push(span);
  progress(`phase ${name}`);
  return span;
}
const phaseAt = (atMs: number): PhaseKey | undefined => spans.find((s) => atMs >= s.startMs && atMs < s.endMs)?.name;

interface Leak {
  at: string;
  publishedMs: number;
  alertMs?: number;
  pushMs?: number;
}
const leaks: Leak[] = [];
const leakByAt = new Map<string, Leak>();
/** Cursors into the streams' event lists: each event is looked at once. */
const cursor = { alert: 0, push: 0 };

interface Sample {
  atMs: number;
  value: number;
}
/** Status 0: the request failed (connection refused, reset, or no answer within 60 s). */
const healthz: Array<Sample & { status: number }> = [];
const loopSamples: Array<{ atMs: number; p50Ms: number; p99Ms: number; maxMs: number }> = [];

// --- HTTP helpers ----------------------------------------------------------------------------------


/** One gauge's value from Prometheus text, or undefined. */
function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

async function judged(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return gauge(text, 'gas_processor_readings_total') ?? 0;
}

interface TicketView {
  id: string;
  subject: 'device' | 'gateway';
  subjectId: string;
  deviceId: string | null;
  gatewayId: string | null;
  conditions: string[];
  devices: string[];
  openedAt: string;
}

async function listTickets(httpUrl: string): Promise<TicketView[]> {
  const res = await fetch(`${httpUrl}/api/v1/tickets?limit=1000`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`GET /api/v1/tickets: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { items: TicketView[] }).items;
}

/** Storm devices covered by a ticket of the storm's condition(s), as the header explains. */
function coverage(storm: 'fault-storm' | 'silence-storm', tickets: TicketView[]): { covered: number; tickets: number; listed: number } {
  const covered = new Set<string>();
  const stormTickets = new Set<string>();
  let listed = 0;
  for (const t of tickets) {
    const ids = t.deviceId ? [...t.devices, t.deviceId] : t.devices;
    const mine = storm === 'fault-storm'
      ? (t.conditions.includes('POWER_LOST') ? ids.filter((id) => faultDevices.has(id)) : [])
      : (t.conditions.includes('NO_SIGNAL') ? ids.filter((id) => silentDevices.has(id) && !offline.has(gatewayOf.get(id)!)) : []);
    if (mine.length > 0) stormTickets.add(t.id);
    for (const id of mine) covered.add(id);
    if (storm === 'silence-storm' && t.conditions.includes('GATEWAY_OFFLINE') && t.subject === 'gateway' && offline.has(t.subjectId)) {
      stormTickets.add(t.id);
      const devicesOf = silenceFleet.get(t.subjectId)!;
      const shown = new Set(t.devices);
      listed += devicesOf.filter((d) => shown.has(d)).length;
      for (const d of devicesOf) covered.add(d);
    }
  }
  return { covered: covered.size, tickets: stormTickets.size, listed };
}

// --- the run ----------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'gas-bench-storm-'));
let pipeline: PipelineUnderTest | undefined;
let leakClient: MqttClient | undefined;
let publisher: Publisher | undefined;
const streams: StreamClient[] = [];
let stopping = false;
const background: Promise<void>[] = [];

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

try {
  const oncallFile = join(dir, 'oncall.json');
  writeBenchOncall(oncallFile);
  const registryFile = join(dir, 'registry.json');
  writeFileSync(registryFile, JSON.stringify(registry()));
  const settings = {
    // Every leak a new alert: the next normal reading clears it at once, and the leak device's
    // deliberate raise/clear cycles are not folded as flapping (each leak's own push is measured).
    detectors: { 'gas-alarm': { clearAfterMs: 0 } },
    flapping: { enabled: false },
    silence: { missedReports, gatewayMissedReports: missedReports, gatewayMinSilenceMs: 1000, checkIntervalMs: silenceCheckMs },
  };
  progress(`starting the embedded pipeline with ${fmt(registry().length)} devices`);
  pipeline = await startPipelineUnderTest({
    role: 'all', mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-storm', httpPort: 0, httpHost: '127.0.0.1',
    dataDir: join(dir, 'data'), registryFile, oncallFile, adminToken: ADMIN_TOKEN, logLevel: 'warn', settings,
  });
  const { httpUrl } = pipeline;
  const technician = await issueToken(httpUrl, { name: 'bench phone', role: 'technician', personId: BENCH_TECHNICIAN });
  const operator = await issueToken(httpUrl, { name: 'bench control room', role: 'operator' });
  const alertStream = await openStream(`${httpUrl}/api/v1/stream/alerts?access_token=${operator}`);
  streams.push(alertStream);
  const pushStream = await openStream(`${httpUrl}/api/v1/stream?access_token=${technician}`);
  streams.push(pushStream);
  leakClient = await mqtt.connectAsync(pipeline.mqttUrl!, { clientId: LEAK_GATEWAY, reconnectPeriod: 0 });
  publisher = await Publisher.connect({ url: pipeline.mqttUrl!, clients: PUBLISHER.clients, window: PUBLISHER.window, clientIdPrefix: 'bench-storm' });
  const pub = publisher;
  const leakMqtt = leakClient;
  let publishError: unknown;

  enterPhase('warm-up');
  // Every fleet's first reading, judged before anything is timed.
  const judged0 = await judged(httpUrl);
  const firstAt = new Date().toISOString();
  await pub.publishAll(faultGateways.map((g) => batch(g, firstAt, faultFleet.get(g)!.map((id) => normal(id, firstAt)))));

  // The silence fleet reports every --report-interval-s until the silence storm; keepers for ever.
  let silenceStopped = false;
  let lastFullRoundMs = 0;
  let roundWaiters: Array<() => void> = [];
  const silenceRound = async () => {
    const at = new Date().toISOString();
    const full = !silenceStopped;
    const messages = silenceGateways
      .map((g) => {
        const ids = full ? [...silenceFleet.get(g)!] : [];
        const keeper = keepers.get(g);
        if (keeper) ids.push(keeper);
        return ids.length > 0 ? batch(g, at, ids.map((id) => normal(id, at))) : undefined;
      })
      .filter((m): m is LoadMessage => m !== undefined);
    const started = performance.now();
    await pub.publishAll(messages);
    if (full) lastFullRoundMs = started;
    const waiters = roundWaiters;
    roundWaiters = [];
    for (const w of waiters) w();
  };
  background.push((async () => {
    let next = performance.now();
    while (!stopping) {
      await silenceRound().catch((err: unknown) => {
        publishError ??= err;
      });
      next += reportIntervalS * 1000;
      await pause(Math.max(0, next - performance.now()));
    }
  })());
  const afterRound = () => new Promise<void>((resolve) => roundWaiters.push(resolve));
  await afterRound();
  const warmReadings = 2 * devices + keepers.size;
  const warmDeadline = performance.now() + 120_000;
  while ((await judged(httpUrl)) - judged0 < warmReadings) {
    if (performance.now() > warmDeadline) throw new Error('the fleets\' first readings were not judged within 120 s');
    await sleep(100);
  }

  // The leak: a leak reading, then half a period later a normal one, every --leak-every-ms.
  let leakSeq = 0;
  let lastLeakAtMs = 0;
  const leakPayload = (reading: (id: string, at: string) => Reading): { at: string; payload: string } => {
    // The device's own clock must rise from reading to reading, or a reading is late and not judged.
    lastLeakAtMs = Math.max(Date.now(), lastLeakAtMs + 1);
    const at = new Date(lastLeakAtMs).toISOString();
    return { at, payload: JSON.stringify({ gatewayId: LEAK_GATEWAY, seq: ++leakSeq, sentAt: at, readings: [reading(LEAK_DEVICE, at)] }) };
  };
  const publishLeak = (reading: (id: string, at: string) => Reading): string => {
    const { at, payload } = leakPayload(reading);
    leakMqtt.publishAsync(`gas/v1/${LEAK_GATEWAY}/up`, payload, { qos: 1 }).catch((err: unknown) => {
      publishError ??= err;
    });
    return at;
  };
  background.push((async () => {
    let next = performance.now();
    while (!stopping) {
      const publishedMs = performance.now();
      const at = publishLeak(leak);
      const l: Leak = { at, publishedMs };
      leaks.push(l);
      leakByAt.set(at, l);
      await pause(Math.max(0, next + leakEveryMs / 2 - performance.now()));
      publishLeak(normal);
      next += leakEveryMs;
      await pause(Math.max(0, next - performance.now()));
    }
  })());

  // Runs `tick` every `everyMs` from now until the run stops, one at a time, on a fixed schedule.
  const every = (everyMs: number, tick: (t0: number) => Promise<void>): Promise<void> => (async () => {
    let next = performance.now();
    while (!stopping) {
      await tick(performance.now());
      next += everyMs;
      await pause(Math.max(0, next - performance.now()));
    }
  })();
  // /healthz one request at a time every 100 ms; /metrics every second.
  background.push(every(HEALTHZ_EVERY_MS, async (t0) => {
    try {
      const res = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(60_000) });
      await res.arrayBuffer();
      healthz.push({ atMs: t0, value: performance.now() - t0, status: res.status });
    } catch {
      healthz.push({ atMs: t0, value: performance.now() - t0, status: 0 });
    }
  }));
  background.push(every(METRICS_EVERY_MS, async (t0) => {
    try {
      const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(60_000) })).text();
      const s = (name: string) => (gauge(text, `gas_process_nodejs_eventloop_lag_${name}_seconds`) ?? NaN) * 1000;
      // The histogram behind these is reset at every scrape: each sample is the second before it.
      loopSamples.push({ atMs: t0, p50Ms: s('p50'), p99Ms: s('p99'), maxMs: s('max') });
    } catch {
      // a missed scrape is a missing sample
    }
  }));

  // A few leaks before the baseline, so the leak device's ticket exists and nothing is cold.
  const warmUntil = performance.now() + 60_000;
  while (leaks.filter((l) => leakSeenBoth(l)).length < WARM_LEAKS) {
    correlate(alertStream, pushStream);
    if (publishError) throw publishError;
    if (performance.now() > warmUntil) throw new Error('warm-up leaks were not pushed within 60 s');
    await sleep(100);
  }

  // 1. Baseline.
  const baselineSpan = enterPhase('baseline');
  await sleep(windowS * 1000);

  // 2. Fault storm: every fault gateway's batch at once, the power lamp off on every device.
  const faultSpan = enterPhase('fault-storm');
  const stormAt = new Date().toISOString();
  const faultPublished = pub.publishAll(faultGateways.map((g) => batch(g, stormAt, faultFleet.get(g)!.map((id) => powerLost(id, stormAt)))));
  const faultTickets = await watchTickets('fault-storm', faultSpan.startMs, faultPublished);
  if (publishError) throw publishError;

  // 3. Silence storm: after the silence fleet's next report, none of them reports again.
  await afterRound();
  silenceStopped = true;
  const silenceSpan = enterPhase('silence-storm');
  silenceSpan.startMs = lastFullRoundMs;
  spans[spans.length - 2]!.endMs = lastFullRoundMs;
  const silenceTickets = await watchTickets('silence-storm', lastFullRoundMs);
  if (publishError) throw publishError;

  // Stop the leak and wait for the stragglers.
  const endMs = performance.now();
  endPhase(silenceSpan, endMs);
  stopping = true;
  stop.abort();
  await Promise.all(background);
  progress('leak stopped; waiting for the last events');
  const drainUntil = endMs + DRAIN_MS;
  while (performance.now() < drainUntil) {
    correlate(alertStream, pushStream);
    if (leaks.every((l) => l.publishedMs < baselineSpan.startMs || leakSeenBoth(l))) break;
    await sleep(100);
  }
  correlate(alertStream, pushStream);

  const phases = (['baseline', 'fault-storm', 'silence-storm'] as const).map((name) => phaseResult(name, name === 'fault-storm' ? faultTickets : name === 'silence-storm' ? silenceTickets : undefined, alertStream));
  const p99 = (name: StormPhaseName) => phases.find((p) => p.name === name)!.pushLatencyMs.p99;
  const ratio = (name: StormPhaseName) => (p99('baseline') > 0 && phases.find((p) => p.name === name)!.pushLatencyMs.count > 0 ? round(p99(name) / p99('baseline'), 2) : null);
  const lost = phases.reduce((n, p) => ({ alert: n.alert + p.leaks.alertLost, push: n.push + p.leaks.pushLost }), { alert: 0, push: 0 });
  const lastEventS = (s: StreamClient) => (s.events.length > 0 ? sinceBegan(s.events[s.events.length - 1]!.receivedAtMs) : null);
  const results: Storm = {
    path: 'embedded (aedes → ingest → detectors → alert journal → safety lane / storm folder → PGlite tickets → SSE)',
    devices,
    gateways,
    leakEveryMs,
    phases,
    pushP99Ratio: { faultStorm: ratio('fault-storm'), silenceStorm: ratio('silence-storm') },
    lost,
    unexpectedAlerts: unexpectedAlerts(alertStream),
    series: series(baselineSpan.startMs, endMs),
    streams: {
      alertEvents: alertStream.events.length,
      pushEvents: pushStream.events.length,
      alertLastEventS: lastEventS(alertStream),
      pushLastEventS: lastEventS(pushStream),
      endS: sinceBegan(endMs),
    },
    method: {
      leak: 'publish → first alert.raised of the leak reading on /api/v1/stream/alerts, and → the alarm.raised push on the technician\'s /api/v1/stream; matched on deviceId and the reading\'s timestamp (raisedAt); not seen within 30 s of the last leak = lost',
      tickets: 'GET /api/v1/tickets?limit=1000 every second; fault storm: every device listed (devices or deviceId) by a ticket with POWER_LOST; silence storm: every device behind a live gateway listed by a ticket with NO_SIGNAL, every offline gateway with a GATEWAY_OFFLINE ticket; seconds from the storm\'s start (fault: the batch publish; silence: the fleet\'s last report) to the first poll that saw them all',
      eventLoop: 'gas_process_nodejs_eventloop_lag_{p50,p99,max}_seconds from /metrics every second (prom-client monitorEventLoopDelay, reset at each scrape)',
      healthz: 'GET /healthz every 100 ms, one at a time, from the bench process',
      lowBattery: 'not raised: the battery detector does not judge home gas alarms (kinds household_meter, industrial_controller, flow_meter)',
    },
  };

  const line = (p: StormPhase) => {
    const a = p.alertLatencyMs;
    const q = p.pushLatencyMs;
    const h = p.healthz.latencyMs;
    const t = p.tickets;
    return `${p.name.padEnd(13)} ${p.seconds.toFixed(0)} s (pipeline CPU ${p.pipelineCpuPct ?? '?'} %, load average ${p.loadAvg1 ?? '?'}): leaks ${p.leaks.sent} sent, alert p50 ${a.p50} / p99 ${a.p99} / max ${a.max} ms (${p.leaks.alertLost} lost), push p50 ${q.p50} / p99 ${q.p99} / max ${q.max} ms (${p.leaks.pushLost} lost); ` +
      `healthz p99 ${h.p99} / max ${h.max} ms; event loop max ${p.eventLoop.maxMs} ms` +
      (p.whileStorming ? `; until the storm was ticketed (${p.whileStorming.seconds} s, ${p.whileStorming.leaks} leaks) push p50 ${p.whileStorming.pushLatencyMs.p50} / max ${p.whileStorming.pushLatencyMs.max} ms` : '') +
      (t ? `; ${fmt(t.covered)} of ${fmt(t.stormDevices)} storm devices ticketed ${t.ticketsCompleteS === null ? 'NOT ALL' : `after ${t.ticketsCompleteS} s`} in ${t.tickets} tickets, alerts on the stream ${t.alertsCompleteS === null ? `${fmt(t.alertsSeen)} of ${fmt(t.alertsExpected)}` : `all after ${t.alertsCompleteS} s`}` : '');
  };
  const unexpected = Object.entries(results.unexpectedAlerts);
  writeResult(values.out, {
    benchmark: 'storm',
    params: { devices, gateways, leakEveryMs, windowS, reportIntervalS, missedReports, silenceCheckMs, offlineGateways, ticketTimeoutS },
    results,
    summary: [
      `storm: a leak every ${leakEveryMs} ms against ${fmt(devices)} home gas alarms on ${gateways} gateways per storm, embedded pipeline in a child process`,
      ...phases.map(line),
      `leak push p99, storm ÷ baseline: fault ${results.pushP99Ratio.faultStorm ?? '—'}×, silence ${results.pushP99Ratio.silenceStorm ?? '—'}×; leaks lost: ${lost.alert} on the operator stream, ${lost.push} on the technician's` +
        (unexpected.length > 0 ? `; unexpected alerts: ${unexpected.map(([k, v]) => `${k} ${v}`).join(', ')}` : ''),
    ],
  });
} finally {
  stopping = true;
  stop.abort();
  progress('stopping the pipeline');
  for (const s of streams) s.close();
  await leakClient?.endAsync().catch(() => undefined);
  await publisher?.close().catch(() => undefined);
  await pipeline?.stop();
  progress('stopped');
  rmSync(dir, { recursive: true, force: true });
}

function leakSeenBoth(l: Leak): boolean {
  return l.alertMs !== undefined && l.pushMs !== undefined;
}

/** Matches new stream events to the leaks they answer, by the leak reading's timestamp. */
function correlate(alertStream: StreamClient, pushStream: StreamClient): void {
  for (; cursor.alert < alertStream.events.length; cursor.alert++) {
    const e = alertStream.events[cursor.alert]!;
    if (e.event !== 'alert.raised') continue;
    const a = e.data as { deviceId?: string; raisedAt?: string };
    if (a.deviceId !== LEAK_DEVICE || !a.raisedAt) continue;
    const l = leakByAt.get(a.raisedAt);
    if (l && l.alertMs === undefined) l.alertMs = e.receivedAtMs;
  }
  for (; cursor.push < pushStream.events.length; cursor.push++) {
    const e = pushStream.events[cursor.push]!;
    if (e.event !== 'alarm.raised') continue;
    const n = e.data as { data?: { deviceId?: string; raisedAt?: string } };
    if (n.data?.deviceId !== LEAK_DEVICE || !n.data.raisedAt) continue;
    const l = leakByAt.get(n.data.raisedAt);
    if (l && l.pushMs === undefined) l.pushMs = e.receivedAtMs;
  }
}

/**
 * Polls the tickets from `stormStartMs` until every storm device is covered, for at least
 * --window-s and at most --ticket-timeout-s beyond it; `published` (the storm's batches) must
 * settle too.
 */
async function watchTickets(storm: 'fault-storm' | 'silence-storm', stormStartMs: number, published?: Promise<void>): Promise<StormTickets> {
  const windowEnd = stormStartMs + windowS * 1000;
  const deadline = windowEnd + ticketTimeoutS * 1000;
  let publishedAtMs: number | undefined;
  let publishFailure: unknown;
  void published?.then(() => (publishedAtMs = performance.now()), (err: unknown) => (publishFailure = err));
  let completeMs: number | undefined;
  let firstTicketMs: number | undefined;
  let last = { covered: 0, tickets: 0, listed: 0 };
  let polls = 0;
  let pollErrors = 0;
  let listFull = false;
  let next = performance.now();
  for (;;) {
    if (publishFailure) throw publishFailure;
    if (completeMs === undefined) {
      try {
        const tickets = await listTickets(pipeline!.httpUrl);
        polls++;
        // The list is as of the request's answer.
        const now = performance.now();
        last = coverage(storm, tickets);
        // The API answers at most 1,000 tickets, newest first: beyond that coverage is undercounted.
        listFull ||= tickets.length >= 1000;
        if (last.tickets > 0) firstTicketMs ??= now;
        if (last.covered === devices) completeMs = now;
      } catch {
        pollErrors++;
      }
    }
    const now = performance.now();
    const acknowledged = !published || publishedAtMs !== undefined;
    if (acknowledged && now >= windowEnd && (completeMs !== undefined || now >= deadline)) break;
    if (now >= deadline + 60_000) throw new Error(`${storm}: the storm's batches were not acknowledged within ${ticketTimeoutS + 60} s after the window`);
    next = completeMs === undefined ? next + TICKETS_EVERY_MS : now + 100;
    await sleep(Math.max(0, next - performance.now()));
  }
  const expected = storm === 'fault-storm' ? devices : devices - [...offline].reduce((n, g) => n + silenceFleet.get(g)!.length, 0) + offline.size;
  return {
    stormDevices: devices,
    covered: last.covered,
    tickets: last.tickets,
    ...(storm === 'silence-storm' ? { offlineGateways: offline.size, devicesListedOnGatewayTickets: last.listed, detectionFloorS: missedReports * reportIntervalS } : {}),
    firstTicketS: firstTicketMs === undefined ? null : round((firstTicketMs - stormStartMs) / 1000),
    ticketsCompleteS: completeMs === undefined ? null : round((completeMs - stormStartMs) / 1000),
    ...(publishedAtMs !== undefined ? { publishedS: round((publishedAtMs - stormStartMs) / 1000) } : {}),
    polls,
    pollErrors,
    ...(listFull ? { listFull } : {}),
    alertsExpected: expected,
    alertsSeen: 0,
    alertsCompleteS: null,
    startS: sinceBegan(stormStartMs),
  };
}

/** The storm's alerts on the operator stream: how many arrived, and when the last one did. */
function countStormAlerts(storm: 'fault-storm' | 'silence-storm', t: StormTickets, startMs: number, alertStream: StreamClient): StormTickets {
  const seen = new Set<string>();
  let lastMs: number | undefined;
  for (const e of alertStream.events) {
    if (e.event !== 'alert.raised' || e.receivedAtMs < startMs) continue;
    const a = e.data as { deviceId?: string; subject?: string; condition?: string };
    const key = expectedKey(storm, a);
    if (key && !seen.has(key)) {
      seen.add(key);
      lastMs = e.receivedAtMs;
    }
  }
  const complete = seen.size === t.alertsExpected && lastMs !== undefined;
  return { ...t, alertsSeen: seen.size, alertsCompleteS: complete ? round((lastMs! - startMs) / 1000) : null };
}

/** The key of an alert the storm is expected to raise, or undefined. */
function expectedKey(storm: 'fault-storm' | 'silence-storm', a: { deviceId?: string; subject?: string; condition?: string }): string | undefined {
  const id = a.deviceId ?? '';
  if (storm === 'fault-storm') return a.condition === 'POWER_LOST' && faultDevices.has(id) ? id : undefined;
  if (a.condition === 'NO_SIGNAL' && silentDevices.has(id) && !offline.has(gatewayOf.get(id)!)) return id;
  if (a.condition === 'GATEWAY_OFFLINE' && a.subject === 'gateway' && offline.has(id)) return id;
  return undefined;
}

/** Alert raises nobody asked for: by phase and condition (a silence alert during the fault storm, say). */
function unexpectedAlerts(alertStream: StreamClient): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of alertStream.events) {
    if (e.event !== 'alert.raised') continue;
    const a = e.data as { deviceId?: string; subject?: string; condition?: string };
    if (a.deviceId === LEAK_DEVICE && ['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT'].includes(a.condition ?? '')) continue;
    const phase = phaseAt(e.receivedAtMs) ?? 'after the run';
    const started = (name: PhaseKey) => {
      const span = spans.find((s) => s.name === name);
      return span !== undefined && e.receivedAtMs >= span.startMs;
    };
    if ((started('fault-storm') && expectedKey('fault-storm', a)) || (started('silence-storm') && expectedKey('silence-storm', a))) continue;
    const key = `${phase}: ${a.condition}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Each /metrics scrape from the baseline on, with the slowest /healthz answer since the one before. */
function series(fromMs: number, toMs: number): StormSample[] {
  const out: StormSample[] = [];
  let prevMs = fromMs;
  for (const s of loopSamples) {
    if (s.atMs < fromMs || s.atMs >= toMs) continue;
    const h = healthz.filter((x) => x.atMs >= prevMs && x.atMs < s.atMs).reduce((m, x) => Math.max(m, x.value), 0);
    out.push({ t: round((s.atMs - fromMs) / 1000, 1), phase: phaseAt(s.atMs) as StormPhaseName, loopMaxMs: round(s.maxMs, 1), loopP99Ms: round(s.p99Ms, 1), healthzMaxMs: round(h, 1) });
    prevMs = s.atMs;
  }
  return out;
}

function phaseResult(name: StormPhaseName, tickets: StormTickets | undefined, alertStream: StreamClient): StormPhase {
  const span = spans.find((s) => s.name === name)!;
  const inPhase = <T extends { atMs: number }>(xs: T[]) => xs.filter((x) => x.atMs >= span.startMs && x.atMs < span.endMs);
  const mine = leaks.filter((l) => l.publishedMs >= span.startMs && l.publishedMs < span.endMs);
  const alert = new LatencyHistogram();
  const push = new LatencyHistogram();
  for (const l of mine) {
    if (l.alertMs !== undefined) alert.recordMs(l.alertMs - l.publishedMs);
    if (l.pushMs !== undefined) push.recordMs(l.pushMs - l.publishedMs);
  }
  const counts: StormLeaks = {
    sent: mine.length,
    alertSeen: alert.count,
    pushSeen: push.count,
    alertLost: mine.length - alert.count,
    pushLost: mine.length - push.count,
  };
  const h = new LatencyHistogram();
  const hs = inPhase(healthz);
  for (const s of hs) if (s.status !== 0) h.recordMs(s.value);
  const loops = inPhase(loopSamples).filter((s) => Number.isFinite(s.maxMs));
  const p99s = loops.map((s) => s.p99Ms).sort((a, b) => a - b);
  const slowest = [...mine]
    .sort((a, b) => (b.pushMs ?? Infinity) - b.publishedMs - ((a.pushMs ?? Infinity) - a.publishedMs))
    .slice(0, 3)
    .map((l) => ({ atS: round((l.publishedMs - span.startMs) / 1000), alertMs: l.alertMs === undefined ? null : round(l.alertMs - l.publishedMs, 1), pushMs: l.pushMs === undefined ? null : round(l.pushMs - l.publishedMs, 1) }));
  const seconds = (span.endMs - span.startMs) / 1000;
  // While the storm is being worked through: from its start until every storm ticket exists.
  const t = tickets ? countStormAlerts(name as 'fault-storm' | 'silence-storm', tickets, span.startMs, alertStream) : undefined;
  let whileStorming: StormPhase['whileStorming'];
  if (t) {
    const activeEndMs = t.ticketsCompleteS === null ? span.endMs : span.startMs + t.ticketsCompleteS * 1000;
    const active = mine.filter((l) => l.publishedMs <= activeEndMs);
    const a = new LatencyHistogram();
    const q = new LatencyHistogram();
    for (const l of active) {
      if (l.alertMs !== undefined) a.recordMs(l.alertMs - l.publishedMs);
      if (l.pushMs !== undefined) q.recordMs(l.pushMs - l.publishedMs);
    }
    whileStorming = { seconds: round((activeEndMs - span.startMs) / 1000, 1), leaks: active.length, alertLatencyMs: a.percentilesMs(), pushLatencyMs: q.percentilesMs() };
  }
  return {
    name,
    seconds: round(seconds, 1),
    ...(span.cpuStart !== undefined && span.cpuEnd !== undefined ? { pipelineCpuPct: round(((span.cpuEnd - span.cpuStart) / seconds) * 100, 0) } : {}),
    ...(span.loadAvg1 !== undefined ? { loadAvg1: round(span.loadAvg1, 2) } : {}),
    leaks: counts,
    slowestLeaks: slowest,
    alertLatencyMs: alert.percentilesMs(),
    pushLatencyMs: push.percentilesMs(),
    healthz: { latencyMs: h.percentilesMs(), non200: hs.filter((s) => s.status !== 200 && s.status !== 0).length, errors: hs.filter((s) => s.status === 0).length },
    eventLoop: {
      samples: loops.length,
      maxMs: round(loops.reduce((m, s) => Math.max(m, s.maxMs), 0), 1),
      worstP99Ms: round(p99s[p99s.length - 1] ?? 0, 1),
      medianP99Ms: round(p99s[Math.floor(p99s.length / 2)] ?? 0, 1),
    },
    ...(t ? { tickets: t, whileStorming } : {}),
  };
}
