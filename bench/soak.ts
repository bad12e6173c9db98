/**
 * Soak: the embedded pipeline under a steady load for minutes, checking that memory stays flat
 * and the backlog does not grow. The simulator drives `--devices` devices reporting every second
 * in real time (so `--devices` readings/s) over MQTT; every `--sample-s` seconds the heap (after a
 * forced GC) and the backlog (readings sent but not yet judged) are sampled. After a warm-up, the
 * heap's growth rate and the backlog's trend must stay under the limits, or it exits 1. The heap
 * that must stay flat is the heap apart from the readings history (`gas_history_bytes`): that is
 * a cache that grows by design until its tiers fill (an hour of 1-minute points a device) and is
 * bounded by `history.maxBytes`, which is checked instead. The
 * simulator runs in the same process (one Node.js thread for both), so its memory is in the
 * figures too, steady like the rest; .ci/run runs 10 minutes at 20,000 readings/s.
 *
 *   node --expose-gc --import tsx bench/soak.ts [--seconds 600] [--devices 20000] [--sample-s 10]
 *     [--max-heap-growth-mb-per-min 1] [--out bench/out/soak.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseSettings } from '../app/config.ts';
import { startPipeline } from '../app/pipeline.ts';
import { parseHistorySettings } from '../sinks/history/options.ts';
import { createFleet } from '../simulators/fleet.ts';
import { Simulation } from '../simulators/simulation.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    devices: { type: 'string', default: '20000' },
    'sample-s': { type: 'string', default: '10' },
    'max-heap-growth-mb-per-min': { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/out/soak.json' },
  },
});
const seconds = Number(values.seconds);
const devices = Number(values.devices);
const sampleS = Number(values['sample-s']);
const maxGrowth = Number(values['max-heap-growth-mb-per-min']);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc --import tsx bench/soak.ts\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'gas-soak-'));
const fleet = createFleet({ gateways: Math.max(1, Math.round(devices / 200)), devices, seed: 3, stepMs: 1000 });
const registryFile = join(dir, 'registry.json');
writeFileSync(registryFile, JSON.stringify(fleet.registry()));
const pipeline = await startPipeline({
  role: 'all', mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-soak', httpPort: 0, httpHost: '127.0.0.1',
  dataDir: join(dir, 'data'), registryFile, adminToken: 'soak-admin', logLevel: 'warn',
  // Silence is not what is soaked: when the simulator stops, its 1-second devices would all go
  // NO_SIGNAL at once, and opening 20k tickets through PGlite would swamp the final samples.
  settings: parseSettings({ silence: { missedReports: 1_000_000, gatewayMissedReports: 1_000_000, gatewayMinSilenceMs: 86_400_000 } }, 'soak'),
}, pino({ level: 'warn' }));

const historyMaxBytes = parseHistorySettings(undefined).maxBytes;
/** Readings judged so far, and the readings history's own estimate of its memory. */
const scrape = async (): Promise<{ judged: number; historyBytes: number }> => {
  const text = await (await fetch(`${pipeline.httpUrl}/metrics`)).text();
  let judged = 0;
  for (const m of text.matchAll(/^gas_processor_(?:late_)?readings_total (\d+)$/gm)) judged += Number(m[1]);
  const history = /^gas_history_bytes (\d+)$/m.exec(text);
  if (!history) throw new Error('gas_history_bytes missing from /metrics: the soak expects the local readings history on');
  return { judged, historyBytes: Number(history[1]) };
};

const sim = new Simulation({ url: pipeline.mqttUrl!, fleet, scenario: 'normal', log: pino({ level: 'warn' }) });
await sim.connect();
const rounds = seconds;
const running = sim.run({ rounds, realtime: true });

