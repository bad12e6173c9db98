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

  it('lets the event loop run while it writes', async () => {
    const dir = tempDir();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await new SnapshotFile(join(dir, 'state.jsonl')).save({ version: 1, takenAtMs: 1, gateways: [], devices: Array.from({ length: 20_000 }, (_, i) => device(i)).values() });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });

  it('reads the single-document snapshot of earlier versions from its old file', async () => {
    const dir = tempDir();
    const legacy = { version: 1, takenAtMs: 7, gateways: [{ gatewayId: 'GW-1', lastBatchAtMs: 1, onlineSinceMs: 1, willFired: false, willAtMs: 1, offline: false }], devices: [device(1)] };
    writeFileSync(join(dir, 'state.json'), JSON.stringify(legacy));
    const loaded = await new SnapshotFile(join(dir, 'state.jsonl'), join(dir, 'state.json')).load();
    expect({ ...loaded, devices: [...loaded!.devices] }).toEqual(legacy);
  });

  it('has nothing to load on a first start', async () => {
    expect(await new SnapshotFile(join(tempDir(), 'state.jsonl')).load()).toBeUndefined();
  });
});
