import type { ReportSchedule } from '../models/index.ts';
import { DEFAULT_REPORT_TZ } from '../device-profile.ts';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' });
    } catch {
      // A zone the runtime does not know (the registry only checks its spelling): the utility's own.
      f = formatterOf(DEFAULT_REPORT_TZ);
    }
    formatters.set(tz, f);
  }
  return f;
}

/** The zone's offset from UTC at `atMs`, ms (Asia/Shanghai: +8 h). */
export function zoneOffsetMs(tz: string, atMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatterOf(tz).formatToParts(atMs)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
  return local - Math.floor(atMs / MINUTE_MS) * MINUTE_MS;
}

/** Slot time of the local day `atMs` falls on, epoch ms. */
function slotOfDay(atMs: number, schedule: ReportSchedule): number {
  const [hh, mm] = schedule.reportAt.split(':').map(Number) as [number, number];
  const offset = zoneOffsetMs(schedule.reportTz, atMs);
  const localDay = Math.floor((atMs + offset) / DAY_MS) * DAY_MS;
  const slotLocal = localDay + hh * 3_600_000 + mm * MINUTE_MS;
  // The offset at the slot itself, should the zone change it between midnight and then.
  return slotLocal - zoneOffsetMs(schedule.reportTz, slotLocal - offset);
}

/** The first slot strictly after `atMs`: slots come at `reportAt` local time and every `intervalMs` from it. */
export function nextSlotAfter(atMs: number, schedule: ReportSchedule, intervalMs: number): number {
  let slot = slotOfDay(atMs, schedule);
  const step = Math.max(MINUTE_MS, intervalMs);
  if (slot > atMs) {
    while (slot - step > atMs) slot -= step;
  } else {
    while (slot <= atMs) slot += step;
  }
  return slot;
}

/**
 * When a device on a schedule is silent, last heard at `sinceMs`: the end of the report window of
 * the `missedSlots`-th slot after it, plus `graceMs` for the uplink (NB-IoT platform, broker). A
 * meter that reported late in one window and early in the next is on time, which a fixed multiple
 * of the interval would not allow. Also returns when that last missed slot opened.
 */
export function scheduledDeadline(sinceMs: number, schedule: ReportSchedule, intervalMs: number, missedSlots: number, graceMs: number): { dueMs: number; slotMs: number } {
  const slotMs = nextSlotAfter(sinceMs, schedule, intervalMs) + (Math.max(1, missedSlots) - 1) * Math.max(MINUTE_MS, intervalMs);
  return { dueMs: slotMs + schedule.reportWindowMin * MINUTE_MS + graceMs, slotMs };
}
