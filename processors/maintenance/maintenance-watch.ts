import { Type, type Static } from '@sinclair/typebox';
import type { DeviceRecord } from '../../contracts/device-record.ts';
import type { AlertEvent, DeviceKind } from '../../contracts/messages.ts';
import { DEFAULT_SEVERITY } from '../severity.ts';

const DAY_MS = 86_400_000;

export const MaintenanceSettingsSchema = Type.Object({
  defaultIntervalDays: Type.Integer({
    default: 75,
    minimum: 1,
    description: "days between lubrication services of a flow meter whose record gives no serviceIntervalDays (the manual's 2-3 months, 000:448)",
  }),
  leadTimeDays: Type.Integer({ default: 0, minimum: 0, description: 'raise MAINTENANCE_DUE this many days before the due date, so the visit can be planned' }),
  checkIntervalMs: Type.Integer({ default: 60_000, minimum: 100, description: 'how often the calendar is checked, ms (a check costs only the meters that came due)' }),
});
export type MaintenanceSettings = Static<typeof MaintenanceSettingsSchema>;

/** Kinds that need scheduled service: flow meters need lubricating (repair manual 000:448). */
const SERVICED_KINDS: ReadonlySet<DeviceKind> = new Set(['flow_meter']);

/** A YYYY-MM-DD date is midnight UTC; an ISO time is itself. NaN when absent or not a date. */
function timeOf(text: unknown): number {
  return typeof text === 'string' ? Date.parse(text) : Number.NaN;
}

export interface ServiceSchedule {
  /** When the next service is due, epoch ms. */
  dueMs: number;
  /** The service (or, before the first, the installation) it is counted from, epoch ms. */
  fromMs: number;
  intervalDays: number;
}

/**
 * When a device's next service is due, from its registry record: the last service (or the
 * installation, before the first) plus its interval. Undefined for kinds that need none and for a
 * flow meter whose record gives neither date: nothing tells when it was last lubricated, and a
 * guess would page the whole fleet on the day the feature is switched on.
 */
export function serviceSchedule(record: DeviceRecord, settings: MaintenanceSettings): ServiceSchedule | undefined {
  if (!SERVICED_KINDS.has(record.kind)) return undefined;
  const last = timeOf(record.lastServiceAt);
  const installed = timeOf(record.installedAt);
  // A service recorded before the installation (a re-used record) counts from the installation.
  const fromMs = Number.isFinite(last) ? (Number.isFinite(installed) ? Math.max(last, installed) : last) : installed;
  if (!Number.isFinite(fromMs)) return undefined;
  const intervalDays = record.serviceIntervalDays ?? settings.defaultIntervalDays;
  return { dueMs: fromMs + intervalDays * DAY_MS, fromMs, intervalDays };
}

interface Entry {
  record: DeviceRecord;
  schedule: ServiceSchedule;
  /** When the check should raise it (the due date less the lead time). */
  raiseAtMs: number;
}

/**
 * MAINTENANCE_DUE by the calendar: a flow meter's service comes due whether it reports or not, so
 * this is judged on the pipeline's (injected) clock from the registry, not by a detector on readings.
 *
 * Incremental like the silence watch: each scheduled meter waits in a min-heap under the time it
 * comes due; a check pops only those whose time passed. A raised meter is not raised again (the
 * alert book holds it; `seedActive` tells a restarted watch what is active there). When the
 * registry's record changes (the ticket's resolve records the service, or an operator edits the
 * dates) the meter is scheduled afresh, and an active alert whose new due time is still ahead is
 * cleared: the alert book, fed only by these events, stays the one place alert state lives.
 */
export class MaintenanceWatch {
  readonly #entries = new Map<string, Entry>();
  readonly #active = new Set<string>();
  /** Min-heap by raiseAtMs; an entry is stale when the map holds another object for its device. */
  readonly #heap: Entry[] = [];

