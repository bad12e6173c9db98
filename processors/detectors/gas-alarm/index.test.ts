import { describe, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../../../contracts/messages.ts';
import { DeviceEngine } from '../../device-engine.ts';
import { resolveProfile } from '../../device-profile.ts';
import { parseSettings } from '../../settings.ts';
import { reading, runDetector } from '../testing.ts';
import { GasAlarmDetector } from './index.ts';

const alarm = (atS: number, lelPct: number, extra = {}) => reading({ kind: 'home_gas_alarm', atS, lelPct, ...extra });

describe('GasAlarmDetector', () => {
  it.each([
    { lelPct: 0, present: [] },
    { lelPct: 24.9, present: [] },
    { lelPct: 25, present: ['GAS_ALARM_L1'] },
    { lelPct: 49, present: ['GAS_ALARM_L1'] },
    { lelPct: 50, present: ['GAS_ALARM_L1', 'GAS_ALARM_L2'] },
  ])('judges $lelPct %LEL against the default set points', ({ lelPct, present }) => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, lelPct)]);
    expect(steps[0]!.present).toEqual(present);
  });

  it('uses the per-device set points from the registry', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 15)], { record: { l1LelPct: 10, l2LelPct: 15 } });
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
  });

  it('does not flap while the value hovers at the set point (hysteresis)', () => {
    const values = [26, 24, 26, 23, 25, 22];
    const { steps } = runDetector(GasAlarmDetector, values.map((v, i) => alarm(i * 30, v)));
    expect(steps.every((s) => s.present.includes('GAS_ALARM_L1'))).toBe(true);
  });

  it('clears only after staying under the hysteresis band for clearAfterMs of device time', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10), alarm(60, 10), alarm(90, 10)]);
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, true, true, false]);
  });

  it('restarts the clear hold when the value rises again', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10), alarm(60, 26), alarm(90, 10), alarm(120, 10)]);
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, true, true, true, true]);
  });

  it('holds a raise for raiseAfterMs when configured', () => {
    const { steps } = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(5, 30), alarm(10, 30)], { settings: { raiseAfterMs: 10_000 } });
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([false, false, true]);
  });

  it("takes the home alarm's red lamp or intermittent buzzer as a first-level alarm", () => {
    const { steps } = runDetector(GasAlarmDetector, [
      reading({ kind: 'home_gas_alarm', atS: 0, lamps: { power: true, alarm: true } }),
      reading({ kind: 'home_gas_alarm', atS: 60, buzzer: 'intermittent' }),
    ]);
    expect(steps.map((s) => s.present)).toEqual([['GAS_ALARM_L1'], ['GAS_ALARM_L1']]);
  });

  it('judges an alarm controller on its highest live channel and names the channels over L1', () => {
    const { steps } = runDetector(GasAlarmDetector, [
      reading({ kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: 3 }, { channel: 2, lelPct: 55 }, { channel: 3, lelPct: null, status: '--F' }] }),
    ]);
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
    expect(steps[0]!.findings[0]!.detail).toMatchObject({ lelPct: 55, channels: [2] });
  });

  it('reports nothing when the reading carries no concentration', () => {
    const { steps } = runDetector(GasAlarmDetector, [reading({ kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: null, status: '--F' }] })]);
    expect(steps[0]!.findings).toEqual([]);
  });

  it('continues from a restored snapshot exactly as without the restart', () => {
    const first = runDetector(GasAlarmDetector, [alarm(0, 30), alarm(30, 10)]);
    const resumed = runDetector(GasAlarmDetector, [alarm(60, 10), alarm(90, 10)], { state: JSON.parse(JSON.stringify(first.state)) });
    expect(resumed.steps.map((s) => s.present.includes('GAS_ALARM_L1'))).toEqual([true, false]);
  });
});

