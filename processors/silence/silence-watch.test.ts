import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import { DeviceEngine } from '../device-engine.ts';
import { resolveProfile } from '../device-profile.ts';
import { type SilenceSettings, SilenceSettingsSchema, SilenceWatch } from './silence-watch.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const S = 1000;

function setup(settings: Partial<SilenceSettings> = {}) {
  const engine = new DeviceEngine([], { profileOf: (id) => resolveProfile({ deviceId: id, kind: 'home_gas_alarm', reportIntervalS: 30 }) }, { onJudged() {} });
  const watch = new SilenceWatch(engine, Value.Default(SilenceSettingsSchema, settings) as never);
  const feed = (atMs: number, gatewayId: string, ...deviceIds: string[]): AlertEvent[] => {
    const readings: Reading[] = deviceIds.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId, at: new Date(atMs).toISOString(), atMs, receivedAtMs: atMs, lelPct: 0 }));
    const out: AlertEvent[] = [];
    watch.onReadings(readings, out);
    engine.process(readings, out);
    return out;
  };
  const check = (atMs: number): AlertEvent[] => {
    const out: AlertEvent[] = [];
    watch.check(atMs, out);
    return out;
  };
  return { engine, watch, feed, check };
}

const edges = (events: AlertEvent[]) => events.map((e) => `${e.type} ${e.condition} ${e.subjectId}`);

describe('SilenceWatch', () => {
  it('raises NO_SIGNAL once a device misses three expected reports, and clears it when it speaks', () => {
    const { feed, check } = setup();
    for (let t = 0; t <= 300; t += 30) feed(T0 + t * S, 'GW-1', 'HA-1', ...(t <= 60 ? ['HA-2'] : []));
    check(T0 + 100 * S); // first check learns the gateway's interval
    expect(edges(check(T0 + 151 * S))).toEqual(['raise NO_SIGNAL HA-2']);
    expect(check(T0 + 300 * S)).toEqual([]);
    expect(edges(feed(T0 + 310 * S, 'GW-1', 'HA-2'))).toEqual(['clear NO_SIGNAL HA-2']);
  });

  it("folds a gateway's silent devices into one GATEWAY_OFFLINE when its last will fires and it stays away", () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1', 'HA-2', 'HA-3');
    check(T0 + 10 * S);
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 20 * S }, out);
    expect(out).toEqual([]);
    expect(check(T0 + 79 * S)).toEqual([]);
    const raised = check(T0 + 80 * S);
    expect(edges(raised)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
    expect(raised[0]!.atMs).toBe(T0 + 20 * S);
    expect(raised[0]!.detail).toMatchObject({ reason: 'last_will', deviceCount: 3, devices: ['HA-1', 'HA-2', 'HA-3'] });
    expect(check(T0 + 600 * S)).toEqual([]);
    const back: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: true, receivedAtMs: T0 + 610 * S }, back);
    expect(edges(back)).toEqual(['clear GATEWAY_OFFLINE GW-1']);
    // Devices get a full silence window from the gateway's return before NO_SIGNAL.
    expect(check(T0 + 690 * S)).toEqual([]);
    expect(edges(feed(T0 + 640 * S, 'GW-1', 'HA-1', 'HA-2', 'HA-3'))).toEqual([]);
  });

  it('pages nobody for a gateway back within the last-will grace (a cellular blip, a broker restart)', () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 10 * S }, out);
    watch.onStatus({ gatewayId: 'GW-1', online: true, receivedAtMs: T0 + 12 * S }, out);
    expect(out).toEqual([]);
    expect(check(T0 + 75 * S)).toEqual([]);
  });

  it('raises a last will at once with a grace of 0', () => {
    const { feed, watch } = setup({ lastWillGraceMs: 0 });
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + S }, out);
    expect(edges(out)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
  });

  it('raises GATEWAY_OFFLINE for a gateway gone silent without a last will, and clears on its next batch', () => {
    const { feed, check } = setup();
    for (let t = 0; t <= 60; t += 30) feed(T0 + t * S, 'GW-1', 'HA-1');
    check(T0 + 61 * S);
    expect(check(T0 + 150 * S)).toEqual([]);
    const raised = check(T0 + 161 * S);
    expect(edges(raised)).toEqual(['raise GATEWAY_OFFLINE GW-1']);
    expect(raised[0]!.detail).toMatchObject({ reason: 'silent' });
    expect(edges(feed(T0 + 200 * S, 'GW-1', 'HA-1'))).toEqual(['clear GATEWAY_OFFLINE GW-1']);
  });

  it('repeats nothing for a last will delivered twice (retained message on reconnect)', () => {
    const { feed, check, watch } = setup();
    feed(T0, 'GW-1', 'HA-1');
    const out: AlertEvent[] = [];
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + S }, out);
    watch.onStatus({ gatewayId: 'GW-1', online: false, receivedAtMs: T0 + 2 * S }, out);
    expect(edges([...out, ...check(T0 + 61 * S), ...check(T0 + 62 * S)])).toEqual(['raise GATEWAY_OFFLINE GW-1']);
  });
});
