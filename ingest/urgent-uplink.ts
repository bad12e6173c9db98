/**
 * A look at an uplink's raw bytes, before any parsing: may it raise a gas alarm? The embedded broker
 * asks this of every message that must wait for ingest, so that a leak's batch does not wait behind
 * other gateways' routine batches (`broker-queue.ts`). It errs on the side of "yes" (a reading at
 * or above the lowest first set point in use, a red alarm lamp, an intermittent buzzer: what
 * `GasAlarmDetector` raises on) and it is only an order: a payload it misreads (an escaped key,
 * say) still reaches ingest and the detectors in the normal order, so nothing depends on it being
 * right, only how soon the alarm is judged.
 */

const LEL_KEY = Buffer.from('"lelPct"');
const ALARM_KEY = Buffer.from('"alarm"');
const BUZZER_KEY = Buffer.from('"buzzer"');

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const QUOTE = 0x22;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_T = 0x74;
const LOWER_I = 0x69;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

const isSpace = (c: number): boolean => c === SPACE || c === TAB || c === LF || c === CR;

/** Index of the first byte of the value after a key ending at `at` (past blanks, the colon, blanks), or -1. */
function valueStart(payload: Buffer, at: number): number {
  let i = at;
  while (i < payload.length && isSpace(payload[i]!)) i++;
  if (payload[i] !== COLON) return -1;
  i++;
  while (i < payload.length && isSpace(payload[i]!)) i++;
  return i < payload.length ? i : -1;
}

/**
 * The number starting at `at` is at least `threshold`. Integers and decimals are read byte by byte
 * (the common case costs no string); an exponent falls back to `Number`. A negative number or
 * anything else (`null`, a string) is below any set point.
 */
function numberAtLeast(payload: Buffer, at: number, threshold: number): boolean {
  let i = at;
  let value = 0;
  while (i < payload.length) {
    const c = payload[i]!;
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
    i++;
  }
  if (i === at) return false;
  if (value >= threshold) return true;
  if (payload[i] === DOT) {
    let scale = 0.1;
    for (i++; i < payload.length; i++) {
      const c = payload[i]!;
      if (c < ZERO || c > NINE) break;
      value += (c - ZERO) * scale;
      scale /= 10;
    }
  }
  if (payload[i] === LOWER_E || payload[i] === UPPER_E) {
    let end = i + 1;
    while (end < payload.length && !isSpace(payload[end]!) && payload[end] !== 0x2c && payload[end] !== 0x7d && payload[end] !== 0x5d) end++;
    return Number(payload.toString('latin1', at, end)) >= threshold;
  }
  return value >= threshold;
}

/**
 * Whether an uplink payload may carry a reading that raises a gas alarm: some `lelPct` (a home
 * alarm's or any controller channel's) at or above `lowestL1LelPct`, `"alarm": true` (the red
 * lamp) or `"buzzer": "intermittent"`.
 */
export function mayRaiseGasAlarm(payload: Buffer, lowestL1LelPct: number): boolean {
  for (let at = payload.indexOf(LEL_KEY); at >= 0; at = payload.indexOf(LEL_KEY, at + LEL_KEY.length)) {
    const v = valueStart(payload, at + LEL_KEY.length);
    if (v >= 0 && numberAtLeast(payload, v, lowestL1LelPct)) return true;
  }
  for (let at = payload.indexOf(ALARM_KEY); at >= 0; at = payload.indexOf(ALARM_KEY, at + ALARM_KEY.length)) {
    const v = valueStart(payload, at + ALARM_KEY.length);
    if (v >= 0 && payload[v] === LOWER_T) return true;
  }
  for (let at = payload.indexOf(BUZZER_KEY); at >= 0; at = payload.indexOf(BUZZER_KEY, at + BUZZER_KEY.length)) {
    const v = valueStart(payload, at + BUZZER_KEY.length);
    if (v >= 0 && payload[v] === QUOTE && payload[v + 1] === LOWER_I) return true;
  }
  return false;
}
