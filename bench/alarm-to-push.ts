/**
 * Gas alarm reading → push on the technician's live stream: the time from publishing one alarm
 * reading over MQTT to the ticket's push arriving on the on-call technician's SSE stream, through
 * the whole embedded pipeline (broker, ingest, detectors, alert store, ticket store, push).
 *
 *   npx tsx bench/alarm-to-push.ts [--alarms 300] [--out bench/out/alarm-to-push.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import hdr from 'hdr-histogram-js';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseSettings } from '../app/config.ts';
import { startPipeline } from '../app/pipeline.ts';
import { openStream } from '../tests/stream-client.ts';
import { BENCH_TECHNICIAN, writeBenchOncall } from './common.ts';

const { values } = parseArgs({ options: { alarms: { type: 'string', default: '300' }, out: { type: 'string', default: 'bench/out/alarm-to-push.json' } } });
const alarms = Number(values.alarms);

const dir = mkdtempSync(join(tmpdir(), 'gas-bench-'));
const oncallFile = join(dir, 'oncall.json');
writeBenchOncall(oncallFile);
const registryFile = join(dir, 'registry.json');
const devices = Array.from({ length: alarms }, (_, i) => `HA-B${String(i).padStart(6, '0')}`);
writeFileSync(registryFile, JSON.stringify(devices.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: 'GW-BENCH', district: '城东区', reportIntervalS: 30 }))));

const pipeline = await startPipeline({
  role: 'all',
  mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-bench', httpPort: 0, httpHost: '127.0.0.1',
  dataDir: join(dir, 'data'), registryFile, oncallFile, adminToken: 'bench-admin', logLevel: 'warn',
  settings: parseSettings({}, 'bench'),
}, pino({ level: 'warn' }));
const tokenRes = await fetch(`${pipeline.httpUrl}/api/v1/tokens`, {
  method: 'POST',
  headers: { authorization: 'Bearer bench-admin', 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'bench phone', role: 'technician', personId: BENCH_TECHNICIAN }),
});
const { token } = (await tokenRes.json()) as { token: string };
const stream = await openStream(`${pipeline.httpUrl}/api/v1/stream?access_token=${token}`);
const gateway = await mqtt.connectAsync(pipeline.mqttUrl!, { clientId: 'GW-BENCH' });

const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
let seq = 0;
for (const deviceId of devices) {
  const at = new Date().toISOString();
  const payload = JSON.stringify({ gatewayId: 'GW-BENCH', seq: ++seq, sentAt: at, readings: [{ deviceId, kind: 'home_gas_alarm', at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'closed' }] });
  const started = performance.now();
  const arrived = stream.next((e) => JSON.stringify(e.data).includes(deviceId), 30_000);
  await gateway.publishAsync('gas/v1/GW-BENCH/up', payload, { qos: 1 });
  const event = await arrived;
  histogram.recordValue(Math.max(1, Math.round((event.receivedAtMs - started) * 1000)));
}

// A percentile is the top of its HDR bucket, which can lie just above the largest value recorded.
const us = (p: number) => Math.min(histogram.maxValue, histogram.getValueAtPercentile(p)) / 1000;
const result = {
  benchmark: 'alarm-to-push',
  path: 'embedded (aedes → ingest → detectors → alert journal → PGlite tickets → SSE)',
  alarms,
  latencyMs: { p50: us(50), p90: us(90), p99: us(99), p999: us(99.9), max: histogram.maxValue / 1000, mean: histogram.mean / 1000 },
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  at: new Date().toISOString(),
};
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(values.out!, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`alarm → technician push over ${alarms} alarms, one at a time: p50 ${result.latencyMs.p50.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms, p99.9 ${result.latencyMs.p999.toFixed(2)} ms, max ${result.latencyMs.max.toFixed(2)} ms\n`);

stream.close();
await gateway.endAsync();
await pipeline.stop();
rmSync(dir, { recursive: true, force: true });
