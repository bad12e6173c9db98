import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../contracts/messages.ts';
import { HistoryFile } from './history-file.ts';
import { HistoryStore } from './history-store.ts';
import { parseHistorySettings } from './options.ts';

const dir = mkdtempSync(join(tmpdir(), 'gas-history-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2031-03-01T00:00:00.000Z');
const MIN = 60_000;
const newStore = () => new HistoryStore(parseHistorySettings({}));

function fill(store: HistoryStore): void {
  const readings: Reading[] = [];
  for (let i = 0; i < 300; i++) {
    const atMs = T0 + i * 7 * MIN;
    readings.push({ deviceId: `HM-${i % 50}`, kind: 'household_meter', at: '', atMs, gatewayId: 'GW-1', receivedAtMs: atMs, volumeM3: i / 4, batteryV: 3.6, status: i % 11 === 0 ? ['故障', `ERR-${i % 3}`] : undefined });
    readings.push({ deviceId: `设备-${i % 7}`, kind: 'alarm_controller', at: '', atMs, gatewayId: 'GW-1', receivedAtMs: atMs, mainPowerV: 220, detectors: [{ channel: 1, lelPct: i % 13 }, { channel: 2, lelPct: null }] });
  }
  store.append(readings);
}

const everything = (store: HistoryStore) => [...store.devices()].map(([id]) => [id, store.query(id, 0, 8.64e15, 10_000)]);

describe('HistoryFile', () => {
  it('saves and loads every device, point and status as it was, in slices', async () => {
    const store = newStore();
    fill(store);
    const file = new HistoryFile(join(dir, 'history.bin'), 1);
    const saved = await file.save(store);
    expect(saved.devices).toBe(57);
    expect(saved.bytes).toBe(readFileSync(file.file).length);
    const loaded = newStore();
    const result = await file.load(loaded);
    expect(result).toMatchObject({ devices: 57, bytes: saved.bytes });
    expect(everything(loaded)).toEqual(everything(store));
    expect(loaded.stats()).toEqual({ ...store.stats(), readings: 0 });
    // It goes on from where it was: a reading in the same minute as the last merges into it.
    const last = store.query('HM-49', 0, 8.64e15, 10_000)!.points.at(-1)!;
    loaded.add({ deviceId: 'HM-49', kind: 'household_meter', at: '', atMs: last.atMs + 1, gatewayId: 'GW-1', receivedAtMs: 0, volumeM3: 99 });
    expect(loaded.query('HM-49', 0, 8.64e15, 10_000)!.points.at(-1)).toEqual({ atMs: last.atMs + 1, values: { ...last.values, volumeM3: 99 }, status: last.status });
  });

  it('loads nothing when there is no file, and refuses a file cut short or of another format', async () => {
    expect(await new HistoryFile(join(dir, 'absent.bin')).load(newStore())).toBeUndefined();
    const store = newStore();
    fill(store);
    const cut = new HistoryFile(join(dir, 'cut.bin'));
    await cut.save(store);
    truncateSync(cut.file, readFileSync(cut.file).length - 3);
    await expect(cut.load(newStore())).rejects.toThrow('not a complete readings history file');
    writeFileSync(join(dir, 'other.bin'), 'GASHIST1{"x":1}GASHIST1');
    await expect(new HistoryFile(join(dir, 'other.bin')).load(newStore())).rejects.toThrow();
  });
});
