import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { DeviceRecord } from '../../contracts/device-record.ts';
import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import { DeviceEngine } from '../device-engine.ts';
import { resolveProfile } from '../device-profile.ts';
import { nextSlotAfter, scheduledDeadline } from './schedule.ts';
import { type SilenceSettings, SilenceSettingsSchema, SilenceWatch } from './silence-watch.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** 2026-11-22 00:00 Beijing time. */
const D0 = Date.parse('2026-11-21T16:00:00.000Z');
/** `day` days after D0 at local (Beijing) `hh:mm`. */
const bj = (day: number, hh: number, mm = 0) => D0 + day * DAY + hh * HOUR + mm * MIN;

const DAILY = { reportAt: '02:00', reportWindowMin: 240, reportTz: 'Asia/Shanghai' };

/**
 * Meters `HM-*` report daily on the 02:00 + 4 h schedule (record fields, or a model with one); `LIVE-*`
 * report every 15 minutes behind the same gateway, keeping it alive.
 */
function setup(settings: Partial<SilenceSettings> = {}, record: Partial<DeviceRecord> = { reportAt: '02:00', reportWindowMin: 240 }) {
  const profileOf = (id: string) =>
    id.startsWith('LIVE') ? resolveProfile({ deviceId: id, kind: 'home_gas_alarm', reportIntervalS: 900 }) : resolveProfile({ deviceId: id, kind: 'household_meter', ...record } as DeviceRecord);
  const engine = new DeviceEngine([], { profileOf }, { onJudged() {} });
  const watch = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, settings) as never);
  const feed = (receivedAtMs: number, gatewayId: string, deviceIds: string[], atMs = receivedAtMs): AlertEvent[] => {
    const readings: Reading[] = deviceIds.map((deviceId) => ({ deviceId, kind: deviceId.startsWith('LIVE') ? 'home_gas_alarm' : 'household_meter', gatewayId, at: new Date(atMs).toISOString(), atMs, receivedAtMs }));
    const out: AlertEvent[] = [];
    watch.onReadings(readings, out);
    engine.process(readings, out);
    return out;
  };
  /** Checks every 5 minutes over [fromMs, toMs] (the gateway's live devices reporting every 15), all edges in order. */
  const run = (fromMs: number, toMs: number, gatewayId = 'GW-1', live = true): AlertEvent[] => {
    const all: AlertEvent[] = [];
    for (let t = fromMs; t <= toMs; t += 5 * MIN) {
      if (live && (t - fromMs) % (15 * MIN) === 0) all.push(...feed(t, gatewayId, ['LIVE-1']));
      const out: AlertEvent[] = [];
      watch.check(t, out);
      all.push(...out);
    }
    return all;
  };
  return { engine, watch, feed, run };
}

const edges = (events: AlertEvent[]) => events.map((e) => `${e.type} ${e.condition} ${e.subjectId}`);

describe('report slots (issue 15 #8)', () => {
  it('finds the next 02:00 Beijing slot and the end of its window', () => {
    expect(nextSlotAfter(bj(0, 16), DAILY, DAY)).toBe(bj(1, 2));
    expect(nextSlotAfter(bj(1, 1, 59), DAILY, DAY)).toBe(bj(1, 2));
    expect(nextSlotAfter(bj(1, 5, 50), DAILY, DAY)).toBe(bj(2, 2));
    expect(scheduledDeadline(bj(1, 5, 50), DAILY, DAY, 1, 5 * MIN)).toEqual({ slotMs: bj(2, 2), dueMs: bj(2, 6, 5) });
    expect(scheduledDeadline(bj(1, 5, 50), DAILY, DAY, 3, 0).dueMs).toBe(bj(4, 6));
  });

  it('reads the slot in its own time zone', () => {
    const berlin = { reportAt: '02:00', reportWindowMin: 0, reportTz: 'Europe/Berlin' };
    expect(new Date(nextSlotAfter(Date.parse('2026-11-22T12:00:00Z'), berlin, DAY)).toISOString()).toBe('2026-11-23T01:00:00.000Z');
    expect(new Date(nextSlotAfter(Date.parse('2026-07-22T12:00:00Z'), berlin, DAY)).toISOString()).toBe('2026-07-23T00:00:00.000Z');
  });
});

