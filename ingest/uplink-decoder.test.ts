import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { DecoderOptionsSchema, UplinkDecoder } from './uplink-decoder.ts';

const NOW = Date.parse('2026-11-22T08:00:00.000Z');
const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as never);
const meter = (deviceId: string, extra: Record<string, unknown> = {}) => ({ deviceId, kind: 'household_meter', at: '2026-11-22T07:59:58.000Z', volumeM3: 12.5, batteryV: 3.6, valve: 'open', ...extra });
const batch = (readings: unknown[], extra: Record<string, unknown> = {}) => ({ gatewayId: 'GW-1', seq: 1, sentAt: '2026-11-22T08:00:00.000Z', readings, ...extra });
const decode = (body: unknown, topic = 'gas/v1/GW-1/up') => decoder.decode(topic, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), NOW);

describe('UplinkDecoder', () => {
  it('accepts a v1 batch exactly as the contract writes it and stamps device and arrival times', () => {
    const result = decode(batch([meter('HM-1', { status: ['ERR-3'] }), { deviceId: 'HA-1', kind: 'home_gas_alarm', at: '2026-11-22T07:59:59.000Z', lelPct: 3, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', valve: 'open' }]));
    expect(result.rejects).toEqual([]);
    expect(result.batch?.readings).toHaveLength(2);
    expect(result.batch?.readings[0]).toMatchObject({ deviceId: 'HM-1', gatewayId: 'GW-1', atMs: Date.parse('2026-11-22T07:59:58.000Z'), receivedAtMs: NOW, status: ['ERR-3'] });
  });

  it('null in an optional field rejects the whole reading — no more: null means not reported, and the 55 %LEL channel beside it is kept', () => {
    const controller = {
      deviceId: 'AC-1', kind: 'alarm_controller', at: '2026-11-22T07:59:59.000Z', vendor: null, status: null,
      detectors: [{ channel: 1, lelPct: 55, status: null }, { channel: 2, lelPct: null }],
    };
    const result = decode(batch([controller, meter('HM-1', { batteryV: null, status: null })]));
    expect(result.rejects).toEqual([]);
    const [ac, hm] = result.batch!.readings as unknown as Array<Record<string, unknown>>;
    expect(ac).not.toHaveProperty('status');
    expect(ac).not.toHaveProperty('vendor');
    // Channel 1 reports 55 %LEL; channel 2's null keeps its meaning: the detector is offline (--F).
    expect(ac!.detectors).toEqual([{ channel: 1, lelPct: 55 }, { channel: 2, lelPct: null }]);
    expect(hm).not.toHaveProperty('batteryV');
    // A required field sent as null is missing, and said so.
    const missing = decode(batch([meter('HM-2', { deviceId: null })]));
    expect(missing.rejects[0]).toMatchObject({ reason: 'bad_reading' });
    expect(missing.rejects[0]!.message).toContain('deviceId');
  });

  it('decodes the retained gateway status', () => {
    expect(decode({ online: false }, 'gas/v1/GW-1/status')).toEqual({ status: { gatewayId: 'GW-1', online: false, receivedAtMs: NOW }, rejects: [] });
  });

  it('keeps unknown optional fields (the contract may grow)', () => {
    const result = decode(batch([meter('HM-1', { signalDbm: -80 })]));
    expect(result.batch?.readings[0]).toMatchObject({ signalDbm: -80 });
  });

  it.each([
    { name: 'not JSON', body: '{"gatewayId": "GW-1", ', reason: 'not_json' },
    { name: 'wrong shape', body: { gatewayId: 'GW-1', readings: [] }, reason: 'bad_shape' },
    { name: 'seq not an integer', body: batch([meter('HM-1')], { seq: 'one' }), reason: 'bad_shape' },
    { name: 'empty batch', body: batch([]), reason: 'bad_shape' },
    { name: 'body gateway differs from topic', body: batch([meter('HM-1')], { gatewayId: 'GW-2' }), reason: 'gateway_mismatch' },
    { name: 'more than 5000 readings', body: batch(Array.from({ length: 5001 }, (_, i) => meter(`HM-${i}`))), reason: 'too_many_readings' },
    { name: 'status not a boolean', body: { online: 'yes' }, topic: 'gas/v1/GW-1/status', reason: 'bad_shape' },
    { name: 'topic outside the contract', body: batch([meter('HM-1')]), topic: 'gas/v1/GW 1/up', reason: 'bad_topic' },
  ])('rejects a message: $name', ({ body, topic, reason }) => {
    const result = decode(body, topic);
    expect(result.batch).toBeUndefined();
    expect(result.rejects).toHaveLength(1);
    expect(result.rejects[0]).toMatchObject({ reason });
    expect(result.rejects[0]!.message.length).toBeGreaterThan(10);
  });

  it('rejects an oversize payload before parsing it', () => {
    const result = decoder.decode('gas/v1/GW-1/up', Buffer.alloc(3 * 1024 * 1024, 0x20), NOW);
    expect(result.rejects[0]).toMatchObject({ reason: 'oversize' });
    expect(result.rejects[0]!.payload.length).toBeLessThanOrEqual(2049);
  });

  it.each([
    { name: 'unknown kind', reading: { ...meter('X-1'), kind: 'water_meter' }, reason: 'unknown_kind' },
    { name: 'wrong type', reading: meter('HM-2', { batteryV: 'low' }), reason: 'bad_reading' },
    { name: 'wrong unit (LEL over 100 %)', reading: { deviceId: 'HA-1', kind: 'home_gas_alarm', at: '2026-11-22T07:59:59.000Z', lelPct: 250 }, reason: 'bad_reading' },
    { name: 'bad device id', reading: meter('HM 3'), reason: 'bad_reading' },
    { name: 'missing time', reading: { deviceId: 'HM-4', kind: 'household_meter' }, reason: 'bad_reading' },
    { name: 'far future', reading: meter('HM-5', { at: '2027-11-22T08:00:00.000Z' }), reason: 'timestamp_out_of_range' },
    { name: 'far past', reading: meter('HM-6', { at: '2020-01-01T00:00:00.000Z' }), reason: 'timestamp_out_of_range' },
    { name: 'not an object', reading: 42, reason: 'unknown_kind' },
  ])('rejects one bad reading ($name) and keeps the good ones of its batch', ({ reading, reason }) => {
    const result = decode(batch([meter('HM-A'), reading, meter('HM-B')]));
    expect(result.batch?.readings.map((r) => r.deviceId)).toEqual(['HM-A', 'HM-B']);
    expect(result.rejects).toHaveLength(1);
    expect(result.rejects[0]).toMatchObject({ reason, gatewayId: 'GW-1' });
  });

  it('names the offending field in the reason text', () => {
    const result = decode(batch([meter('HM-2', { batteryV: 'low' })]));
    expect(result.rejects[0]!.message).toContain('batteryV');
  });
});