interface Sample { t: number; heapMb: number; historyMb: number; heapBesideHistoryMb: number; rssMb: number; backlog: number; readingsPerS: number }
const samples: Sample[] = [];
const startMs = performance.now();
let lastJudged = 0;
let lastMs = startMs;
let done = false;
void running.then(() => (done = true));
while (!done) {
  await new Promise((resolve) => setTimeout(resolve, sampleS * 1000));
  gc();
  const now = performance.now();
  const { judged: total, historyBytes } = await scrape();
  const mem = process.memoryUsage();
  samples.push({
    t: Math.round((now - startMs) / 1000),
    heapMb: Number((mem.heapUsed / 1048576).toFixed(1)),
    historyMb: Number((historyBytes / 1048576).toFixed(1)),
    heapBesideHistoryMb: Number(((mem.heapUsed - historyBytes) / 1048576).toFixed(1)),
    rssMb: Number((mem.rss / 1048576).toFixed(1)),
    backlog: sim.report().readings - total,
    readingsPerS: Math.round((total - lastJudged) / ((now - lastMs) / 1000)),
  });
  lastJudged = total;
  lastMs = now;
  const s = samples.at(-1)!;
  process.stdout.write(`t=${s.t}s heap=${s.heapMb}MB (history ${s.historyMb}MB) rss=${s.rssMb}MB backlog=${s.backlog} readings/s=${s.readingsPerS}\n`);
}
await running;

/** Least-squares slope of y over t (per second). */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [t, y]) => a + (t - mt) * (y - my), 0);
  const den = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

// The first fifth warms up (JIT, pools, the registry's devices getting state).
const steady = samples.slice(Math.floor(samples.length / 5));
const heapGrowthMbPerMin = slope(steady.map((s) => [s.t, s.heapBesideHistoryMb])) * 60;
const historyGrowthMbPerMin = slope(steady.map((s) => [s.t, s.historyMb])) * 60;
const maxHistoryMb = Math.max(...samples.map((s) => s.historyMb));
const backlogSlopePerMin = slope(steady.map((s) => [s.t, s.backlog])) * 60;
const maxBacklog = Math.max(...steady.map((s) => s.backlog));
// A steady backlog is at most a few seconds of readings in flight; a growing one means falling behind.
const backlogLimit = 5 * devices;
const ok = steady.length >= 3 && heapGrowthMbPerMin <= maxGrowth && maxBacklog <= backlogLimit && maxHistoryMb * 1048576 <= historyMaxBytes;
const report = {
  seconds, devices, readingsPerSecondOffered: devices, samples,
  heapGrowthMbPerMin: Number(heapGrowthMbPerMin.toFixed(2)), historyGrowthMbPerMin: Number(historyGrowthMbPerMin.toFixed(2)), maxHistoryMb, backlogSlopePerMin: Math.round(backlogSlopePerMin), maxBacklog,
  limits: { maxHeapGrowthMbPerMin: maxGrowth, maxBacklog: backlogLimit, maxHistoryBytes: historyMaxBytes }, ok,
};
mkdirSync(dirname(values.out), { recursive: true });
writeFileSync(values.out, JSON.stringify(report, null, 2));
process.stdout.write(`soak ${ok ? 'passed' : 'FAILED'}: heap growth beside the readings history ${report.heapGrowthMbPerMin} MB/min (limit ${maxGrowth}), history ${maxHistoryMb} MB growing ${report.historyGrowthMbPerMin} MB/min (bound ${Math.round(historyMaxBytes / 1048576)} MB), max backlog ${maxBacklog} readings (limit ${backlogLimit}), backlog trend ${report.backlogSlopePerMin}/min\n`);

// The verdict is about the steady state; a slow shutdown is reported, with the step it is stuck in.
let step = 'simulator close';
const shutdown = (async () => {
  await sim.close();
  step = 'pipeline stop';
  await pipeline.stop();
  step = 'done';
})();
const stopped = await Promise.race([shutdown.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000).unref())]);
if (!stopped) process.stdout.write(`warning: shutdown not finished after 30 s, still in: ${step}\n`);
rmSync(dir, { recursive: true, force: true });
process.exit(ok ? 0 : 1);