  constructor(private readonly settings: MaintenanceSettings) {}

  /** Meters whose MAINTENANCE_DUE the alert book holds active (at start): never raised twice. */
  seedActive(deviceIds: Iterable<string>): void {
    for (const id of deviceIds) this.#active.add(id);
  }

  /** When a meter's next service is due (undefined: not scheduled). */
  dueOf(deviceId: string): ServiceSchedule | undefined {
    return this.#entries.get(deviceId)?.schedule;
  }

  isActive(deviceId: string): boolean {
    return this.#active.has(deviceId);
  }

  /**
   * A registry record was loaded, created, changed or removed (undefined). An active alert whose
   * meter is now serviced (due time ahead), removed or no longer scheduled is cleared at `nowMs`.
   */
  update(deviceId: string, record: DeviceRecord | undefined, nowMs: number, out: AlertEvent[]): void {
    const schedule = record ? serviceSchedule(record, this.settings) : undefined;
    if (!record || !schedule) {
      this.#entries.delete(deviceId);
      if (this.#active.has(deviceId)) this.#clear(deviceId, record, nowMs, { reason: record ? 'not_scheduled' : 'removed' }, out);
      return;
    }
    const entry: Entry = { record, schedule, raiseAtMs: schedule.dueMs - this.settings.leadTimeDays * DAY_MS };
    this.#entries.set(deviceId, entry);
    if (this.#active.has(deviceId)) {
      if (entry.raiseAtMs > nowMs) {
        this.#clear(deviceId, record, nowMs, { reason: 'serviced', lastServiceAt: new Date(schedule.fromMs).toISOString(), nextDueAt: new Date(schedule.dueMs).toISOString() }, out);
      } else return; // Still due: stays raised, nothing to queue.
    }
    this.#push(entry);
  }

  /** Raises MAINTENANCE_DUE for every scheduled meter whose time has passed by `nowMs`. */
  check(nowMs: number, out: AlertEvent[]): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.raiseAtMs <= nowMs) {
      const entry = this.#pop();
      const id = entry.record.deviceId;
      if (this.#entries.get(id) !== entry || this.#active.has(id)) continue;
      this.#active.add(id);
      const { schedule } = entry;
      out.push({
        ...this.#event('raise', entry.record, nowMs),
        detail: {
          preventive: true,
          note: '预防性维护：流量计润滑 / preventive maintenance: flow-meter lubrication',
          dueAt: new Date(schedule.dueMs).toISOString(),
          lastServiceAt: entry.record.lastServiceAt ?? null,
          installedAt: entry.record.installedAt ?? null,
          serviceIntervalDays: schedule.intervalDays,
          overdueDays: Math.max(0, Math.floor((nowMs - schedule.dueMs) / DAY_MS)),
        },
      });
    }
  }

  #clear(deviceId: string, record: DeviceRecord | undefined, nowMs: number, detail: Record<string, unknown>, out: AlertEvent[]): void {
    this.#active.delete(deviceId);
    const base = record ?? ({ deviceId, kind: 'flow_meter' } as DeviceRecord);
    out.push({ ...this.#event('clear', base, nowMs), detail: { preventive: true, ...detail } });
  }

  #event(type: 'raise' | 'clear', record: DeviceRecord, nowMs: number): AlertEvent {
    return {
      type,
      subject: 'device',
      subjectId: record.deviceId,
      gatewayId: record.gatewayId ?? record.deviceId,
      kind: record.kind,
      ...(record.vendor ? { vendor: record.vendor } : {}),
      condition: 'MAINTENANCE_DUE',
      severity: DEFAULT_SEVERITY.MAINTENANCE_DUE,
      atMs: nowMs,
    };
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!(entry.raiseAtMs < heap[parent]!.raiseAtMs)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.raiseAtMs < heap[child]!.raiseAtMs) child++;
      if (!(heap[child]!.raiseAtMs < last.raiseAtMs)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
