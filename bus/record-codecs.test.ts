import { describe, expect, it } from 'vitest';
import type { Reading } from '../contracts/messages.ts';
import { COMPACT_READINGS_FORMAT } from './compact-readings.ts';
import { joinReadingRecords, jsonRecords, readingRecords, URGENT_HEADER } from './record-codecs.ts';

const reading = (deviceId: string, gatewayId: string, receivedAtMs: number, volumeM3: number): Reading => ({
  deviceId,
  kind: 'household_meter',
  at: '2026-12-06T08:00:00.000Z',
  atMs: Date.parse('2026-12-06T08:00:00.000Z'),
  gatewayId,
  receivedAtMs,
  volumeM3,
});

// Two partitions: devices ending in an even digit in 0, odd in 1.
const partitionOf = (deviceId: string) => Number(deviceId.at(-1)) % 2;

function decodeAll(records: ReturnType<ReturnType<typeof readingRecords>['encode']>): Reading[] {
  const codec = readingRecords(partitionOf);
  const out: Reading[] = [];
  for (const r of records) codec.decode(Buffer.from(r.value as string), out);
  return out;
}

describe('readingRecords', () => {
  it('writes a publish’s readings as one record per partition, in order, and reads them back whole', () => {
    const batch = ['M-1', 'M-2', 'M-3', 'M-4', 'M-1'].map((id, i) => reading(id, 'GW-1', 1000, i));
    const records = readingRecords(partitionOf).encode(batch);
    expect(records.map((r) => r.partition)).toEqual([1, 0]);
    expect(records.every((r) => r.key === null)).toBe(true);
    const back = decodeAll(records);
    expect(back).toEqual([batch[0], batch[2], batch[4], batch[1], batch[3]]);
  });

  it('keeps readings of several gateways in one record per partition', () => {
    const batch = [reading('M-1', 'GW-1', 1000, 1), reading('M-3', 'GW-2', 1000, 2), reading('M-5', 'GW-1', 2000, 3)];
    const records = readingRecords(partitionOf).encode(batch);
    expect(records).toHaveLength(1);
    expect(decodeAll(records)).toEqual(batch);
  });

  it('writes the compact form, marks a record that may raise a gas alarm, and still reads records written as JSON', () => {
    const batch = ['M-1', 'M-2', 'M-3'].map((id, i) => reading(id, 'GW-1', 1000, i));
    const codec = readingRecords(partitionOf, (readings) => readings.some((r) => r.volumeM3 === 1));
    const records = codec.encode(batch);
    expect(records.map((r) => (r.value as Buffer)[0])).toEqual([COMPACT_READINGS_FORMAT, COMPACT_READINGS_FORMAT]);
    expect(records.map((r) => [r.partition, r.headers?.[URGENT_HEADER]])).toEqual([[1, undefined], [0, '1']]);
    const out: Reading[] = [];
    expect(codec.decode(Buffer.from(JSON.stringify(batch)), out)).toBe(3);
    expect(out).toEqual(batch);
  });

  it('reads a lone reading as written before batching, and refuses a record that is not JSON', () => {
    const out: Reading[] = [];
    const codec = readingRecords(partitionOf);
    expect(codec.decode(Buffer.from(JSON.stringify(reading('M-1', 'GW-1', 5, 1))), out)).toBe(1);
    expect(out[0]).toEqual(reading('M-1', 'GW-1', 5, 1));
    expect(() => codec.decode(Buffer.from('not json'), out)).toThrow();
    expect(out).toHaveLength(1);
  });
});

describe('joinReadingRecords', () => {
  it('joins the compact records of a partition into one, in order, urgent if one was; a JSON record ends the join', () => {
    const codec = readingRecords(partitionOf, (readings) => readings.some((r) => r.volumeM3 === 99));
    const publishes = [['M-1', 'M-2'], ['M-3'], ['M-4', 'M-5'], ['M-7']].map((ids, p) => ids.map((id) => reading(id, `GW-${p}`, 1000, p === 3 ? 99 : p)));
    const records = publishes.flatMap((batch) => codec.encode(batch));
    const json = { partition: 0, key: null, value: JSON.stringify([reading('M-6', 'GW-9', 1000, 6)]) };
    const later = codec.encode([reading('M-8', 'GW-9', 1000, 8)]);
    const joined = joinReadingRecords([...records, json, ...later]);
    // Partition 1 (odd): M-1, M-3, M-5, M-7 in one record, urgent through M-7; partition 0: M-2 and M-4, the JSON record, then M-8.
    expect(joined.map((r) => [r.partition, r.headers?.[URGENT_HEADER]])).toEqual([[1, '1'], [0, undefined], [0, undefined], [0, undefined]]);
    const contents = joined.map((r) => {
      const out: Reading[] = [];
      codec.decode(Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as string), out);
      return out.map((x) => x.deviceId);
    });
    expect(contents).toEqual([['M-1', 'M-3', 'M-5', 'M-7'], ['M-2', 'M-4'], ['M-6'], ['M-8']]);
  });

  it('leaves a lone record and keyed records as they are', () => {
    const one = readingRecords(partitionOf).encode([reading('M-1', 'GW-1', 1000, 1)]);
    expect(joinReadingRecords(one)).toBe(one);
    const keyed = [{ key: 'a', value: 'x' }, { key: 'b', value: 'y' }];
    expect(joinReadingRecords(keyed)).toEqual(keyed);
  });
});

describe('jsonRecords', () => {
  it('writes one keyed record per message', () => {
    const codec = jsonRecords((m: { id: string }) => m.id);
    const records = codec.encode([{ id: 'a' }, { id: 'b' }]);
    expect(records.map((r) => r.key)).toEqual(['a', 'b']);
    const out: Array<{ id: string }> = [];
    expect(codec.decode(Buffer.from(records[1]!.value as string), out)).toBe(1);
    expect(out).toEqual([{ id: 'b' }]);
  });
});