describe('GasAlarmDetector: GB 16808-2025 two-detector confirmation (issue 15 #6)', () => {
  const controller = (atS: number, ...lel: Array<number | null>) =>
    reading({ kind: 'alarm_controller', atS, detectors: lel.map((lelPct, i) => ({ channel: i + 1, lelPct })) });
  const twoDetector = { record: { alarmConfirmRule: 'two-detector' as const } };
  const detailOf = (s: { findings: Array<{ condition: string; detail?: Record<string, unknown> }> }, c: string) => s.findings.find((f) => f.condition === c)!.detail;

  it("raises a single channel's alarm (L1) but no controller alarm (L2) when one channel is over L2", () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 60, 0, 3)], twoDetector);
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1']);
    expect(detailOf(steps[0]!, 'GAS_ALARM_L1')).toMatchObject({ rule: 'two-detector', scope: 'channel', channels: [1], channelsOverL2: [1] });
  });

  it('raises the confirmed controller alarm once a second channel exceeds the set point, naming both', () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 60, 0), controller(30, 60, 55)], twoDetector);
    expect(steps.map((s) => s.present)).toEqual([['GAS_ALARM_L1'], ['GAS_ALARM_L1', 'GAS_ALARM_L2']]);
    expect(detailOf(steps[1]!, 'GAS_ALARM_L2')).toMatchObject({ rule: 'two-detector', scope: 'controller', confirmed: true, confirmedBy: [1, 2], lelPct: 60 });
    expect(detailOf(steps[0]!, 'GAS_ALARM_L1')).toMatchObject({ confirmed: false });
  });

  it('says an L1 raised by two channels at once (both between L1 and L2) was confirmed, with no controller alarm at L2', () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 30, 35, 0)], twoDetector);
    expect(steps[0]!.present).toEqual(['GAS_ALARM_L1']);
    expect(detailOf(steps[0]!, 'GAS_ALARM_L1')).toMatchObject({ rule: 'two-detector', confirmed: true, confirmedBy: [1, 2] });
  });

  it("says rule 'single' where one channel is enough (the default), and a registry rule wins over the setting", () => {
    const single = runDetector(GasAlarmDetector, [controller(0, 60, 0)]);
    expect(single.steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
    expect(detailOf(single.steps[0]!, 'GAS_ALARM_L2')).toMatchObject({ rule: 'single', channels: [1] });
    const bySetting = runDetector(GasAlarmDetector, [controller(0, 60, 0)], { settings: { confirmRule: 'two-detector' } });
    expect(bySetting.steps[0]!.present).toEqual(['GAS_ALARM_L1']);
    const recordWins = runDetector(GasAlarmDetector, [controller(0, 60, 0)], { settings: { confirmRule: 'two-detector' }, record: { alarmConfirmRule: 'single' } });
    expect(recordWins.steps[0]!.present).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
  });

  it('counts neither an offline (--F) channel nor a missing one as a confirmation', () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 60, null), controller(30, 60)], twoDetector);
    expect(steps.map((s) => s.present)).toEqual([['GAS_ALARM_L1'], ['GAS_ALARM_L1']]);
  });

  it('keeps the confirmed alarm while the second channel hovers inside the hysteresis, clears after clearAfterMs below', () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 60, 55), controller(30, 60, 47), controller(60, 60, 40), controller(90, 60, 40), controller(120, 60, 40)], twoDetector);
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L2'))).toEqual([true, true, true, true, false]);
  });

  it('asks for more channels when confirmMinChannels says so', () => {
    const { steps } = runDetector(GasAlarmDetector, [controller(0, 60, 60, 0), controller(30, 60, 60, 70)], { ...twoDetector, settings: { confirmMinChannels: 3 } });
    expect(steps.map((s) => s.present.includes('GAS_ALARM_L2'))).toEqual([false, true]);
  });

  it('judges a duplicated reading as the first, and a backfill of 2,000 readings as it comes (one state, no flapping)', () => {
    const r = controller(0, 60, 55);
    const backfill = Array.from({ length: 2000 }, (_, i) => controller(30 + i * 30, 60, 55));
    const { steps } = runDetector(GasAlarmDetector, [r, r, ...backfill], twoDetector);
    expect(steps.every((s) => s.present.join() === 'GAS_ALARM_L1,GAS_ALARM_L2')).toBe(true);
  });
});

describe('DeviceEngine with a two-detector controller (issue 15 #6, event time)', () => {
  const controller = (atS: number, ...lel: number[]) =>
    reading({ kind: 'alarm_controller', deviceId: 'AC-1', atS, detectors: lel.map((lelPct, i) => ({ channel: i + 1, lelPct })) });
  const engine = () =>
    new DeviceEngine(
      [{ definition: GasAlarmDetector, settings: parseSettings(GasAlarmDetector, {}) }] as never,
      { profileOf: (id) => resolveProfile({ deviceId: id, kind: 'alarm_controller', alarmConfirmRule: 'two-detector' }) },
      { onJudged() {} },
    );
  const run = (e: DeviceEngine, readings: Reading[]) => {
    const out: AlertEvent[] = [];
    e.process(readings, out);
    return out;
  };
  /** Edges of current state: a late reading may be recorded as history (issue 15 #1, marked late) but must not change the present. */
  const current = (events: AlertEvent[]) =>
    events.filter((x) => (x as { late?: boolean }).late !== true && x.detail?.late !== true).map((x) => `${x.type} ${x.condition}`);

  it('raises each edge once for a duplicated batch, and an older reading delivered late does not clear the confirmed alarm', () => {
    const e = engine();
    expect(current(run(e, [controller(0, 60, 55)]))).toEqual(['raise GAS_ALARM_L1', 'raise GAS_ALARM_L2']);
    expect(current(run(e, [controller(0, 60, 55)]))).toEqual([]);
    expect(current(run(e, [controller(-300, 0, 0), controller(-200, 0, 0), controller(-100, 0, 0)]))).toEqual([]);
  });

  it('raises the confirmed alarm once for readings out of order in one batch and for a backfill of 3,000', () => {
    const e = engine();
    const backfill = Array.from({ length: 3000 }, (_, i) => controller(i * 30, 60, i % 2 === 0 ? 55 : 52));
    const events = run(e, [controller(60, 60, 55), controller(30, 60, 55), ...backfill]);
    expect(current(events)).toEqual(['raise GAS_ALARM_L1', 'raise GAS_ALARM_L2']);
  });
});
