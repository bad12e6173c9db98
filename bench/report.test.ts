import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport, type Target } from './report.ts';

const root = mkdtempSync(join(tmpdir(), 'gas-bench-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const machine = { cpus: 2, cpuModel: 'Test CPU', memGiB: 8, node: 'v20.0.0', platform: 'linux-x64' };
const p = (p99: number, count = 100) => ({ count, p50: p99 / 2, p90: p99 * 0.8, p99, p999: p99, max: p99 * 1.5, mean: p99 / 2 });
const rate = (batchSize: number, readingsPerS: number) => ({ batchSize, readings: 100_000, messages: 100_000 / batchSize, seconds: 100_000 / readingsPerS, readingsPerS, messagesPerS: readingsPerS / batchSize, received: 100_000 });
const level = (loadPct: number, peak: number, pushP99: number) => ({ loadPct, offeredReadingsPerS: (peak * loadPct) / 100, achievedReadingsPerS: (peak * loadPct) / 100, alertLatencyMs: p(pushP99 / 2), pushLatencyMs: p(pushP99) });
const modern = (benchmark: string, results: unknown, params: Record<string, unknown> = {}) => ({
  benchmark, at: '2026-01-05T00:00:00.000Z', command: `/usr/bin/node bench/${benchmark}.ts --flag 1`, machine, params, results, summary: [],
});

function fixtures(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(root, 'in-'));
  for (const [name, json] of Object.entries(files)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(json));
  return dir;
}

const byId = (targets: Target[]) => Object.fromEntries(targets.map((t) => [t.id, t]));

const full = {
  throughput: modern('throughput', {
    embedded: {
      influx: false,
      peak: [{ batchSize: 100, readings: 3e6, seconds: 10, readingsPerS: 300_000, cpu: { pipelinePct: 99 } }, { batchSize: 1, readings: 4e5, seconds: 10, readingsPerS: 40_000, cpu: {} }],
      levels: [level(10, 300_000, 8), level(50, 300_000, 20), level(100, 300_000, 400)],
    },
    kafka: { influx: true, peak: [{ batchSize: 100, readings: 1e6, seconds: 10, readingsPerS: 100_000, cpu: {} }, { batchSize: 1, readings: 2e5, seconds: 10, readingsPerS: 20_000, cpu: {} }], levels: [level(50, 100_000, 60), level(100, 100_000, 900)] },
  }, { devices: 100_000 }),
  'node-red-peer': modern('node-red-peer', { nodeRed: '4.1.0', runs: [rate(1, 50_000), rate(100, 100_000)] }, { devices: 100_000 }),
  floors: modern('floors', { decode: [rate(1, 60_000), rate(100, 900_000)], mosquitto: [rate(1, 70_000), rate(100, 2_000_000)] }, { devices: 100_000 }),
  memory: modern('memory', { runs: [{ devices: 100_000, baselineHeapBytes: 1e8, heapBytes: 1.5e8, bytesPerDevice: 500, rssBytes: 3e8 }, { devices: 1_000_000, baselineHeapBytes: 1e9, heapBytes: 1.45e9, bytesPerDevice: 450, rssBytes: 2e9 }] }),
  burst: modern('burst', { path: 'embedded', meters: 1_000_000, gateways: 10_000, readingsSent: 1e6, readingsJudged: 1e6, drainSeconds: 45, readingsPerS: 22_222, peakLag: 600_000, faultsInjected: 100, faultsFound: 100, lost: { readings: 0, faults: 0 }, pass: true, series: [{ t: 0, published: 0, judged: 0, lag: 0 }] }),
  'burst-kafka': modern('burst', { path: 'kafka', meters: 1_000_000, gateways: 10_000, readingsSent: 1e6, readingsJudged: 1e6, drainSeconds: 30, readingsPerS: 33_333, peakLag: 900_000, peakKafkaLag: 50_000, faultsInjected: 100, faultsFound: 100, lost: { readings: 0, faults: 0 }, pass: true, series: [{ t: 0, published: 0, judged: 0, lag: 0 }] }),
  api: modern('api', { routes: [{ name: 'alerts-active', method: 'GET', path: '/api/v1/alerts?state=active', connections: 20, seconds: 10, requests: 12_345, requestsPerS: 1235, latencyMs: { p50: 12, p90: 20, p99: 45, max: 80 }, non2xx: 0, errors: 0 }] }),
  // The older format: figures at the top level, no command.
  'alarm-to-push': { benchmark: 'alarm-to-push', path: 'embedded', alarms: 300, latencyMs: { p50: 4.2, p90: 6, p99: 9.5, p999: 12, max: 14, mean: 4.5 }, machine: { cpus: 2, node: 'v20.0.0' }, at: '2026-01-01T00:00:00.000Z' },
  soak: { seconds: 600, devices: 20_000, readingsPerSecondOffered: 20_000, heapGrowthMbPerMin: 0.1, backlogSlopePerMin: 186, maxBacklog: 20_000, limits: { maxHeapGrowthMbPerMin: 1, maxBacklog: 100_000 }, ok: true },
};

describe('bench/report.ts', () => {
  it('judges every target with its ratio from a full set of result files', () => {
    const { targets } = buildReport({ inDir: fixtures(full), chartLink: 'chart.svg' });
    const t = byId(targets);
    const expected: Record<string, [Target['status'], number]> = {
      'embedded-peak-100': ['pass', 300_000 / 250_000],
      'vs-node-red-1': ['fail', 40_000 / 50_000],
      'vs-node-red-100': ['pass', 300_000 / 100_000],
      'vs-decode-floor-1': ['pass', 40_000 / 60_000 / 0.5],
      'vs-decode-floor-100': ['fail', 300_000 / 900_000 / 0.5],
      'push-p99-at-50': ['pass', 20 / 50],
      'memory-1m': ['fail', 450 / 300],
      'burst-1m': ['pass', 45 / 60],
      // Issue 16: 100k is the goal met, but a third of embedded's 300k is short of half.
      'kafka-peak-100': ['fail', 100_000 / 300_000 / 0.5],
      'kafka-peak-1': ['pass', 20_000 / 15_000],
      'kafka-push-p99-at-50': ['fail', 60 / 50],
      'burst-1m-kafka': ['pass', 30 / 60],
    };
    expect(Object.keys(t).sort()).toEqual(Object.keys(expected).sort());
    for (const [id, [status, ratio]] of Object.entries(expected)) {
      expect(t[id]!.status, id).toBe(status);
      expect(t[id]!.ratio, id).toBeCloseTo(ratio, 6);
    }
    expect(t['vs-node-red-1']!.measured).toBe('0.80× (40,000 vs 50,000 readings/s)');
  });

  it('writes the targets table, every benchmark\'s command and figures, the older files too', () => {
    const { markdown } = buildReport({ inDir: fixtures(full), chartLink: 'results-chart.svg', bounds: '# What bounds it\n\nThe decoder.\n\n## JSON.parse\n\nMost of it.\n' });
    expect(markdown).toContain('| Embedded end-to-end, 100-reading batches | ≥ 250,000 readings/s | 300,000 readings/s | 1.20 | **pass** |');
    expect(markdown).toContain('| Processor state per device at 1M devices | ≤ 300 bytes | 450 bytes/device | 1.50 | **FAIL** |');
    expect(markdown).toContain('7 of 12 targets pass, 5 fail, 0 not run.');
    expect(markdown).toContain('| Kafka path end-to-end, 100-reading batches, and ÷ embedded in the same run | ≥ 100,000 readings/s and ≥ 0.5× | 100,000 readings/s, 0.33× embedded (300,000) | 0.67 | **FAIL** |');
    expect(markdown).toContain('![Readings/s achieved and gas-alarm p99 latency against offered load, embedded and Kafka](results-chart.svg)');
    expect(markdown).toContain('npx tsx bench/throughput.ts --flag 1');
    expect(markdown).toContain('- 2 CPUs (Test CPU), 8 GiB, Node.js v20.0.0, linux-x64 — `throughput.json`, `floors.json`, `node-red-peer.json`, `burst.json`, `burst-kafka.json`, `memory.json`, `api.json`');
    // Older files: their figures, and the script's usage in place of a recorded command.
    expect(markdown).toContain('| 300 | 4.20 | 6.00 | 9.50 | 12.0 | 14.0 |');
    expect(markdown).toContain('`soak.json` (older format');
    expect(markdown).toMatch(/\| 600 \| 20,000 \| 20,000 \| 0\.10 \(limit 1\) \| 186 \| 20,000 \(limit 100,000\) \| pass \|/);
    expect(markdown).toContain('`kafka-processors.json`: **not run**');
    expect(markdown).toContain('| alerts-active | `GET /api/v1/alerts?state=active` | 20 | 10.00 | 12,345 | 1,235 | 12.0 | 20.0 | 45.0 | 80.0 | 0 | 0 |');
    // bounds.md under "What bounds it", its headings a level down.
    expect(markdown).toMatch(/## What bounds it\n\n### What bounds it\n\nThe decoder\.\n\n#### JSON\.parse/);
  });

  it('shows what was not run, a burst short of 1M, and a burst that lost faults', () => {
    const none = buildReport({ inDir: fixtures({}), chartLink: 'c.svg' });
    expect(none.targets.every((t) => t.status === 'not run')).toBe(true);
    expect(none.markdown).toContain('0 of 12 targets pass, 0 fail, 12 not run.');
    expect(none.markdown).toContain('`bench/bounds.md` is not written yet.');
    expect(none.markdown).toContain('| Embedded end-to-end, 100-reading batches | ≥ 250,000 readings/s | throughput.json not run | — | not run |');

    const burst = full.burst as { results: Record<string, unknown> };
    const small = byId(buildReport({ inDir: fixtures({ burst: { ...burst, results: { ...burst.results, meters: 20_000 } } }), chartLink: 'c.svg' }).targets);
    expect(small['burst-1m']!.status).toBe('not run');
    expect(small['burst-1m']!.note).toBe('run at 20,000 meters, not 1M');
    const lossy = byId(buildReport({ inDir: fixtures({ burst: { ...burst, results: { ...burst.results, lost: { readings: 0, faults: 2 } } } }), chartLink: 'c.svg' }).targets);
    expect(lossy['burst-1m']!.status).toBe('fail');
    const slow = byId(buildReport({ inDir: fixtures({ burst: { ...burst, results: { ...burst.results, drainSeconds: 61 } } }), chartLink: 'c.svg' }).targets);
    expect(slow['burst-1m']!.status).toBe('fail');
    const stuck = byId(buildReport({ inDir: fixtures({ burst: { ...burst, results: { ...burst.results, drainSeconds: null } } }), chartLink: 'c.svg' }).targets);
    expect(stuck['burst-1m']!.status).toBe('fail');
    expect(stuck['burst-1m']!.measured).toMatch(/^not drained;/);

    const memory = byId(buildReport({ inDir: fixtures({ memory: modern('memory', { runs: [{ devices: 100_000, baselineHeapBytes: 1, heapBytes: 2, bytesPerDevice: 280, rssBytes: 3 }] }) }), chartLink: 'c.svg' }).targets);
    expect(memory['memory-1m']!.status).toBe('not run');
  });

  it('writes the storm\'s phases, its tickets and the push ratio; storm.json not run otherwise', () => {
    const phase = (name: string, pushP99: number, extra: Record<string, unknown> = {}) => ({
      name, seconds: 30, pipelineCpuPct: 85, loadAvg1: 3.04, leaks: { sent: 60, alertSeen: 60, pushSeen: 59, alertLost: 0, pushLost: 1 },
      alertLatencyMs: p(pushP99 / 2, 60), pushLatencyMs: p(pushP99, 59), healthz: { latencyMs: p(4, 300), non200: 0, errors: 2 },
      eventLoop: { samples: 30, maxMs: 120, worstP99Ms: 80, medianP99Ms: 12 }, ...extra,
    });
    const tickets = (ticketsCompleteS: number | null, extra: Record<string, unknown> = {}) => ({
      stormDevices: 5000, covered: ticketsCompleteS === null ? 4500 : 5000, tickets: 10, firstTicketS: 3.1, ticketsCompleteS, polls: 30, pollErrors: 0,
      alertsExpected: 5000, alertsSeen: 5000, alertsCompleteS: 1.25, startS: 40, ...extra,
    });
    const storm = modern('storm', {
      path: 'embedded', devices: 5000, gateways: 10, leakEveryMs: 500,
      phases: [
        phase('baseline', 10),
        phase('fault-storm', 40, { tickets: tickets(4.5), whileStorming: { seconds: 4.5, leaks: 9, alertLatencyMs: p(100, 9), pushLatencyMs: p(200, 9) } }),
        phase('silence-storm', 20, { tickets: tickets(null, { detectionFloorS: 10, offlineGateways: 5 }) }),
      ],
      pushP99Ratio: { faultStorm: 4, silenceStorm: 2 }, lost: { alert: 0, push: 3 }, unexpectedAlerts: { 'fault-storm: NO_SIGNAL': 12 },
      streams: { alertEvents: 1, pushEvents: 1, alertLastEventS: 1, pushLastEventS: 1, endS: 1 }, method: {},
    });
    const { markdown } = buildReport({ inDir: fixtures({ storm }), chartLink: 'c.svg' });
    expect(markdown).toContain('### Leak push through fault and silence storms');
    expect(markdown).toContain('npx tsx bench/storm.ts --flag 1');
    expect(markdown).toContain('5,000 devices on 10 gateways per storm; a leak every 500 ms.');
    expect(markdown).toContain('| fault storm | 30.0 | 60 | 10.0 / 20.0 / 30.0 | 20.0 / 40.0 / 60.0 | 0 / 1 | 2.00 / 4.00 / 6.00 | 2 | 120 / 80.0 | 85 | 3.0 |');
    expect(markdown).toContain('| fault storm | 5,000 / 5,000 | 1.3 | 5,000 / 5,000 | 10 | 4.5 | 0 | 9 | 100 / 200 / 300 |');
    expect(markdown).toContain('| silence storm | 5,000 / 5,000 | 1.3 | 4,500 / 5,000 | 10 | not all | 10.0 | — | — |');
    expect(markdown).toContain('Leak push p99, storm ÷ baseline: fault storm 4.00×, silence storm 2.00×. Leaks lost: 0 on the operator stream, 3 on the technician\'s. Unexpected alerts: fault-storm: NO_SIGNAL × 12.');
    // Not a target: the storm has no goal yet.
    expect(markdown).toContain('0 of 12 targets pass, 0 fail, 12 not run.');

    const none = buildReport({ inDir: fixtures({}), chartLink: 'c.svg' }).markdown;
    expect(none).toContain('`storm.json`: **not run** (`npx tsx bench/storm.ts`).');
  });

  it('writes the phone latency per channel, voice timed from the repeat; phone-latency.json not run otherwise', () => {
    const channel = (name: string, provider: string, p99: number, measured = 'publish → received', missing = 0) => ({ channel: name, type: name, provider, measured, received: 200 - missing, missing, latencyMs: p(p99, 200 - missing) });
    const phone = modern('phone-latency', {
      path: 'embedded', leaks: 200, ratePerS: 20, publishSeconds: 9.94, repeatNotifyMs: 5000, slaCheckIntervalMs: 200, loadAvg1: { start: 3.04, end: 6.5 },
      channels: [channel('sse', '(console stream, reference)', 4), channel('wecom', 'wecom', 12), { ...channel('voice', 'aliyun', 300, 'repeat due → call received', 2), split: { dueToCheckMs: p(200, 198), checkToCallMs: p(100, 198) } }],
      unmatched: 3,
    }, { leaks: 200 });
    const { markdown } = buildReport({ inDir: fixtures({ 'phone-latency': phone }), chartLink: 'c.svg' });
    expect(markdown).toContain("### Leak → the technician's phone, per phone channel");
    expect(markdown).toContain('npx tsx bench/phone-latency.ts --flag 1');
    expect(markdown).toContain('200 leaks (distinct home gas alarms) at 20/s, published in 9.9 s; emergency repeat 5,000 ms, SLA check every 200 ms. Load average (1 min) 3.0 at the start, 6.5 at the end: what else the machine ran.');
    expect(markdown).toContain('| wecom | wecom | wecom | publish → received | 200 | 0 | 6.00 | 9.60 | 12.0 | 18.0 |');
    expect(markdown).toContain('| voice | voice | aliyun | repeat due → call received | 198 | 2 | 150 | 240 | 300 | 450 |');
    expect(markdown).toContain("voice: repeat due → the SLA check that repeated started p50 100 / p99 200 ms, that check's start → call p50 50.0 / p99 100 ms.");
    expect(markdown).toContain('3 stand-in message(s) named no leak or ticket of the run.');
    expect(buildReport({ inDir: fixtures({}), chartLink: 'c.svg' }).markdown).toContain('`phone-latency.json`: **not run** (`npx tsx bench/phone-latency.ts`).');
  });

  it('writes the Kafka client race: each run, the means, the ratios, the verdict and the capabilities; kafka-clients.json not run otherwise', () => {
    const phase = (readingsPerS: number, readingsPerCpuS: number) => ({ seconds: 1_000_000 / readingsPerS, records: 60_000, readings: 1_000_000, recordsPerS: readingsPerS * 0.06, readingsPerS, cpuSeconds: 1_000_000 / readingsPerCpuS, cpuPct: 50, readingsPerCpuS });
    const run = (client: string, version: string, round: number, order: number, produce: number, consume: number) => ({
      client, version, round, order, produce: { ...phase(produce, produce * 2), sends: 264, bytes: 2e8 }, consume: { ...phase(consume, consume * 1.5), joinSeconds: 0.05, commits: 240 }, sendLatencyMs: p(4),
    });
    const clients = modern('kafka-clients', {
      partitions: 6, readingsPerRun: 1_000_000, recordsPerRun: 60_000, readingsPerRecord: 16.67, bytesPerRecord: 3491, messagesPerSend: 50,
      runs: [run('kafkajs', '2.2.4', 1, 1, 400_000, 500_000), run('platformatic', '1.35.0', 1, 2, 800_000, 400_000), run('platformatic', '1.35.0', 2, 1, 600_000, 300_000), run('kafkajs', '2.2.4', 2, 2, 300_000, 600_000)],
      summary: {
        kafkajs: { client: 'kafkajs', version: '2.2.4', produceReadingsPerS: 350_000, produceReadingsPerCpuS: 700_000, consumeReadingsPerS: 550_000, consumeReadingsPerCpuS: 825_000, sendP50Ms: 2, sendP99Ms: 4 },
        platformatic: { client: 'platformatic', version: '1.35.0', produceReadingsPerS: 700_000, produceReadingsPerCpuS: 1_400_000, consumeReadingsPerS: 350_000, consumeReadingsPerCpuS: 525_000, sendP50Ms: 2, sendP99Ms: 4 },
      },
      ratios: { produce: { mean: 2, perRound: [2, 2] }, produceCpu: { mean: 2, perRound: [2, 2] }, consume: { mean: 0.64, perRound: [0.8, 0.5] }, consumeCpu: { mean: 0.64, perRound: [0.8, 0.5] }, sendP50: { mean: 1, perRound: [1, 1] }, sendP99: { mean: 1, perRound: [1, 1] } },
      verdict: { faster: 'neither', clearlyFaster: false, keep: 'kafkajs', text: 'neither client is faster at both; so kafkajs stays.' },
      capabilities: [{ check: 'concurrent send() calls | one producer', kafkajs: true, platformatic: false, note: 'kafkajs stored 30, @platformatic/kafka 6' }, { check: 'tombstones', kafkajs: null, platformatic: true, note: 'written' }],
    }, { readings: 1_000_000, rounds: 2 });
    const { markdown, targets } = buildReport({ inDir: fixtures({ 'kafka-clients': clients }), chartLink: 'c.svg' });
    expect(markdown).toContain('### Kafka client race: kafkajs against @platformatic/kafka');
    expect(markdown).toContain('npx tsx bench/kafka-clients.ts --flag 1');
    expect(markdown).toContain('1,000,000 readings a run in 60,000 records (16.7 readings, 3,491 bytes a record); the records of 50 MQTT messages a send; 6 partitions.');
    expect(markdown).toContain('| 1 | second | @platformatic/kafka 1.35.0 | 800,000 | 48,000 | 1,600,000 | 400,000 | 600,000 | 0.05 | 2.00 / 4.00 |');
    expect(markdown).toContain('| 2 | second | kafkajs 2.2.4 | 300,000 | 18,000 | 600,000 | 600,000 | 900,000 | 0.05 | 2.00 / 4.00 |');
    expect(markdown).toContain('| kafkajs 2.2.4 | 350,000 | 700,000 | 550,000 | 825,000 | 2.00 / 4.00 |');
    expect(markdown).toContain('produce 2.00× readings/s (2.00×, 2.00×), 2.00× readings per CPU-s; consume 0.64× (0.80×, 0.50×)');
    expect(markdown).toContain('**Verdict:** neither client is faster at both; so kafkajs stays. Client kept: kafkajs.');
    expect(markdown).toContain('| concurrent send() calls \\| one producer | yes | **no** | kafkajs stored 30, @platformatic/kafka 6 |');
    expect(markdown).toContain('| tombstones | — | yes | written |');
    // Not a target: the race decides the client, it has no goal of its own.
    expect(targets.every((t) => t.status === 'not run')).toBe(true);
    expect(buildReport({ inDir: fixtures({}), chartLink: 'c.svg' }).markdown).toContain('`kafka-clients.json`: **not run** (`KAFKA_BROKERS=… npx tsx bench/kafka-clients.ts`).');
  });

  it('writes the Kafka processors\' readings/s with the CPU of each processor and of the broker; the older file without CPU too', () => {
    const cpu = (cpuSeconds: number, cpuPct: number) => ({ cpuSeconds, cpuPct });
    const processors = modern('kafka-processors', {
      devices: 100_000, rounds: 10, partitions: 6, perGateway: 100,
      runs: [
        { processors: 1, readings: 1_000_000, records: 60_000, produceReadingsPerS: 150_000, startSeconds: 3.5, judgeSeconds: 4.76, readingsPerS: 210_084, drainSeconds: 14.46, readingsPerSToCommit: 69_156, rejudged: 0,
          cpu: { processors: [cpu(5.83, 122.5)], processorsTotal: cpu(5.83, 122.5), broker: cpu(0.29, 6.1), bench: cpu(0.14, 2.9) }, readingsPerProcessorCpuS: 171_527 },
        { processors: 2, readings: 1_000_000, records: 60_000, produceReadingsPerS: 150_000, startSeconds: 4.7, judgeSeconds: 3.02, readingsPerS: 331_126, drainSeconds: 13.24, readingsPerSToCommit: 75_529, rejudged: 12,
          cpu: { processors: [cpu(2.72, 90), cpu(2.77, 91.7)], processorsTotal: cpu(5.49, 181.7), bench: cpu(0.11, 3.8) }, readingsPerProcessorCpuS: 182_149 },
      ],
    });
    const { markdown } = buildReport({ inDir: fixtures({ 'kafka-processors': processors }), chartLink: 'c.svg' });
    expect(markdown).toContain('### Kafka processors draining a backlog');
    expect(markdown).toContain('100,000 devices, 10 rounds, 6 partitions, 100 readings a publish.');
    expect(markdown).toContain('| 1 | 1,000,000 | 60,000 | 150,000 | 4.76 | 210,084 | 14.46 | 123 | 123 | 6 | 171,527 | 0 |');
    expect(markdown).toContain('| 2 | 1,000,000 | 60,000 | 150,000 | 3.02 | 331,126 | 13.24 | 90 + 92 | 182 | — | 182,149 | 12 |');
    const older = { devices: 20_000, rounds: 10, partitions: 6, machine: { cpus: 2 }, runs: [{ processors: 1, readings: 200_000, produceReadingsPerS: 83_578, drainSeconds: 5.11, readingsPerS: 39_146 }] };
    expect(buildReport({ inDir: fixtures({ 'kafka-processors': older }), chartLink: 'c.svg' }).markdown).toContain('| 1 | 200,000 | — | 83,578 | — | 39,146 | 5.11 | — | — | — | — | — |');
  });

  it('writes the restore of a 1M-device partition per variant with its verdict; kafka-restore.json not run otherwise', () => {
    const run = (variant: string, savesPerDevice: number, loadSeconds: number, restoreSeconds: number) => ({
      variant, devices: 1_000_000, savesPerDevice, records: 1_000_000 * savesPerDevice, partitionBytes: 583 * 2 ** 20 * savesPerDevice, loaded: 1_000_000, loadSeconds, loadRecordsPerS: Math.round((1_000_000 * savesPerDevice) / loadSeconds),
      loadCpuSeconds: 13.9, brokerCpuSecondsDuringLoad: 3.1, restoreSeconds, restoreDevicesPerS: Math.round(1_000_000 / restoreSeconds), totalSeconds: loadSeconds + restoreSeconds,
      rssBeforeBytes: 962 * 2 ** 20, rssAfterLoadBytes: 2202 * 2 ** 20, rssAfterRestoreBytes: 2651 * 2 ** 20, peakRssBytes: 2651 * 2 ** 20, checked: 1000, differing: 0, withinGoal: loadSeconds + restoreSeconds <= 30,
    });
    const restore = modern('kafka-restore', { goalSeconds: 30, meanStateBytes: 564, runs: [run('once', 1, 14.5, 5.5), run('twice', 2, 26, 5.7)] }, { devices: 1_000_000 });
    const { markdown, targets } = buildReport({ inDir: fixtures({ 'kafka-restore': restore }), chartLink: 'c.svg' });
    expect(markdown).toContain("### Restoring a partition of 1M devices' state from Kafka");
    expect(markdown).toContain('Goal: ≤ 30 s for load and restore together; device states of 564 bytes of JSON on average.');
    expect(markdown).toContain('| once (1 checkpoint a device) | 1,000,000 | 1,000,000 | 583.0 | 14.50 | 68,966 | 13.9 | 3.1 | 5.50 | 181,818 | 20.00 | 962 / 2,202 / 2,651 / 2,651 | 0 of 1,000 | **pass** |');
    expect(markdown).toContain('| twice (2 checkpoints a device) | 1,000,000 | 2,000,000 | 1,166.0 | 26.00 | 76,923 | 13.9 | 3.1 | 5.70 | 175,439 | 31.70 | 962 / 2,202 / 2,651 / 2,651 | 0 of 1,000 | **FAIL** |');
    expect(targets.every((t) => t.status === 'not run')).toBe(true);
    expect(buildReport({ inDir: fixtures({}), chartLink: 'c.svg' }).markdown).toContain('`kafka-restore.json`: **not run** (`KAFKA_BROKERS=… npx tsx bench/kafka-restore.ts`).');
  });

  it('renders the chart as SVG: both paths\' series, the 50 ms target line; a placeholder without throughput.json', () => {
    const { svg } = buildReport({ inDir: fixtures(full), chartLink: 'c.svg' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    for (const name of ['embedded: readings/s achieved', 'kafka: readings/s achieved', 'embedded: push p99', 'kafka: alert p99', 'target 50 ms at 50 %']) expect(svg).toContain(name);
    // One polyline per series and level set: at least the 8 series' paths.
    expect((svg.match(/<path /g) ?? []).length).toBeGreaterThan(8);
    expect(svg.match(/<svg/g)).toHaveLength(1);

    const empty = buildReport({ inDir: fixtures({}), chartLink: 'c.svg' }).svg;
    expect(empty.startsWith('<svg')).toBe(true);
    expect(empty).toContain('throughput.json: not run');
  });

  it('as a command writes RESULTS.md linking the SVG beside it', async () => {
    const inDir = fixtures(full);
    const outDir = join(root, 'out');
    mkdirSync(outDir);
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/report.ts', '--in', inDir, '--md', join(outDir, 'RESULTS.md'), '--svg', join(outDir, 'img', 'chart.svg'), '--bounds', join(root, 'absent.md')], { timeout: 25_000 });
    expect(stdout).toContain('pass    Embedded end-to-end, 100-reading batches: 300,000 readings/s (1.20 of goal)');
    expect(readFileSync(join(outDir, 'RESULTS.md'), 'utf8')).toContain('](img/chart.svg)');
    expect(readFileSync(join(outDir, 'img', 'chart.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  });
});
