import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { textProblem } from '../contracts/safe-json.ts';
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

describe('issue 13: text and depth are made safe at the edge', () => {
  /** `{"a":{"a":…}}` as JSON text, `depth` objects deep: built as text, JSON.stringify would overflow. */
  const deepJson = (depth: number, open = '{"a":', close = '}') => `${open.repeat(depth)}1${close.repeat(depth)}`;
  const withReading = (readingJson: string) => `{"gatewayId":"GW-1","seq":1,"sentAt":"2026-11-22T08:00:00.000Z","readings":[${JSON.stringify(meter('HM-A'))},${readingJson},${JSON.stringify(meter('HM-B'))}]}`;

  it('issue 13 #1: a NUL in vendor is refused at the edge (unsafe_text) and the other readings of the batch go on', () => {
    const result = decode(batch([meter('HM-A'), meter('HM-X', { vendor: 'mei\u0000hua' }), meter('HM-B')]));
    expect(result.batch?.readings.map((r) => r.deviceId)).toEqual(['HM-A', 'HM-B']);
    expect(result.rejects).toHaveLength(1);
    expect(result.rejects[0]).toMatchObject({ reason: 'unsafe_text', deviceId: 'HM-X', message: 'readings[1]/vendor contains NUL (U+0000) at 3' });
    // The dead letter keeps the evidence escaped, never the NUL itself.
    expect(result.rejects[0]!.payload).not.toContain('\u0000');
    expect(result.rejects[0]!.payload).toContain('mei\\u0000hua');
  });

  it('issue 13 #1: a lone UTF-16 surrogate in a status token is refused alone', () => {
    // As a gateway sends it: a JSON escape that decodes to half a surrogate pair.
    const result = decode(withReading('{"deviceId":"HM-X","kind":"household_meter","at":"2026-11-22T07:59:58.000Z","status":["ERR-3","\\ud800"]}'));
    expect(result.batch?.readings.map((r) => r.deviceId)).toEqual(['HM-A', 'HM-B']);
    expect(result.rejects[0]).toMatchObject({ reason: 'unsafe_text', message: 'readings[1]/status/1 contains a lone surrogate (U+D800) at 0' });
    expect(textProblem(result.rejects[0]!.payload)).toBeUndefined();
  });

  it.each([
    { name: 'a control character in an unknown field', extra: { note: 'a\u001B[2Jb' }, reason: 'unsafe_text', says: '/note contains a control character (U+001B)' },
    { name: 'NUL in a key', extra: { 'x\u0000': 1 }, reason: 'unsafe_text', says: 'has a key that contains NUL' },
    { name: 'an unknown field longer than maxStringChars', extra: { note: 'x'.repeat(1025) }, reason: 'bad_reading', says: '/note is longer than 1024 characters' },
    { name: 'NUL in the device id', extra: { deviceId: 'HM\u0000' }, reason: 'unsafe_text', says: '/deviceId' },
  ])('refuses $name alone ($reason)', ({ extra, reason, says }) => {
    const result = decode(batch([meter('HM-A'), meter('HM-X', extra), meter('HM-B')]));
    expect(result.batch?.readings.map((r) => r.deviceId)).toEqual(['HM-A', 'HM-B']);
    expect(result.rejects[0]).toMatchObject({ reason });
    expect(result.rejects[0]!.message).toContain(says);
    expect(result.rejects[0]!.deviceId === undefined || result.rejects[0]!.deviceId === 'HM-X').toBe(true);
  });

  it('lets tabs and line breaks, Chinese tokens and surrogate pairs through', () => {
    const result = decode(batch([meter('HM-A', { status: ['故障', '关阀', 'ERR-4'], note: 'line\none\ttab 😀' })]));
    expect(result.rejects).toEqual([]);
  });

  it('issue 13 #4: a reading nested 5,000 levels deep is refused as too_deep (not thrown), counted alone, and its batch goes on', () => {
    for (const readingJson of [
      `{"deviceId":"HM-X","kind":"household_meter","at":"2026-11-22T07:59:58.000Z","extra":${deepJson(5000)}}`,
      // The schema check recursed into this one and overflowed the stack.
      `{"deviceId":"HM-X","kind":"household_meter","at":"2026-11-22T07:59:58.000Z","status":${deepJson(5000, '[', ']')}}`,
      deepJson(5000),
    ]) {
      const result = decode(withReading(readingJson));
      expect(result.batch?.readings.map((r) => r.deviceId)).toEqual(['HM-A', 'HM-B']);
      expect(result.rejects).toHaveLength(1);
      expect(result.rejects[0]).toMatchObject({ reason: 'too_deep', gatewayId: 'GW-1' });
      expect(result.rejects[0]!.message).toMatch(/^readings\[1\]\/\S* is nested deeper than 16 levels$/);
      expect(result.rejects[0]!.payload.length).toBeLessThan(2100);
    }
  });

  it('keeps a reading at the depth bound: 16 levels from the batch down', () => {
    // batch (1) → readings (2) → reading (3) → extra: 13 more levels.
    const result = decode(withReading(`{"deviceId":"HM-X","kind":"household_meter","at":"2026-11-22T07:59:58.000Z","extra":${deepJson(13)}}`));
    expect(result.rejects).toEqual([]);
    const over = decode(withReading(`{"deviceId":"HM-X","kind":"household_meter","at":"2026-11-22T07:59:58.000Z","extra":${deepJson(14)}}`));
    expect(over.rejects[0]).toMatchObject({ reason: 'too_deep' });
  });

  it.each([
    { name: 'a deep field beside the readings', topic: 'gas/v1/GW-1/up', body: `{"gatewayId":"GW-1","seq":1,"sentAt":"2026-11-22T08:00:00.000Z","readings":[${JSON.stringify(meter('HM-A'))}],"x":${deepJson(5000)}}`, reason: 'too_deep' },
    { name: 'a whole message nested 100,000 deep', topic: 'gas/v1/GW-1/up', body: deepJson(100_000, '[', ']'), reason: 'too_deep' },
    { name: 'a deep gateway status', topic: 'gas/v1/GW-1/status', body: `{"online":true,"x":${deepJson(5000)}}`, reason: 'too_deep' },
    { name: 'NUL beside the readings', topic: 'gas/v1/GW-1/up', body: JSON.stringify(batch([meter('HM-A')], { firmware: 'v1\u0000' })), reason: 'unsafe_text' },
  ])('refuses a message with $name as $reason', ({ topic, body, reason }) => {
    const result = decoder.decode(topic, Buffer.from(body), NOW);
    expect(result.batch).toBeUndefined();
    expect(result.status).toBeUndefined();
    expect(result.rejects).toEqual([expect.objectContaining({ reason, gatewayId: 'GW-1' })]);
  });

  it('keeps a raw NUL of a refused message escaped in its dead letter', () => {
    const result = decoder.decode('gas/v1/GW-1/up', Buffer.from('{"gatewayId":\u0000'), NOW);
    expect(result.rejects[0]).toMatchObject({ reason: 'not_json' });
    expect(result.rejects[0]!.payload).toBe('{"gatewayId":\\u0000');
  });
});
