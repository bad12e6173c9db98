import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/messages.ts';
import { mayRaiseGasAlarm, readingsMayRaiseGasAlarm } from './urgent-uplink.ts';

const batch = (readings: unknown[]): Buffer => Buffer.from(JSON.stringify({ gatewayId: 'GW-1', seq: 1, sentAt: '2026-12-06T08:00:00Z', readings }));
const homeAlarm = (extra: Record<string, unknown>) => ({ deviceId: 'HA-1', kind: 'home_gas_alarm', at: '2026-12-06T08:00:00Z', ...extra });

describe('mayRaiseGasAlarm', () => {
  it('says yes to a home alarm at or above the lowest first set point, and no below it', () => {
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 25 })]), 25)).toBe(true);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 60.5 })]), 25)).toBe(true);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 24.99 })]), 25)).toBe(false);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 0 })]), 25)).toBe(false);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 12.5 })]), 12)).toBe(true);
    // A set point under 10 %LEL: one digit can reach it.
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 8 })]), 5)).toBe(true);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 4.5 })]), 5)).toBe(false);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 9.99 })]), 25)).toBe(false);
  });

  it('finds the one alarming reading among a hundred routine ones, on any controller channel', () => {
    const routine = Array.from({ length: 99 }, (_, i) => homeAlarm({ deviceId: `HA-${i}`, lelPct: 3, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off' }));
    expect(mayRaiseGasAlarm(batch(routine), 25)).toBe(false);
    const controller = { deviceId: 'AC-1', kind: 'alarm_controller', at: '2026-12-06T08:00:00Z', detectors: [{ channel: 1, lelPct: null, status: '--F' }, { channel: 2, lelPct: 31, status: 'ok' }] };
    expect(mayRaiseGasAlarm(batch([...routine, controller]), 25)).toBe(true);
  });

  it('says yes to a red alarm lamp or an intermittent buzzer whatever the concentration', () => {
    expect(mayRaiseGasAlarm(batch([homeAlarm({ lelPct: 0, lamps: { power: true, fault: false, alarm: true } })]), 25)).toBe(true);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ buzzer: 'intermittent' })]), 25)).toBe(true);
    expect(mayRaiseGasAlarm(batch([homeAlarm({ buzzer: 'continuous', lamps: { alarm: false } })]), 25)).toBe(false);
  });

  it('reads JSON as JSON: blanks around the colon, exponents, negative and null values', () => {
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct" :\n 40}]}'), 25)).toBe(true);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lamps":{"alarm" : true}}]}'), 25)).toBe(true);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct":2.5e1}]}'), 25)).toBe(true);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct":2.4E1}]}'), 25)).toBe(false);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct":-40}]}'), 25)).toBe(false);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct":null}]}'), 25)).toBe(false);
  });

  it('is not fooled by the words as values or by a payload cut short', () => {
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"status":"alarm","note":"lelPct"}]}'), 25)).toBe(false);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"kind":"alarm_controller"}]}'), 25)).toBe(false);
    expect(mayRaiseGasAlarm(Buffer.from('{"readings":[{"lelPct":'), 25)).toBe(false);
    expect(mayRaiseGasAlarm(Buffer.from(''), 25)).toBe(false);
  });
});

describe('readingsMayRaiseGasAlarm', () => {
  const decoded = (extra: Record<string, unknown>) => ({ ...homeAlarm(extra), atMs: 0, gatewayId: 'GW-1', receivedAtMs: 0 }) as Reading;
  const controller = (lelPct: number | null) => decoded({ deviceId: 'AC-1', kind: 'alarm_controller', detectors: [{ channel: 1, lelPct: null, status: '--F' }, { channel: 2, lelPct }] });

  it('answers of decoded readings what the raw look answers of their payload', () => {
    const cases: Array<[Reading, number, boolean]> = [
      [decoded({ lelPct: 25 }), 25, true],
      [decoded({ lelPct: 24.99 }), 25, false],
      [decoded({ lelPct: 8 }), 5, true],
      [decoded({ lelPct: 0, lamps: { power: true, fault: false, alarm: true } }), 25, true],
      [decoded({ buzzer: 'intermittent' }), 25, true],
      [decoded({ buzzer: 'continuous', lamps: { alarm: false } }), 25, false],
      [controller(31), 25, true],
      [controller(24), 25, false],
      [controller(null), 25, false],
    ];
    for (const [reading, lowestL1, expected] of cases) {
      expect(readingsMayRaiseGasAlarm([reading], lowestL1)).toBe(expected);
      expect(mayRaiseGasAlarm(batch([reading]), lowestL1)).toBe(expected);
    }
  });

  it('finds the one alarming reading among a hundred routine ones', () => {
    const routine = Array.from({ length: 99 }, (_, i) => decoded({ deviceId: `HA-${i}`, lelPct: 3, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off' }));
    expect(readingsMayRaiseGasAlarm(routine, 25)).toBe(false);
    expect(readingsMayRaiseGasAlarm([...routine, controller(60)], 25)).toBe(true);
    expect(readingsMayRaiseGasAlarm([], 25)).toBe(false);
  });
});
