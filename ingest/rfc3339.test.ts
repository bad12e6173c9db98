import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../simulators/fleet.ts';
import { DateTimeFormat, parseRfc3339 } from './rfc3339.ts';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv();
addFormats(ajv, ['date-time']);
const ajvDateTime = ajv.compile({ type: 'string', format: 'date-time' });

describe('parseRfc3339', () => {
  it('gives the epoch ms Date.parse gives for valid date-times', () => {
    for (const s of ['2026-11-22T08:00:00Z', '2026-11-22t08:00:00.123z', '2026-11-22T08:00:00+08:00', '2026-11-22T08:00:00+0800', '2026-11-22T08:00:00-05', '2024-02-29T23:59:59.9999Z', '2026-11-22 08:00:00Z', '1970-01-01T00:00:00.5Z']) {
      expect(parseRfc3339(s), s).toBe(Date.parse(s.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00')));
    }
  });

  it('refuses what Date.parse lets through: 31 February, 29 February outside leap years', () => {
    expect(parseRfc3339('2026-02-31T00:00:00Z')).toBeNaN();
    expect(parseRfc3339('2026-02-29T00:00:00Z')).toBeNaN();
    expect(parseRfc3339('1900-02-29T00:00:00Z')).toBeNaN();
    expect(parseRfc3339('2000-02-29T00:00:00Z')).toBe(Date.parse('2000-02-29T00:00:00Z'));
  });

  it('takes a leap second only at 23:59:60 UTC', () => {
    expect(parseRfc3339('2016-12-31T23:59:60Z')).toBe(Date.parse('2017-01-01T00:00:00Z'));
    expect(parseRfc3339('2017-01-01T07:59:60+08:00')).toBe(Date.parse('2017-01-01T00:00:00Z'));
    expect(parseRfc3339('2016-12-31T22:59:60Z')).toBeNaN();
  });

  it('reads years before 100 as themselves, not as 19xx', () => {
    expect(new Date(parseRfc3339('0050-06-01T00:00:00Z')).getUTCFullYear()).toBe(50);
  });

  it('accepts exactly what ajv-formats accepts, over 200,000 mutated date-times', () => {
    const random = mulberry32(3339);
    const alphabet = '0123456789-:.TtZz+ \u00a0x';
    const seeds = ['2026-11-22T08:00:00Z', '2026-02-28T23:59:59.123+08:00', '2024-02-29t00:00:00z', '2026-12-31T23:59:60Z', '2026-01-01T00:00:00-0530', '2026-06-30 12:30:45.5+01'];
    let disagreements = 0;
    const examples: string[] = [];
    for (let n = 0; n < 200_000; n++) {
      let s = seeds[n % seeds.length]!;
      const edits = 1 + Math.floor(random() * 3);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * (s.length + 1));
        const ch = alphabet[Math.floor(random() * alphabet.length)]!;
        const op = random();
        s = op < 0.5 ? s.slice(0, at) + ch + s.slice(at + 1) : op < 0.75 ? s.slice(0, at) + ch + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
      }
      // ajv-formats judges out-of-range hour or minute fields by their UTC sum (it takes 23:60:00+00:01);
      // those are not date-times and are refused here.
      const time = /[tT\s](\d\d):(\d\d):/.exec(s);
      if (time && (Number(time[1]) > 23 || Number(time[2]) > 59)) continue;
      if (ajvDateTime(s) !== !Number.isNaN(parseRfc3339(s))) {
        disagreements++;
        if (examples.length < 5) examples.push(s);
      }
    }
    expect(examples).toEqual([]);
    expect(disagreements).toBe(0);
  });
});

describe('DateTimeFormat', () => {
  it('parses the value the schema just checked only once', () => {
    const format = new DateTimeFormat();
    expect(format.validate('2026-11-22T08:00:00Z')).toBe(true);
    expect(format.parse('2026-11-22T08:00:00Z')).toBe(Date.parse('2026-11-22T08:00:00Z'));
    expect(format.validate('2026-02-31T08:00:00Z')).toBe(false);
    expect(format.parse('2026-02-31T08:00:00Z')).toBeNaN();
  });
});
