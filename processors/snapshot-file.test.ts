import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceSnapshot } from './device-engine.ts';
import { SnapshotFile } from './snapshot-file.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gas-snapshot-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const device = (i: number): DeviceSnapshot => ({
  deviceId: `HM-${String(i).padStart(8, '0')}`,
  kind: 'household_meter',
  gatewayId: 'GW-000001',
  lastAtMs: 1_795_334_400_000 + i,
  lastHeardAtMs: 1_795_334_400_500 + i,
  active: i % 1000 === 0 ? ['ERR-3'] : [],
  detectors: { balance: { balanceM3: i / 10 } },
  ...(i % 2 ? { valve: 'open' as const } : {}),
});

describe('SnapshotFile', () => {
  it('writes a large fleet in chunks, one device a line, and reads it back whole', async () => {
    const dir = tempDir();
    const store = new SnapshotFile(join(dir, 'state.jsonl'));
    const devices = Array.from({ length: 5_001 }, (_, i) => device(i));
    await store.save({ version: 1, takenAtMs: 42, gateways: [], devices: devices.values() });
    expect(readFileSync(join(dir, 'state.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(1 + devices.length);
    const loaded = await store.load();
    expect(loaded?.takenAtMs).toBe(42);
    expect([...loaded!.devices]).toEqual(devices);
  });

  /**
   * Saves `count` devices while a setImmediate ticker counts turns of the event loop, and returns
   * the tick each device was taken on; `spinMs` is how long taking one device holds the loop.
   */
  async function ticksWhileSaving(store: SnapshotFile, count: number, spinMs = 0): Promise<number[]> {
    let tick = 0;
    let ticking = true;
    const ticker = () => {
      tick++;
      if (ticking) setImmediate(ticker);
    };
    setImmediate(ticker);
    const takenOn: number[] = [];
    function* devices() {
      for (let i = 0; i < count; i++) {
        const until = performance.now() + spinMs;
        while (performance.now() < until);
        takenOn.push(tick);
        yield device(i);
      }
    }
    try {
      await store.save({ version: 1, takenAtMs: 1, gateways: [], devices: devices() });
    } finally {
      ticking = false;
    }
    return takenOn;
  }

  /** The most devices taken on one turn. */
  const longestRun = (ticks: number[]) => Math.max(...[...new Set(ticks)].map((t) => ticks.filter((x) => x === t).length));

  it('lets a setImmediate run between chunks, and the chunked file reads back whole', async () => {
    const file = join(tempDir(), 'state.jsonl');
    const store = new SnapshotFile(file, undefined, { devicesPerWrite: 100, sliceMs: 60_000 });
    const ticks = await ticksWhileSaving(store, 1_000);
    expect(longestRun(ticks)).toBeLessThanOrEqual(100);
    expect(new Set(ticks).size).toBeGreaterThanOrEqual(10);
    expect([...(await store.load())!.devices]).toEqual(Array.from({ length: 1_000 }, (_, i) => device(i)));
  });

  it('ends a chunk when it has held the loop for sliceMs, however few devices it holds', async () => {
    const store = new SnapshotFile(join(tempDir(), 'state.jsonl'), undefined, { devicesPerWrite: 10_000, sliceMs: 2 });
    // 0.5 ms a device: four devices fill a 2 ms slice.
    const ticks = await ticksWhileSaving(store, 40, 0.5);
    expect(longestRun(ticks)).toBeLessThanOrEqual(5);
    expect(new Set(ticks).size).toBeGreaterThanOrEqual(8);
  });

  it('reads the single-document snapshot of earlier versions from its old file', async () => {
    const dir = tempDir();
    const legacy = { version: 1, takenAtMs: 7, gateways: [{ gatewayId: 'GW-1', lastBatchAtMs: 1, onlineSinceMs: 1, willFired: false, willAtMs: 1, offline: false }], devices: [device(1)] };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(legacy));
    const loaded = await new SnapshotFile(join(dir, 'state.jsonl'), join(dir, 'state.json')).load();
    expect({ ...loaded, devices: [...loaded!.devices] }).toEqual(legacy);
  });

  it('reads a single-document snapshot longer than one read of the file', async () => {
    const dir = tempDir();
    const legacy = { version: 1, takenAtMs: 7, gateways: [], devices: Array.from({ length: 2_000 }, (_, i) => device(i)) };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(legacy));
    expect(readFileSync(join(dir, 'state.json')).length).toBeGreaterThan(4 * 65_536);
    const loaded = await new SnapshotFile(join(dir, 'state.jsonl'), join(dir, 'state.json')).load();
    expect([...loaded!.devices]).toEqual(legacy.devices);
  });

  it('has nothing to load on a first start', async () => {
    expect(await new SnapshotFile(join(tempDir(), 'state.jsonl')).load()).toBeUndefined();
  });
});
