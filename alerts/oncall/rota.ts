import type { Override, Rotation, Shift } from './schemas.ts';

/**
 * Pure rota arithmetic. Every day each shift of a rotation is worked by one member; members move on
 * one slot every `periodDays` counted from `anchorDate` (local dates in the rotation's time zone):
 * in period p, shift i is worked by member (i − p) mod n, so member m works shift (m + p) mod n and
 * is off when that slot is past the last shift. A shift that passes midnight belongs to the day it
 * started, so the hand-over is at the shift boundary, never at midnight. Intervals are [start, end).
 */

/** One stretch of duty: a shift instance, or the part of it a stand-in covers, or a team-wide override. */
export interface ShiftAssignment {
  personId: string;
  /** Shift name, or 'override' for a team-wide override. */
  shiftName: string;
  kind: Shift['kind'];
  /** Index of the shift in the rotation (priority order); -1 for a team-wide override. */
  shiftIndex: number;
  /** Local date the shift started on (a shift past midnight belongs to this day). */
  shiftDate: string;
  startMs: number;
  endMs: number;
  override?: { id: string; reason: string; replacesId?: string };
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function wallClock(ms: number, timeZone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour! % 24, mi: p.minute!, s: p.second! };
}

/** Offset of local time from UTC at an instant, in ms (Asia/Shanghai: +8 h). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const w = wallClock(ms, timeZone);
  const floored = Math.floor(ms / 1000) * 1000;
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - floored;
}

/** The instant a local date and 'HH:MM' denote in a time zone (two passes settle DST edges). */
export function localToUtcMs(date: string, hhmm: string, timeZone: string): number {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h, mi] = hhmm.split(':').map(Number) as [number, number];
  const asUtc = Date.UTC(y, mo - 1, d, h, mi);
  const first = asUtc - zoneOffsetMs(asUtc, timeZone);
  const second = asUtc - zoneOffsetMs(first, timeZone);
  return second;
}

