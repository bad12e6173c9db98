/**
 * RFC 3339 date-times (`format: date-time` in the v1 schema), checked and turned into epoch ms in
 * one pass over the characters. Every reading carries one, so this replaces ajv-formats' checker,
 * which splits the string and runs two capturing regexes per value, and `Date.parse`, which accepts
 * 31 February. Same acceptance as ajv-formats' full `date-time`: `T`, `t` or a space between date
 * and time, fraction of any length, `Z`/`z` or an offset (`+08:00`, `+0800`, `+08`) required, and
 * 23:59:60 only where it is 23:59:60 in UTC (a leap second).
 */

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;

function digit(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/** Two digits at `i` as a number, or -1. */
function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

/** Epoch ms of an RFC 3339 date-time, or NaN when `s` is not one. */
export function parseRfc3339(s: string): number {
  if (s.length < 20) return Number.NaN;
  const y1 = two(s, 0);
  const y2 = two(s, 2);
  const month = two(s, 5);
  const day = two(s, 8);
  if (y1 < 0 || y2 < 0 || month < 1 || month > 12 || day < 1 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return Number.NaN;
  const year = y1 * 100 + y2;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!)) return Number.NaN;
  const sep = s.charCodeAt(10);
  // T, t, or whitespace (ajv-formats splits on /t|\s/i).
  if (sep !== 84 && sep !== 116 && !/\s/.test(s[10]!)) return Number.NaN;

  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  if (hour < 0 || minute < 0 || second < 0 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return Number.NaN;

  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    i++;
    const start = i;
    let scale = 100;
    for (let d = digit(s, i); d >= 0; d = digit(s, ++i)) {
      ms += d * scale;
      scale /= 10;
    }
    if (i === start) return Number.NaN;
    ms = Math.floor(ms);
  }

  let offsetMin = 0;
  const tz = s.charCodeAt(i);
  if (tz === 90 || tz === 122) {
    i++;
  } else if (tz === 43 || tz === 45) {
    const oh = two(s, i + 1);
    if (oh < 0 || oh > 23) return Number.NaN;
    i += 3;
    let om = 0;
    if (i < s.length) {
      if (s.charCodeAt(i) === 58) i++;
      om = two(s, i);
      if (om < 0 || om > 59) return Number.NaN;
      i += 2;
    }
    offsetMin = (tz === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return Number.NaN;
  }
  if (i !== s.length) return Number.NaN;

  if (hour > 23 || minute > 59 || second > 59) {
    // Only a leap second: 23:59:60 in UTC.
    const utcMinute = hour * 60 + minute - offsetMin;
    const inDay = ((utcMinute % 1440) + 1440) % 1440;
    if (second !== 60 || inDay !== 23 * 60 + 59) return Number.NaN;
  }
  // Date.UTC reads years 0–99 as 1900–1999: shift such a year by one 400-year Gregorian cycle.
  const epochMs = year < 100 ? Date.UTC(year + 400, month - 1, day, hour, minute, second, ms) - GREGORIAN_CYCLE_MS : Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return epochMs - offsetMin * 60_000;
}

/**
 * The checker ajv runs for `format: date-time`. It remembers the last value it parsed, so the
 * decoder's `parsedDateTime` of the same string right after costs nothing.
 */
export class DateTimeFormat {
  #last: string | undefined;
  #lastMs = Number.NaN;

  readonly validate = (s: string): boolean => !Number.isNaN(this.parse(s));

  parse(s: string): number {
    if (s === this.#last) return this.#lastMs;
    this.#last = s;
    this.#lastMs = parseRfc3339(s);
    return this.#lastMs;
  }
}
