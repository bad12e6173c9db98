import { describe, expect, it } from 'vitest';
import { AlertBook } from '../alerts/alert-book.ts';
import type { AlertEvent, Reading } from '../contracts/messages.ts';
import { DeviceEngine } from './device-engine.ts';
import { GasAlarmDetector } from './detectors/gas-alarm/index.ts';
import { reading } from './detectors/testing.ts';
import { parseFlapSettings } from './flapping.ts';
import { parseSettings } from './settings.ts';

const detectors = [{ definition: GasAlarmDetector, settings: parseSettings(GasAlarmDetector, {}) }];
const engine = (flapping: Record<string, unknown> = {}) => new DeviceEngine(detectors as never, { profileOf: () => undefined }, { onJudged() {} }, parseFlapSettings(flapping));
const alarm = (atS: number, lelPct: number) => reading({ kind: 'home_gas_alarm', atS, lelPct });

function run(e: DeviceEngine, readings: Reading[]): AlertEvent[] {
  const out: AlertEvent[] = [];
  e.process(readings, out);
  return out;
}

/** A 60 %LEL reading, then 0 %LEL every 30 s for 90 s (the gas alarm clears after 60 s): one cycle of 2 minutes. */
const cycle = (fromS: number) => [alarm(fromS, 60), alarm(fromS + 30, 0), alarm(fromS + 60, 0), alarm(fromS + 90, 0)];
/** Three 60 → 0 %LEL cycles in 6 minutes, then 0 %LEL every 30 s for `quietS`. */
const flapping = (quietS: number) => [...cycle(0), ...cycle(120), ...cycle(240), ...Array.from({ length: quietS / 30 }, (_, i) => alarm(360 + i * 30, 0))];
const edges = (events: AlertEvent[], condition = 'GAS_ALARM_L2') => events.filter((x) => x.condition === condition).map((x) => x.type);

describe('flap detection (issue 15 #4)', () => {
  it('three 60 → 0 %LEL cycles in 5 minutes: the second raise is marked flapping with the count, later cycles send nothing, one clear once stable for the window', () => {
    const events = run(engine(), flapping(900));
    expect(edges(events)).toEqual(['raise', 'clear', 'raise', 'clear']);
    const l2 = events.filter((x) => x.condition === 'GAS_ALARM_L2');
    expect(l2[2]!.detail).toMatchObject({ flapping: true, changes: 3, windowMs: 600_000 });
    // Held raised through the third cycle; cleared 10 minutes after its last change (the clear at 5:30).
    expect(l2[3]!.atMs - l2[2]!.atMs).toBeGreaterThanOrEqual(330_000 - 120_000 + 600_000 - 30_000);
    expect(l2[3]!.detail).toMatchObject({ flapping: true, changes: 6 });
  });

  it('the alert book keeps one alert for it: the flapping raise reopens the alert it cleared, marked flapping', () => {
    const book = new AlertBook({ historyLimit: 100, compactAfterLines: 1000, fsync: false });
    const changes = book.apply(run(engine(), flapping(900)));
    const l2 = book.query({ condition: 'GAS_ALARM_L2', limit: 10 });
    expect(l2).toHaveLength(1);
    // Marked at its flapping raise with 3 changes; its final clear brings the count of all six.
    expect(l2[0]).toMatchObject({ state: 'cleared', detail: { flapping: true, changes: 6 } });
    // One alert id raised, cleared, raised again (a known id: the ticket side opens nothing new), cleared.
    expect(new Set(changes.filter((c) => c.alert.condition === 'GAS_ALARM_L2').map((c) => c.alert.id)).size).toBe(1);
  });

  it('stays raised while the gas comes back within the window, and clears only after a full stable window', () => {
    const e = engine();
    const first = run(e, flapping(0));
    expect(edges(first)).toEqual(['raise', 'clear', 'raise']);
    expect(edges(run(e, Array.from({ length: 19 }, (_, i) => alarm(360 + i * 30, 0))))).toEqual([]);
    expect(edges(run(e, [alarm(930, 0)]))).toEqual(['clear']);
  });

  it('a single raise and clear, or two cycles far apart, are not flapping', () => {
    const events = run(engine(), [...cycle(0), ...Array.from({ length: 30 }, (_, i) => alarm(120 + i * 30, 0)), ...cycle(1_020)]);
    expect(edges(events)).toEqual(['raise', 'clear', 'raise', 'clear']);
    expect(events.every((x) => x.detail?.flapping === undefined)).toBe(true);
  });

  it('follows its settings: minChanges 5 needs three raises, enabled false sends every edge', () => {
    expect(edges(run(engine({ minChanges: 5 }), flapping(900)))).toEqual(['raise', 'clear', 'raise', 'clear', 'raise', 'clear']);
    const off = run(engine({ enabled: false }), flapping(900));
    expect(edges(off)).toEqual(['raise', 'clear', 'raise', 'clear', 'raise', 'clear']);
    expect(() => parseFlapSettings({ minChanges: 1 })).toThrow(/flapping.minChanges/);
  });

  it('ignores late, out-of-order and duplicated readings: they count no change', () => {
    const e = engine();
    run(e, [...cycle(0), ...cycle(120)]);
    // Replays of the first cycle (a redelivered batch), then an older leak reading: judged no more.
    const again = run(e, [...cycle(0), alarm(100, 60), alarm(200, 60)]);
    expect(edges(again)).toEqual([]);
    expect(e.devices.get('DEV-1')!.flap!.changes.GAS_ALARM_L2).toHaveLength(4);
  });

  it('judges a backfill of thousands of buffered readings in device time: one flapping alert for a flapping hour, not dozens', () => {
    // 20 cycles of 2 minutes, then 2 000 quiet readings, delivered in one batch.
    const rs = [...Array.from({ length: 20 }, (_, i) => cycle(i * 120)).flat(), ...Array.from({ length: 2_000 }, (_, i) => alarm(2_400 + i * 30, 0))];
    const events = run(engine(), rs);
    expect(edges(events)).toEqual(['raise', 'clear', 'raise', 'clear']);
    expect(events.filter((x) => x.condition === 'GAS_ALARM_L2')[3]!.detail).toMatchObject({ changes: 40 });
  });

  it('survives a snapshot and restore while flapping: held raised, cleared once stable', () => {
    const e = engine();
    run(e, flapping(0));
    const snap = JSON.parse(JSON.stringify(e.snapshotDevice(e.devices.get('DEV-1')!)));
    const restored = engine();
    restored.restoreDevice(snap);
    expect(edges(run(restored, [...cycle(360), ...Array.from({ length: 21 }, (_, i) => alarm(480 + i * 30, 0))]))).toEqual(['clear']);
  });
});
