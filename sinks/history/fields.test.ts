import { describe, expect, it } from 'vitest';
import { DEVICE_KINDS, type Reading } from '../../contracts/messages.ts';
import { HISTORY_FIELDS, KIND_EXTRACT, KIND_FIELDS } from './fields.ts';

/** A reading carrying every charted field, each a different number (field i is 10 + i). */
function everyField(kind: Reading['kind']): Reading {
  const reading: Record<string, unknown> = { deviceId: 'D-1', kind, at: '', atMs: 0, gatewayId: 'GW-1', receivedAtMs: 0 };
  HISTORY_FIELDS.forEach((field, i) => (reading[field] = 10 + i));
  if (kind === 'alarm_controller') reading.detectors = [{ channel: 1, lelPct: 7 }, { channel: 2, lelPct: null }, { channel: 3, lelPct: 31 }];
  return reading as unknown as Reading;
}

describe('KIND_EXTRACT', () => {
  it.each(DEVICE_KINDS)('writes the %s fields in KIND_FIELDS order', (kind) => {
    const out = new Float64Array(8).fill(-1);
    KIND_EXTRACT[kind](everyField(kind), out);
    const expected = KIND_FIELDS[kind].map((field) => (kind === 'alarm_controller' && field === 'lelPct' ? 31 : 10 + HISTORY_FIELDS.indexOf(field)));
    expect([...out.subarray(0, expected.length)]).toEqual(expected);
    // Nothing past the kind's fields is touched.
    expect([...out.subarray(expected.length)].every((v) => v === -1)).toBe(true);
  });

  it.each(DEVICE_KINDS)('writes NaN for every %s field the reading does not carry, or carries as no number', (kind) => {
    const out = new Float64Array(8);
    KIND_EXTRACT[kind]({ deviceId: 'D-1', kind, at: '', atMs: 0, gatewayId: 'GW-1', receivedAtMs: 0, volumeM3: Number.POSITIVE_INFINITY, detectors: kind === 'alarm_controller' ? [{ channel: 1, lelPct: null }] : undefined }, out);
    expect([...out.subarray(0, KIND_FIELDS[kind].length)].every(Number.isNaN)).toBe(true);
  });
});