/** Local date 'YYYY-MM-DD' of an instant in a time zone. */
export function localDate(ms: number, timeZone: string): string {
  const w = wallClock(ms, timeZone);
  return `${w.y}-${String(w.mo).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

function dayNumber(date: string): number {
  return Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);
}

export function addDays(date: string, days: number): string {
  return new Date((dayNumber(date) + days) * DAY_MS).toISOString().slice(0, 10);
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** The member who works shift `shiftIndex` on local date `date`, or undefined when nobody does. */
export function memberFor(rotation: Rotation, date: string, shiftIndex: number): string | undefined {
  const period = Math.floor((dayNumber(date) - dayNumber(rotation.anchorDate)) / rotation.periodDays);
  return rotation.members[mod(shiftIndex - period, rotation.members.length)];
}

/** Start and end instants of a shift worked on local date `date`. */
export function shiftInstance(rotation: Rotation, shift: Shift, date: string): { startMs: number; endMs: number } {
  const startMs = localToUtcMs(date, shift.start, rotation.timeZone);
  const endDate = shift.end <= shift.start ? addDays(date, 1) : date;
  return { startMs, endMs: localToUtcMs(endDate, shift.end, rotation.timeZone) };
}

/** Splits [startMs, endMs) of `personId`'s duty where stand-ins for that person cover parts of it. */
function applyStandIns(base: ShiftAssignment, standIns: readonly Override[]): ShiftAssignment[] {
  const mine = standIns.filter((o) => o.replacesId === base.personId && o.fromMs < base.endMs && o.toMs > base.startMs);
  if (mine.length === 0) return [base];
  const cuts = new Set([base.startMs, base.endMs]);
  for (const o of mine) {
    if (o.fromMs > base.startMs) cuts.add(o.fromMs);
    if (o.toMs < base.endMs) cuts.add(o.toMs);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out: ShiftAssignment[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, to] = [points[i]!, points[i + 1]!];
    // The latest-starting stand-in wins where two overlap: the newer arrangement.
    const cover = mine.filter((o) => o.fromMs <= from && o.toMs >= to).sort((a, b) => b.fromMs - a.fromMs)[0];
    const seg: ShiftAssignment = { ...base, startMs: from, endMs: to };
    if (cover) {
      seg.personId = cover.personId;
      seg.override = { id: cover.id, reason: cover.reason, replacesId: base.personId };
    }
    const prev = out.at(-1);
    if (prev && prev.personId === seg.personId && prev.override?.id === seg.override?.id) prev.endMs = to;
    else out.push(seg);
  }
  return out;
}

/**
 * Every duty stretch of a team that overlaps [fromMs, toMs), unclipped, sorted by start then
 * priority. `overrides` are the team's; stand-ins replace one person, the others add a duty.
 */
export function rotaSchedule(rotation: Rotation | undefined, overrides: readonly Override[], fromMs: number, toMs: number): ShiftAssignment[] {
  const out: ShiftAssignment[] = [];
  const standIns = overrides.filter((o) => o.replacesId !== undefined);
  if (rotation) {
    // Shifts last at most 24 h, so one that started the day before may still run.
    const first = addDays(localDate(fromMs, rotation.timeZone), -1);
    const last = localDate(Math.max(fromMs, toMs - 1), rotation.timeZone);
    for (let date = first; date <= last; date = addDays(date, 1)) {
      rotation.shifts.forEach((shift, shiftIndex) => {
        const { startMs, endMs } = shiftInstance(rotation, shift, date);
        if (endMs <= fromMs || startMs >= toMs) return;
        const personId = memberFor(rotation, date, shiftIndex);
        if (personId === undefined) return;
        const base: ShiftAssignment = { personId, shiftName: shift.name, kind: shift.kind, shiftIndex, shiftDate: date, startMs, endMs };
        for (const seg of applyStandIns(base, standIns)) if (seg.endMs > fromMs && seg.startMs < toMs) out.push(seg);
      });
    }
  }
  for (const o of overrides) {
    if (o.replacesId !== undefined || o.toMs <= fromMs || o.fromMs >= toMs) continue;
    out.push({
      personId: o.personId,
      shiftName: 'override',
      kind: 'on_site',
      shiftIndex: -1,
      shiftDate: localDate(o.fromMs, rotation?.timeZone ?? 'Asia/Shanghai'),
      startMs: o.fromMs,
      endMs: o.toMs,
      override: { id: o.id, reason: o.reason },
    });
  }
  return out.sort((a, b) => a.startMs - b.startMs || a.shiftIndex - b.shiftIndex);
}

/** Everyone on duty at an instant, the one to call first at index 0. */
export function onShiftAt(rotation: Rotation | undefined, overrides: readonly Override[], atMs: number): ShiftAssignment[] {
  return rotaSchedule(rotation, overrides, atMs, atMs + 1).sort(callOrder);
}

/** Team-wide overrides first, then on-site before home on-call, then the rotation's shift order. */
function callOrder(a: ShiftAssignment, b: ShiftAssignment): number {
  const rank = (s: ShiftAssignment) => (s.shiftIndex === -1 ? 0 : s.kind === 'on_site' ? 1 : 2);
  return rank(a) - rank(b) || a.shiftIndex - b.shiftIndex || b.startMs - a.startMs;
}

/**
 * The stretches of [fromMs, toMs) in which nobody of the team is on duty (no rotation shift, no
 * override): a district then has no technician to dispatch to, and its tickets wait for the next
 * shift with the supervisor paged. Gaps shorter than `minMs` (hand-over seams) are left out.
 */
export function coverageGaps(rotation: Rotation | undefined, overrides: readonly Override[], fromMs: number, toMs: number, minMs = 60_000): Array<{ fromMs: number; toMs: number }> {
  const gaps: Array<{ fromMs: number; toMs: number }> = [];
  let coveredTo = fromMs;
  for (const duty of rotaSchedule(rotation, overrides, fromMs, toMs)) {
    if (duty.startMs - coveredTo >= minMs) gaps.push({ fromMs: coveredTo, toMs: Math.min(duty.startMs, toMs) });
    if (duty.endMs > coveredTo) coveredTo = duty.endMs;
  }
  if (toMs - coveredTo >= minMs) gaps.push({ fromMs: coveredTo, toMs });
  return gaps;
}
