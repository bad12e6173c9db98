import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import { DecoderOptionsSchema, UplinkDecoder } from '../../ingest/uplink-decoder.ts';
import { DETECTORS } from '../../processors/detectors/registry.ts';
import { DeviceEngine } from '../../processors/device-engine.ts';
import { RegistryProfiles } from '../../processors/device-profile.ts';
import { parseSettings } from '../../processors/settings.ts';
import { DeviceRegistry } from '../../registry/device-registry.ts';
import { City, type CityOptions } from './city.ts';
import { FAULT_BY_NAME, FAULTS } from './faults.ts';
import { ReportSchedule } from './schedule.ts';
import { Shard, type ShardOptions } from './shard.ts';

/** Enough devices that every fault of the mix appears (linked alarms are a share of a share). */
const CITY: CityOptions = { meters: 3_000, gateways: 30, seed: 11, faultShare: 0.25, hourlyMeters: false };
const MINUTE = Date.UTC(2026, 10, 21, 16, 0);

/** The pipeline's judging path: the v1 decoder, then the engine with every registered detector and the city's registry. */
function pipeline(city: City) {
  const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as never);
  const registry = new DeviceRegistry(Array.from({ length: city.meters }, (_, i) => city.record(i)));
  const detectors = DETECTORS.map((definition) => ({ definition, settings: parseSettings(definition, {}) }));
  const engine = new DeviceEngine(detectors, new RegistryProfiles(registry), { onJudged() {} });
  const raised = new Set<string>();
  let judged = 0;
  return {
    raised,
    get judged() {
      return judged;
    },
    judge(payload: Buffer, receivedAtMs: number) {
      const { batch, rejects } = decoder.decode(`gas/v1/${JSON.parse(payload.toString()).gatewayId}/up`, payload, receivedAtMs);
      expect(rejects).toEqual([]);
      const out: AlertEvent[] = [];
      engine.process(batch!.readings, out);
      judged += batch!.readings.length;
      for (const e of out) {
        expect(e.type).toBe('raise');
        raised.add(`${e.subjectId} ${e.condition}`);
      }
    },
    judgeReadings(readings: Reading[]) {
      const out: AlertEvent[] = [];
      engine.process(readings, out);
      for (const e of out) raised.add(`${e.subjectId} ${e.condition}`);
    },
  };
}

function expectedAlerts(city: City): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < city.meters; i++) {
    const fault = city.faultOf(i);
    if (fault) for (const c of FAULT_BY_NAME.get(fault)!.conditions) out.add(`${city.deviceId(i)} ${c}`);
  }
  return out;
}

describe('the fault mix', () => {
  const city = new City(CITY);

  it('gives every fault of the mix to some device, and most devices none', () => {
    const given = new Map<string, number>();
    for (let i = 0; i < city.meters; i++) {
      const f = city.faultOf(i);
      if (f) given.set(f, (given.get(f) ?? 0) + 1);
    }
    for (const f of FAULTS) expect(given.get(f.name) ?? 0, f.name).toBeGreaterThan(0);
    const faulty = [...given.values()].reduce((a, b) => a + b, 0);
    expect(faulty / city.meters).toBeGreaterThan(0.2);
    expect(faulty / city.meters).toBeLessThan(0.3);
  });

  it('raises exactly the listed alerts when the burst goes through the detectors, and nothing on healthy devices', () => {
    const judge = pipeline(city);
    const options: ShardOptions = {
      city: CITY, mode: 'burst', url: 'mqtt://127.0.0.1:1', shard: 0, shards: 1, batch: 100, window: 1, seqStart: 1, connectConcurrency: 1,
      link: { ackTimeoutMs: 1000, retryMinMs: 10, retryMaxMs: 100, maxAttempts: 1 },
      burstMinuteMs: MINUTE,
      schedule: { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60, startMs: 0, endMs: 0, speed: 1, uploadS: 30, tickMs: 100 },
    };
    const shard = new Shard(options);
    const prepared = shard.prepare();
    for (const g of shard.preparedPayloads()) for (const p of g.payloads) judge.judge(p, MINUTE + 120_000);
    expect(judge.judged).toBe(prepared);
    expect([...judge.raised].sort()).toEqual([...expectedAlerts(city)].sort());
  });

  it('raises the same alerts, and nothing else, over two hours of the schedule', () => {
    const judge = pipeline(city);
    const schedule = new ReportSchedule(city, Array.from({ length: city.meters }, (_, i) => i), { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60 });
    // Across two midnights of meter reads, so self-metering meters show their pair.
    const readings: Array<[number, number]> = [];
    schedule.due(MINUTE - 3_600_000, MINUTE + 3_600_000, (i, at) => readings.push([i, at]));
    schedule.due(MINUTE + 86_400_000 - 60_000, MINUTE + 86_400_000 + 120_000, (i, at) => readings.push([i, at]));
    // A gateway's readings reach the pipeline in time order.
    readings.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const shard = new Shard({
      city: CITY, mode: 'schedule', url: 'mqtt://127.0.0.1:1', shard: 0, shards: 1, batch: 100, window: 1, seqStart: 1, connectConcurrency: 1,
      link: { ackTimeoutMs: 1000, retryMinMs: 10, retryMaxMs: 100, maxAttempts: 1 }, burstMinuteMs: 0,
      schedule: { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60, startMs: 0, endMs: 0, speed: 1, uploadS: 30, tickMs: 100 },
    });
    const batch: Reading[] = readings.map(([i, atMs]) => ({ ...shard.readings.reading(i, atMs), atMs, gatewayId: `GW-${String(city.gatewayOf(i) + 1).padStart(6, '0')}`, receivedAtMs: atMs }) as Reading);
    judge.judgeReadings(batch);
    expect([...judge.raised].sort()).toEqual([...expectedAlerts(city)].sort());
  });
});