describe('SilenceWatch on a report schedule (issue 15 #8)', () => {
  it('allows a meter that reported early in one window and late in the next, 27 h 50 min apart (a fixed 24 h would have called it silent)', () => {
    const { feed, run } = setup();
    run(bj(0, 0), bj(0, 0));
    feed(bj(1, 2, 5), 'GW-1', ['HM-1']);
    expect(run(bj(1, 2, 5), bj(2, 5, 55))).toEqual([]);
    expect(feed(bj(2, 5, 55), 'GW-1', ['HM-1'])).toEqual([]);
    expect(run(bj(2, 5, 55), bj(3, 6, 0))).toEqual([]);
  });

  it('raises NO_SIGNAL at the first check after the slot, its window and the grace, not before', () => {
    const { feed, run } = setup();
    feed(bj(1, 3), 'GW-1', ['HM-1']);
    expect(run(bj(1, 3), bj(2, 6, 5))).toEqual([]);
    const raised = run(bj(2, 6, 10), bj(2, 8));
    expect(edges(raised)).toEqual(['raise NO_SIGNAL HM-1']);
    expect(raised[0]!.atMs).toBe(bj(2, 6, 10));
    expect(raised[0]!.detail).toMatchObject({ schedule: DAILY, dueAt: new Date(bj(2, 6, 5)).toISOString() });
    expect(edges(feed(bj(2, 9), 'GW-1', ['HM-1']))).toEqual(['clear NO_SIGNAL HM-1']);
  });

  it('takes the slot from the model when the record names none (MH-NB-G2.5: 02:00 + 240 min)', () => {
    const { feed, run } = setup({}, { model: 'MH-NB-G2.5' });
    feed(bj(1, 3), 'GW-1', ['HM-1']);
    expect(run(bj(1, 3), bj(2, 6, 5))).toEqual([]);
    expect(edges(run(bj(2, 6, 10), bj(2, 6, 10)))).toEqual(['raise NO_SIGNAL HM-1']);
  });

  it('waits missedSlots slots when set so', () => {
    const { feed, run } = setup({ missedSlots: 2 });
    feed(bj(1, 3), 'GW-1', ['HM-1']);
    expect(run(bj(1, 3), bj(3, 6, 5))).toEqual([]);
    expect(edges(run(bj(3, 6, 10), bj(3, 6, 10)))).toEqual(['raise NO_SIGNAL HM-1']);
  });

  it('raises NO_SIGNAL, not GATEWAY_OFFLINE, for a meter that connects on its own, and never calls it offline between its daily reports', () => {
    const { feed, run } = setup();
    feed(bj(1, 3), 'HM-7', ['HM-7']);
    expect(run(bj(1, 3), bj(2, 6, 5), 'HM-7', false)).toEqual([]);
    expect(edges(run(bj(2, 6, 10), bj(3, 0), 'HM-7', false))).toEqual(['raise NO_SIGNAL HM-7']);
  });

  it('judges a gateway of scheduled meters by their windows: silent only when none reported through a whole window, then one GATEWAY_OFFLINE', () => {
    const { feed, run } = setup();
    feed(bj(1, 3), 'GW-2', ['HM-1', 'HM-2', 'HM-3']);
    expect(run(bj(1, 3), bj(2, 6, 5), 'GW-2', false)).toEqual([]);
    const events = run(bj(2, 6, 10), bj(3, 0), 'GW-2', false);
    expect(edges(events)).toEqual(['raise GATEWAY_OFFLINE GW-2']);
    expect(events[0]!.detail).toMatchObject({ deviceCount: 3 });
  });

  it('counts a backfill of thousands of buffered readings, out of order and duplicated, as hearing the meter once, at its arrival', () => {
    const { feed, run } = setup();
    feed(bj(1, 3), 'GW-1', ['HM-1']);
    expect(edges(run(bj(1, 3), bj(2, 6, 10)))).toEqual(['raise NO_SIGNAL HM-1']);
    // Back on day 4 at 12:00 with 3,000 buffered readings, oldest last, one repeated.
    const events: AlertEvent[] = [];
    for (let i = 0; i < 3000; i++) events.push(...feed(bj(4, 12), 'GW-1', ['HM-1'], bj(4, 12) - i * MIN));
    events.push(...feed(bj(4, 12), 'GW-1', ['HM-1'], bj(4, 12)));
    expect(edges(events)).toEqual(['clear NO_SIGNAL HM-1']);
    // Heard at 12:00 (off its slot): the next slot, 02:00 on day 5, and its window are allowed.
    expect(run(bj(4, 12), bj(5, 6, 5))).toEqual([]);
    expect(edges(run(bj(5, 6, 10), bj(5, 6, 10)))).toEqual(['raise NO_SIGNAL HM-1']);
  });

  it('leaves devices without a schedule on the fixed multiple of their interval', () => {
    const { feed, run } = setup({}, { reportIntervalS: 3_600 });
    feed(bj(1, 3), 'GW-1', ['HM-1']);
    expect(run(bj(1, 3), bj(1, 6))).toEqual([]);
    expect(edges(run(bj(1, 6, 5), bj(1, 6, 5)))).toEqual(['raise NO_SIGNAL HM-1']);
  });
});
