import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { InProcessBus } from '../../bus/in-process-bus.ts';
import type { Reading } from '../../contracts/messages.ts';
import { HISTORY_FILE, HistoryPlugin } from './index.ts';
import { parseHistorySettings } from './options.ts';

const root = mkdtempSync(join(tmpdir(), 'gas-history-sink-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });
const T0 = Date.parse('2031-03-01T00:00:00.000Z');

const meter = (i: number): Reading => ({ deviceId: `HM-${i % 3}`, kind: 'household_meter', at: '', atMs: T0 + i * 3_600_000, gatewayId: 'GW-1', receivedAtMs: 0, volumeM3: i });
const span = [T0, T0 + 1e9] as const;

describe('history sink plugin', () => {
  it('takes readings from the bus, saves at stop and has them again after a restart', async () => {
    const dataDir = join(root, 'restart');
    const settings = parseHistorySettings({});
    const bus = new InProcessBus();
    const first = await HistoryPlugin.start(settings, { bus, dataDir, log });
    await bus.readings.publish(Array.from({ length: 30 }, (_, i) => meter(i)));
    const before = first.store.query('HM-1', ...span, 100);
    expect(before!.points).toHaveLength(10);
    await first.stop();
    expect(existsSync(join(dataDir, HISTORY_FILE))).toBe(true);

    const again = await HistoryPlugin.start(settings, { bus: new InProcessBus(), dataDir, log });
    expect(await again.readings.query({ deviceId: 'HM-1', kind: 'household_meter', fromMs: span[0], toMs: span[1], limit: 100 })).toEqual(before);
    expect(again.readings.kindOf?.('HM-2')).toBe('household_meter');
    await again.stop();
  });

  it('starts empty beside an unreadable file, kept aside as history.bin.unreadable', async () => {
    const dataDir = join(root, 'unreadable');
    const first = await HistoryPlugin.start(parseHistorySettings({}), { bus: new InProcessBus(), dataDir, log });
    await first.stop();
    writeFileSync(join(dataDir, HISTORY_FILE), 'GASHIST1 not really');
    const sink = await HistoryPlugin.start(parseHistorySettings({}), { bus: new InProcessBus(), dataDir, log });
    expect(sink.store.stats().devices).toBe(0);
    expect(readFileSync(join(dataDir, `${HISTORY_FILE}.unreadable`), 'utf8')).toBe('GASHIST1 not really');
    await sink.stop();
  });

  it('keeps nothing on disk with persist: false, and answers an empty history for a device it never saw', async () => {
    const dataDir = join(root, 'memory-only');
    const sink = await HistoryPlugin.start(parseHistorySettings({ persist: false }), { bus: new InProcessBus(), dataDir, log });
    expect(await sink.readings.query({ deviceId: 'HM-0', kind: 'household_meter', fromMs: span[0], toMs: span[1], limit: 10 })).toEqual({ source: 'local', bucketMs: null, points: [] });
    await sink.stop();
    expect(existsSync(join(dataDir, HISTORY_FILE))).toBe(false);
  });

  it.each([
    { settings: { tiers: [{ upToAgeMs: 3_600_000, resolutionMs: 60_000 }] }, says: 'must reach maxAgeMs' },
    { settings: { tiers: [{ upToAgeMs: 86_400_000, resolutionMs: 60_000 }, { upToAgeMs: 3_600_000, resolutionMs: 60_000 }], maxAgeMs: 3_600_000 }, says: 'ordered' },
    { settings: { maxBytes: 10 }, says: 'history.maxBytes' },
    { settings: { persisted: true }, says: 'history' },
  ])('refuses bad settings at start: $says', ({ settings, says }) => {
    expect(() => parseHistorySettings(settings)).toThrow(says);
  });
});
