import { describe, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../contracts/messages.ts';
import { DeviceEngine } from './device-engine.ts';
import { resolveProfile } from './device-profile.ts';
import { GasAlarmDetector } from './detectors/gas-alarm/index.ts';
import { parseSettings } from './settings.ts';
import { reading } from './detectors/testing.ts';

const noMetrics = { onJudged() {} };
const detectors = [{ definition: GasAlarmDetector, settings: parseSettings(GasAlarmDetector, {}) }];

function engine(records: Record<string, Parameters<typeof resolveProfile>[0]> = {}) {
  return new DeviceEngine(detectors as never, { profileOf: (id) => (records[id] ? resolveProfile(records[id]!) : undefined) }, noMetrics);
}

function run(e: DeviceEngine, readings: Reading[]): AlertEvent[] {
  const out: AlertEvent[] = [];
  e.process(readings, out);
  return out;
}

const alarm = (atS: number, lelPct: number, deviceId = 'DEV-1') => reading({ kind: 'home_gas_alarm', deviceId, atS, lelPct });

describe('DeviceEngine', () => {
  it('turns findings into one raise and one clear edge per condition', () => {
    const e = engine();
    const events = run(e, [alarm(0, 30), alarm(30, 30), alarm(60, 0), alarm(90, 0), alarm(120, 0), alarm(150, 0)]);
    expect(events.map((x) => `${x.type} ${x.condition}`)).toEqual(['raise GAS_ALARM_L1', 'clear GAS_ALARM_L1']);
    expect(events[0]).toMatchObject({ subject: 'device', subjectId: 'DEV-1', gatewayId: 'GW-1', kind: 'home_gas_alarm', severity: 'high', unregistered: true });
  });

  it('never lets late and out-of-order readings flip the current state backwards', () => {
    const e = engine();
    run(e, [alarm(0, 60)]);
    const events = run(e, [alarm(-30, 0), alarm(-60, 0), alarm(-90, 0), alarm(-120, 0), alarm(0, 0)]);
    expect(events).toEqual([]);
    expect(e.devices.get('DEV-1')!.lastReading!.lelPct).toBe(60);
  });

  it('judges registered devices with their own set points and flags unknown ones', () => {
    const e = engine({ 'DEV-2': { deviceId: 'DEV-2', kind: 'home_gas_alarm', l1LelPct: 10, l2LelPct: 20 } });
    const events = run(e, [alarm(0, 15, 'DEV-2'), alarm(0, 15, 'DEV-3')]);
    expect(events.map((x) => `${x.subjectId} ${x.condition} ${x.unregistered ?? false}`)).toEqual(['DEV-2 GAS_ALARM_L1 false']);
  });

  it('does not fire an alert the store holds active again after a restart', () => {
    const e = engine();
    e.seedActive('DEV-1', 'home_gas_alarm', 'GW-1', 'GAS_ALARM_L1');
    expect(run(e, [alarm(0, 30)])).toEqual([]);
  });

  it('clears an alert the store holds active even when its detector state was lost', () => {
    const e = engine();
    e.seedActive('DEV-1', 'home_gas_alarm', 'GW-1', 'GAS_ALARM_L1');
    const events = run(e, [alarm(0, 0)]);
    expect(events.map((x) => `${x.type} ${x.condition}`)).toEqual(['clear GAS_ALARM_L1']);
  });

  it('resumes from a snapshot exactly where it stopped', () => {
    const first = engine();
    run(first, [alarm(0, 30), alarm(30, 0)]);
    const snapshot = JSON.parse(JSON.stringify(first.snapshotDevice(first.devices.get('DEV-1')!)));
    const second = engine();
    second.restoreDevice(snapshot);
    // A late reading leaves the restored current state alone: what it shows is historical (L2 then), L1 merges into the live alert.
    expect(run(second, [alarm(10, 99)]).map((x) => `${x.type} ${x.condition} ${x.late}`)).toEqual(['raise GAS_ALARM_L2 true', 'clear GAS_ALARM_L2 true']);
    const events = run(second, [alarm(60, 0), alarm(90, 0)]);
    expect(events.map((x) => `${x.type} ${x.condition}`)).toEqual(['clear GAS_ALARM_L1']);
  });

  it('refuses a snapshot whose detector state does not fit its schema, starting that detector afresh', () => {
    const e = engine();
    e.restoreDevice({ deviceId: 'DEV-1', kind: 'home_gas_alarm', gatewayId: 'GW-1', lastAtMs: 0, lastHeardAtMs: 0, active: [], detectors: { 'gas-alarm': { l1: 'garbage' } } });
    expect(run(e, [alarm(0, 30)]).map((x) => x.condition)).toEqual(['GAS_ALARM_L1']);
  });
});
