/**
 * Bytes of processor state per device: the heap the DeviceEngine holds once every device has
 * reported, divided by the number of devices.
 *
 *   npx tsx bench/memory.ts [--devices 100000,1000000] [--heap-mb <max old space>] [--out bench/out/memory.json]
 *
 * Each size runs in a fresh child (`node --expose-gc --max-old-space-size=… --import tsx`) so one
 * size's heap never colours the next. The child builds the engine as app/pipeline.ts does (every
 * detector with its parsed default settings, RegistryProfiles over a DeviceRegistry holding the
 * fleet's records) and the simulator fleet, then takes the baseline heap after gc(): registry,
 * engine and fleet loaded, no device state yet. It then feeds every device one reading through the
 * real path — a v1 batch of 100 readings serialised to JSON → UplinkDecoder.decode → engine.process
 * — one gateway's batch at a time so payloads, decoded batches and alert events become garbage at
 * once, then a second round (detector state that only appears from the second reading), runs gc()
 * twice and reports (heapUsed − baseline) / devices.
 *
 * The load generator's own objects are not counted: the fleet (its SimDevice objects) is built
 * before the baseline and kept alive to the end, so it is in both measurements; readings are
 * generated from it batch by batch and never held. What is counted is what the engine keeps per
 * device: its Map entry, the device state with its resolved profile, the detectors' states and the
 * last reading it judged.
 */
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import type { AlertEvent } from '../contracts/messages.ts';
import { DecoderOptionsSchema, UplinkDecoder, type DecoderOptions } from '../ingest/uplink-decoder.ts';
import { DeviceEngine, type ConfiguredDetector } from '../processors/device-engine.ts';
import { RegistryProfiles } from '../processors/device-profile.ts';
import { DETECTORS } from '../processors/detectors/registry.ts';
import { parseSettings } from '../processors/settings.ts';
import { DeviceRegistry } from '../registry/device-registry.ts';
import { createFleet } from '../simulators/fleet.ts';
import { writeResult } from './common.ts';

export interface MemoryRun {
  devices: number;
  /** Devices the engine holds state for at the end; equals `devices` when every reading was judged. */
  devicesTracked: number;
  baselineHeapBytes: number;
  heapBytes: number;
  bytesPerDevice: number;
  rssBytes: number;
}

/** Readings per uplink message, as a concentrator sends them. */
const BATCH = 100;
const STEP_MS = 30_000;
const TARGET_BYTES_PER_DEVICE = 300;

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '100000,1000000' },
    'heap-mb': { type: 'string' },
    out: { type: 'string', default: 'bench/out/memory.json' },
    child: { type: 'boolean', default: false },
  },
});

function gcTwice(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('gc() is not exposed: run the child with node --expose-gc');
  gc();
  gc();
}

/** One size, in this process; the parent made sure it is fresh and has gc() exposed. */
function measure(devices: number): MemoryRun {
  const fleet = createFleet({ gateways: Math.max(1, Math.ceil(devices / BATCH)), devices, seed: 1, stepMs: STEP_MS });
  const registry = new DeviceRegistry(fleet.registry());
  const detectors: ConfiguredDetector[] = DETECTORS.map((definition) => ({ definition, settings: parseSettings(definition, undefined) }));
  const engine = new DeviceEngine(detectors, new RegistryProfiles(registry), { onJudged() {} });
  const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as DecoderOptions);

  gcTwice();
  const baselineHeapBytes = process.memoryUsage().heapUsed;

  let rejects = 0;
  let seq = 0;
  for (let round = 0; round < 2; round++) {
    const at = new Date(Date.now() - (2 - round) * STEP_MS).toISOString();
    seq++;
    fleet.byGateway.forEach((members, g) => {
      const gatewayId = fleet.gatewayIds[g]!;
      const readings = members.map((device) => {
        fleet.advance(device);
        return fleet.reading(device, at);
      });
      const payload = Buffer.from(JSON.stringify({ gatewayId, seq, sentAt: at, readings }));
      const result = decoder.decode(`gas/v1/${gatewayId}/up`, payload, Date.now());
      rejects += result.rejects.length;
      const out: AlertEvent[] = [];
      if (result.batch) engine.process(result.batch.readings, out);
    });
  }
  if (rejects > 0) throw new Error(`${rejects} readings were rejected by the decoder: the bench's load is wrong`);

  gcTwice();
  const usage = process.memoryUsage();
  // Kept alive to here so the fleet and registry are in both measurements.
  if (fleet.devices.length !== registry.size) throw new Error('fleet and registry disagree');
  return {
    devices,
    devicesTracked: engine.devices.size,
    baselineHeapBytes,
    heapBytes: usage.heapUsed,
    bytesPerDevice: Math.round((usage.heapUsed - baselineHeapBytes) / devices),
    rssBytes: usage.rss,
  };
}

/** Runs one size in a fresh Node.js process and returns what it measured. */
function runChild(devices: number, heapMb: number): Promise<MemoryRun> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', `--max-old-space-size=${heapMb}`, '--import', 'tsx', script, '--child', '--devices', String(devices)], {
      cwd: dirname(dirname(script)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (stdout += chunk));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`memory child for ${devices} devices exited with ${signal ?? code}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as MemoryRun);
      } catch (err) {
        reject(new Error(`memory child for ${devices} devices printed no result: ${stdout.slice(-500)}`, { cause: err }));
      }
    });
  });
}

const sizes = values.devices.split(',').map(Number);
for (const n of sizes) {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--devices must list positive integers, got ${values.devices}`);
}

if (values.child) {
  process.stdout.write(`${JSON.stringify(measure(sizes[0]!))}\n`);
} else {
  const runs: MemoryRun[] = [];
  for (const devices of sizes) {
    // Fleet, registry and state together stay well under 6 KiB a device; the cap only guards the machine.
    const heapMb = values['heap-mb'] ? Number(values['heap-mb']) : 1024 + Math.ceil((devices * 6144) / 2 ** 20);
    runs.push(await runChild(devices, heapMb));
  }
  const mb = (b: number) => (b / 2 ** 20).toFixed(1);
  const at1M = runs.find((r) => r.devices === 1_000_000);
  writeResult(values.out, {
    benchmark: 'memory',
    params: { devices: sizes, batchSize: BATCH, rounds: 2, targetBytesPerDevice: TARGET_BYTES_PER_DEVICE },
    results: { runs },
    summary: [
      ...runs.map((r) => `${r.devices.toLocaleString('en')} devices: ${r.bytesPerDevice} bytes/device of processor state (heap ${mb(r.baselineHeapBytes)} → ${mb(r.heapBytes)} MiB, RSS ${mb(r.rssBytes)} MiB, ${r.devicesTracked.toLocaleString('en')} tracked)`),
      at1M
        ? `target ≤ ${TARGET_BYTES_PER_DEVICE} bytes/device at 1M: ${at1M.bytesPerDevice <= TARGET_BYTES_PER_DEVICE ? 'pass' : 'fail'} (${at1M.bytesPerDevice})`
        : `target ≤ ${TARGET_BYTES_PER_DEVICE} bytes/device at 1M: not run at 1M`,
    ],
  });
}
