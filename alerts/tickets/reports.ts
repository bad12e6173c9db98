import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../app/errors.ts';
import type { Condition, DeviceKind } from '../../contracts/messages.ts';
import type { Text } from '../catalog/manual.ts';
import { conditionName, deviceKindName } from '../catalog/messages.ts';
import type { Db } from '../store/db.ts';
import { PRIORITIES, type Priority } from '../sla/sla-policy.ts';
import { TicketInputError } from './errors.ts';
import { iso } from './ticket.ts';

const DAY_MS = 86_400_000;

export const ReportSettingsSchema = Type.Object(
  {
    /** A resolved job is followed up within this long (回访 within 3 days, service-rules.md). @defaultValue 3 days */
    followUpWithinMs: Type.Integer({ minimum: 1, default: 3 * DAY_MS }),
    /** A device with this many alerts of one condition in the period is on the recurring-fault list. @defaultValue 2 */
    recurringMinCount: Type.Integer({ minimum: 2, default: 2 }),
    /**
     * Local day of month M+1 from which month M's service-quality report is generated and kept
     * (management needs it before the 22nd). @defaultValue 1
     */
    monthlySnapshotDay: Type.Integer({ minimum: 1, maximum: 21, default: 1 }),
  },
  { additionalProperties: false },
);
export type ReportSettings = Static<typeof ReportSettingsSchema>;

export function parseReportSettings(input: unknown = {}): ReportSettings {
  const value = Value.Default(ReportSettingsSchema, Value.Clone(input ?? {}));
  if (!Value.Check(ReportSettingsSchema, value)) {
    const first = Value.Errors(ReportSettingsSchema, value).First();
    throw new ConfigError(`Report settings: ${first ? `${first.path} ${first.message}` : 'invalid'}`);
  }
  return value as ReportSettings;
}

export interface ActionCounts {
  opened: number;
  dispatched: number;
  acknowledged: number;
  onSite: number;
  resolved: number;
  followedUp: number;
  closed: number;
  cancelled: number;
  reopened: number;
  breaches: number;
}

/**
 * Audit actions → the counts they feed. An unsatisfied follow-up is a follow-up and a reopen at
 * once: ticket-service writes it as `follow_up_unsatisfied` (it sends the ticket back), never as
 * `reopen`, so counting only `reopen` left `reopened` at 0 after an unhappy customer.
 */
const ACTION_KEYS: Readonly<Record<string, ReadonlyArray<keyof ActionCounts>>> = {
  open: ['opened'],
  dispatch: ['dispatched'],
  acknowledge: ['acknowledged'],
  arrive_on_site: ['onSite'],
  resolve: ['resolved'],
  follow_up_satisfied: ['followedUp'],
  follow_up_unsatisfied: ['followedUp', 'reopened'],
  close: ['closed'],
  cancel: ['cancelled'],
  reopen: ['reopened'],
};

const ACTION_KEY_VALUES = Object.entries(ACTION_KEYS)
  .flatMap(([action, keys]) => keys.map((key) => `('${action}', '${key}')`))
  .join(', ');

/**
 * Who opened a ticket, and a complaint's class (tickets.origin, tickets.complaint_class,
 * migration 060): the repair rate counts device alerts and 报修, the complaint rate 投诉.
 */
const ORIGIN = `t.origin`;
const COMPLAINT_CLASS = `t.complaint_class`;

/** Report SQL, parameterised; day boundaries are computed by PostgreSQL in the report's time zone. */
const RQ = {
  dayRange: `SELECT ($1::date::timestamp AT TIME ZONE $2) AS from_at, (($1::date + $3::int)::timestamp AT TIME ZONE $2) AS to_at`,
  /** The month's bounds, and when its report is due to be kept: day `$3` of the next month, local. */
  monthRange: `SELECT (($1 || '-01')::date::timestamp AT TIME ZONE $2) AS from_at, ((($1 || '-01')::date + interval '1 month')::timestamp AT TIME ZONE $2) AS to_at,
    ((($1 || '-01')::date + interval '1 month' + ($3::int - 1) * interval '1 day')::timestamp AT TIME ZONE $2) AS due_at`,
  previousMonth: `SELECT to_char(($1::timestamptz AT TIME ZONE $2) - interval '1 month', 'YYYY-MM') AS month`,
  /** Tickets per count, each ticket once per count, whatever the number of its events. */
  actionCounts: `SELECT k.key, t.priority, count(DISTINCT e.ticket_id)::int AS n
    FROM ticket_events e JOIN (VALUES ${ACTION_KEY_VALUES}) AS k(action, key) ON k.action = e.action
    JOIN tickets t ON t.id = e.ticket_id
    WHERE e.at >= $1::timestamptz AND e.at < $2::timestamptz GROUP BY k.key, t.priority`,
  breachCounts: `SELECT priority, clock, count(*)::int AS n FROM sla_breaches
    WHERE breached_at >= $1::timestamptz AND breached_at < $2::timestamptz GROUP BY priority, clock`,
  /** Status at an instant, from each ticket's last audited status before it. */
  openAt: `SELECT t.priority, count(*)::int AS n FROM tickets t
    JOIN LATERAL (SELECT e.to_status FROM ticket_events e WHERE e.ticket_id = t.id AND e.at < $1::timestamptz AND e.to_status IS NOT NULL
      ORDER BY e.at DESC, e.id DESC LIMIT 1) last ON true
    WHERE last.to_status IN ('opened', 'dispatched', 'acknowledged', 'on_site') GROUP BY t.priority`,
  /**
   * Every resolve in the period and what came next: a follow-up (satisfied or not) or a reopen
   * before any follow-up (the job went on; that resolution needs none). Nothing yet: not followed up.
   */
  resolutions: `SELECT r.ticket_id, r.at AS resolved_at, t.priority, t.assignee, t.subject_id, t.address, nxt.action AS next_action, nxt.at AS next_at
    FROM ticket_events r JOIN tickets t ON t.id = r.ticket_id
    LEFT JOIN LATERAL (SELECT f.action, f.at FROM ticket_events f
      WHERE f.ticket_id = r.ticket_id AND f.id > r.id AND f.action IN ('follow_up_satisfied', 'follow_up_unsatisfied', 'reopen')
      ORDER BY f.id LIMIT 1) nxt ON true
    WHERE r.action = 'resolve' AND r.at >= $1::timestamptz AND r.at < $2::timestamptz
    ORDER BY r.at, r.id`,
  faultClasses: `SELECT ta.condition, coalesce(t.district, '') AS district, count(*)::int AS alerts, count(DISTINCT ta.ticket_id)::int AS tickets
    FROM ticket_alerts ta JOIN tickets t ON t.id = ta.ticket_id
    WHERE ta.raised_at >= $1::timestamptz AND ta.raised_at < $2::timestamptz
    GROUP BY ta.condition, coalesce(t.district, '') ORDER BY ta.condition, district`,
  repeats: `SELECT count(*)::int AS n FROM tickets WHERE repeat_of IS NOT NULL AND opened_at >= $1::timestamptz AND opened_at < $2::timestamptz`,
  /** Repairs (tickets not opened as complaints) opened in the period, by device kind. */
  repairsByKind: `SELECT t.kind, count(*)::int AS n FROM tickets t
    WHERE t.opened_at >= $1::timestamptz AND t.opened_at < $2::timestamptz AND ${ORIGIN} <> 'complaint'
    GROUP BY t.kind`,
  /** The same by condition: a ticket counts once for each condition it gathered. */
  repairsByCondition: `SELECT t.kind, c.condition, count(*)::int AS n FROM tickets t CROSS JOIN LATERAL unnest(t.conditions) AS c(condition)
    WHERE t.opened_at >= $1::timestamptz AND t.opened_at < $2::timestamptz AND ${ORIGIN} <> 'complaint'
    GROUP BY t.kind, c.condition`,
  complaints: `SELECT ${COMPLAINT_CLASS} AS class, count(*)::int AS n FROM tickets t
    WHERE t.opened_at >= $1::timestamptz AND t.opened_at < $2::timestamptz AND ${ORIGIN} = 'complaint'
    GROUP BY 1`,
  /**
   * Devices (or gateways) with `$3` or more alerts of one condition in the period, whichever
   * tickets they landed on: an incident's alert row names its device in detail.deviceId.
   */
  recurring: `SELECT x.device_id, x.condition, count(*)::int AS alerts, count(DISTINCT x.ticket_id)::int AS tickets,
      count(DISTINCT x.ticket_id) FILTER (WHERE x.repeat_of IS NOT NULL)::int AS repeat_tickets,
      max(x.raised_at) AS last_at, max(x.address) FILTER (WHERE x.own) AS address, max(x.district) AS district
    FROM (SELECT coalesce(ta.detail->>'deviceId', t.subject_id) AS device_id, ta.condition, ta.ticket_id, ta.raised_at, t.repeat_of, t.address, t.district,
        t.subject_id = coalesce(ta.detail->>'deviceId', t.subject_id) AS own
      FROM ticket_alerts ta JOIN tickets t ON t.id = ta.ticket_id
      WHERE ta.raised_at >= $1::timestamptz AND ta.raised_at < $2::timestamptz) x
    GROUP BY x.device_id, x.condition HAVING count(*) >= $3::int
    ORDER BY count(*) DESC, max(x.raised_at) DESC, x.device_id LIMIT 1000`,
  snapshot: `SELECT report, generated_at FROM report_snapshots WHERE kind = $1 AND period = $2`,
  saveSnapshot: `INSERT INTO report_snapshots (kind, period, generated_at, report) VALUES ($1, $2, $3::timestamptz, $4::jsonb)
    ON CONFLICT (kind, period) DO NOTHING`,
} as const;

export interface DailyReport {
  date: string;
  timeZone: string;
  from: string;
  to: string;
  counts: ActionCounts & { openAtEndOfDay: number };
  byPriority: Record<Priority, ActionCounts & { openAtEndOfDay: number }>;
  breachesByClock: Record<string, number>;
}

/** A resolution still waiting for its 回访. */
export interface MissingFollowUp {
  ticketId: string;
  resolvedAt: string;
  /** resolvedAt + the follow-up limit. */
  dueAt: string;
  /** The limit has passed without a follow-up. */
  overdue: boolean;
  priority: Priority;
  assignee: string | null;
  subjectId: string;
  address: string | null;
}

/** 回访 coverage of the jobs resolved in a period: the manual asks for 100 %, within 3 days. */
export interface FollowUpCoverage {
  /** Resolutions in the period (a resolution reopened before any follow-up is not counted: the job went on). */
  resolved: number;
  followedUp: number;
  followedUpWithinLimit: number;
  /** followedUp / resolved, in %, one decimal; null when nothing was resolved. */
  coveragePct: number | null;
  withinLimitPct: number | null;
  followUpWithinHours: number;
  notFollowedUp: MissingFollowUp[];
}

export interface WeeklyReport {
  weekStart: string;
  timeZone: string;
  from: string;
  to: string;
  taken: number;
  dispatched: number;
  resolved: number;
  followedUp: number;
  reopened: number;
  breaches: number;
  followUp: FollowUpCoverage;
}

export interface FaultClass {
  condition: Condition;
  name: Text;
  district: string;
  alerts: number;
  tickets: number;
}

/** Registry devices per kind: the denominator of the repair rates. */
export type FleetCounts = Partial<Record<DeviceKind, number>>;

export interface RepairRate {
  /** null: tickets on no one device kind (gateways, storm incidents without a kind). */
  kind: DeviceKind | null;
  kindName: Text | null;
  tickets: number;
  devices: number;
  /** tickets per 1,000 registry devices of the kind, two decimals; null without devices. */
  per1000Devices: number | null;
}

export interface RecurringFault {
  /** The device, or the gateway for GATEWAY_OFFLINE. */
  deviceId: string;
  condition: Condition;
  name: Text;
  alerts: number;
  tickets: number;
  /** Tickets opened as a repeat of one resolved shortly before (repeat_of). */
  repeatTickets: number;
  lastAt: string;
  address: string | null;
  district: string | null;
}

export interface MonthlyReport {
  month: string;
  timeZone: string;
  from: string;
  to: string;
  /** The month is over: its figures no longer grow (follow-ups of its last jobs may still come). */
  complete: boolean;
  generatedAt: string;
  /** Kept as generated on the snapshot day, so management and the API see the same figures. */
  snapshot: boolean;
  counts: ActionCounts;
  followUp: FollowUpCoverage;
  repairRates: {
    devices: number;
    byKind: RepairRate[];
    byCondition: Array<RepairRate & { condition: Condition; name: Text }>;
    complaints: { tickets: number; per1000Devices: number | null; byClass: Array<{ class: string | null; tickets: number }> };
  };
  recurringFaults: { minCount: number; items: RecurringFault[] };
  /** 故障现象统计分类: by condition and district. */
  byConditionAndDistrict: FaultClass[];
  byCondition: Array<{ condition: Condition; name: Text; alerts: number; tickets: number }>;
  repeatFaults: number;
}

export interface MonthlyOptions {
  /** "Now" for completeness, overdue follow-ups and the snapshot day. @defaultValue Date.now() */
  nowMs?: number;
  /** Registry devices per kind for the repair rates. */
  fleet?: FleetCounts;
  /** Keep the report once the month is complete and its snapshot day has come (the schedule and the API do). */
  keep?: boolean;
}

const zero = (): ActionCounts & { openAtEndOfDay: number } => ({ opened: 0, dispatched: 0, acknowledged: 0, onSite: 0, resolved: 0, followedUp: 0, closed: 0, cancelled: 0, reopened: 0, breaches: 0, openAtEndOfDay: 0 });

const pct = (part: number, whole: number): number | null => (whole === 0 ? null : Math.round((part / whole) * 1000) / 10);
const per1000 = (n: number, devices: number): number | null => (devices === 0 ? null : Math.round((n / devices) * 100_000) / 100);

/** Registry devices per kind. */
export function fleetCounts(records: Iterable<{ kind: DeviceKind }>): FleetCounts {
  const out: FleetCounts = {};
  for (const r of records) out[r.kind] = (out[r.kind] ?? 0) + 1;
  return out;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-\d{2}$/;

/** The local calendar date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(ms);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** Daily duty report, weekly counts and the monthly service-quality report, in one time zone. */
export class TicketReports {
  readonly #settings: ReportSettings;

  constructor(
    private readonly db: Db,
    private readonly timeZone = 'Asia/Shanghai',
    settings: Partial<ReportSettings> = {},
  ) {
    this.#settings = parseReportSettings(settings);
  }

  /** Today in the reports' time zone: the default day, week and month of the console. */
  today(nowMs: number): string {
    return localDate(nowMs, this.timeZone);
  }

  async #range(sql: string, params: unknown[]): Promise<{ from: string; to: string }> {
    const r = (await this.db.query<{ from_at: unknown; to_at: unknown }>(sql, params))[0]!;
    return { from: iso(r.from_at)!, to: iso(r.to_at)! };
  }

  async #counts(from: string, to: string): Promise<{ total: ActionCounts & { openAtEndOfDay: number }; byPriority: Record<Priority, ActionCounts & { openAtEndOfDay: number }>; byClock: Record<string, number> }> {
    const total = zero();
    const byPriority = Object.fromEntries(PRIORITIES.map((p) => [p, zero()])) as Record<Priority, ActionCounts & { openAtEndOfDay: number }>;
    const byClock: Record<string, number> = {};
    for (const r of await this.db.query<{ key: keyof ActionCounts; priority: Priority; n: number }>(RQ.actionCounts, [from, to])) {
      total[r.key] += r.n;
      byPriority[r.priority][r.key] += r.n;
    }
    for (const r of await this.db.query<{ priority: Priority; clock: string; n: number }>(RQ.breachCounts, [from, to])) {
      total.breaches += r.n;
      byPriority[r.priority].breaches += r.n;
      const clock = r.clock.split('#')[0]!;
      byClock[clock] = (byClock[clock] ?? 0) + r.n;
    }
    return { total, byPriority, byClock };
  }

  async #followUp(from: string, to: string, nowMs: number): Promise<FollowUpCoverage> {
    const limitMs = this.#settings.followUpWithinMs;
    const rows = await this.db.query<{ ticket_id: string; resolved_at: unknown; priority: Priority; assignee: string | null; subject_id: string; address: string | null; next_action: string | null; next_at: unknown }>(RQ.resolutions, [from, to]);
    let resolved = 0;
    let followedUp = 0;
    let withinLimit = 0;
    const notFollowedUp: MissingFollowUp[] = [];
    for (const r of rows) {
      if (r.next_action === 'reopen') continue;
      resolved++;
      const resolvedMs = Date.parse(iso(r.resolved_at)!);
      if (r.next_action !== null) {
        followedUp++;
        if (Date.parse(iso(r.next_at)!) - resolvedMs <= limitMs) withinLimit++;
        continue;
      }
      notFollowedUp.push({
        ticketId: r.ticket_id,
        resolvedAt: iso(r.resolved_at)!,
        dueAt: new Date(resolvedMs + limitMs).toISOString(),
        overdue: nowMs > resolvedMs + limitMs,
        priority: r.priority,
        assignee: r.assignee,
        subjectId: r.subject_id,
        address: r.address,
      });
    }
    return { resolved, followedUp, followedUpWithinLimit: withinLimit, coveragePct: pct(followedUp, resolved), withinLimitPct: pct(withinLimit, resolved), followUpWithinHours: limitMs / 3_600_000, notFollowedUp };
  }

  async #repairRates(from: string, to: string, fleet: FleetCounts): Promise<MonthlyReport['repairRates']> {
    const devicesOf = (kind: DeviceKind | null): number => (kind === null ? 0 : (fleet[kind] ?? 0));
    const rate = (kind: DeviceKind | null, tickets: number): RepairRate => ({ kind, kindName: kind === null ? null : deviceKindName(kind), tickets, devices: devicesOf(kind), per1000Devices: per1000(tickets, devicesOf(kind)) });
    const byKind = (await this.db.query<{ kind: DeviceKind | null; n: number }>(RQ.repairsByKind, [from, to])).map((r) => rate(r.kind, r.n));
    const byCondition = (await this.db.query<{ kind: DeviceKind | null; condition: Condition; n: number }>(RQ.repairsByCondition, [from, to])).map((r) => ({ ...rate(r.kind, r.n), condition: r.condition, name: conditionName(r.condition) }));
    const complaintRows = await this.db.query<{ class: string | null; n: number }>(RQ.complaints, [from, to]);
    const devices = Object.values(fleet).reduce((a, b) => a + (b ?? 0), 0);
    const complaints = complaintRows.reduce((a, r) => a + r.n, 0);
    const byRate = (a: RepairRate & { condition?: string }, b: RepairRate & { condition?: string }) =>
      (b.per1000Devices ?? -1) - (a.per1000Devices ?? -1) || b.tickets - a.tickets || (a.kind ?? '').localeCompare(b.kind ?? '') || (a.condition ?? '').localeCompare(b.condition ?? '');
    return {
      devices,
      byKind: byKind.sort(byRate),
      byCondition: byCondition.sort(byRate),
      complaints: { tickets: complaints, per1000Devices: per1000(complaints, devices), byClass: complaintRows.map((r) => ({ class: r.class, tickets: r.n })) },
    };
  }

  async #recurring(from: string, to: string): Promise<RecurringFault[]> {
    const rows = await this.db.query<{ device_id: string; condition: Condition; alerts: number; tickets: number; repeat_tickets: number; last_at: unknown; address: string | null; district: string | null }>(RQ.recurring, [from, to, this.#settings.recurringMinCount]);
    return rows.map((r) => ({ deviceId: r.device_id, condition: r.condition, name: conditionName(r.condition), alerts: r.alerts, tickets: r.tickets, repeatTickets: r.repeat_tickets, lastAt: iso(r.last_at)!, address: r.address, district: r.district }));
  }

  /** 值班日报 for a local date (YYYY-MM-DD). */
  async daily(date: string): Promise<DailyReport> {
    if (!DATE.test(date)) throw new TicketInputError(`date must be YYYY-MM-DD, got ${date}`);
    const { from, to } = await this.#range(RQ.dayRange, [date, this.timeZone, 1]);
    const { total, byPriority, byClock } = await this.#counts(from, to);
    for (const r of await this.db.query<{ priority: Priority; n: number }>(RQ.openAt, [to])) {
      total.openAtEndOfDay += r.n;
      byPriority[r.priority].openAtEndOfDay += r.n;
    }
    return { date, timeZone: this.timeZone, from, to, counts: total, byPriority, breachesByClock: byClock };
  }

  /** Weekly counts (taken, dispatched, answered, followed up, reopened) for the 7 local days starting at `weekStart`. */
  async weekly(weekStart: string, nowMs = Date.now()): Promise<WeeklyReport> {
    if (!DATE.test(weekStart)) throw new TicketInputError(`weekStart must be YYYY-MM-DD, got ${weekStart}`);
    const { from, to } = await this.#range(RQ.dayRange, [weekStart, this.timeZone, 7]);
    const { total } = await this.#counts(from, to);
    const followUp = await this.#followUp(from, to, nowMs);
    return { weekStart, timeZone: this.timeZone, from, to, taken: total.opened, dispatched: total.dispatched, resolved: total.resolved, followedUp: total.followedUp, reopened: total.reopened, breaches: total.breaches, followUp };
  }

  /**
   * The monthly service-quality report for a local month (YYYY-MM, or `previous`: the last
   * complete month as of `nowMs`): counts, 回访 coverage, repair and complaint rates, recurring
   * faults and the 故障现象统计分类. A kept snapshot is returned as it was generated; with `keep`,
   * a complete month is kept once its snapshot day (settings.monthlySnapshotDay of the next month) has come.
   */
  async monthly(month: string, options: MonthlyOptions = {}): Promise<MonthlyReport> {
    const nowMs = options.nowMs ?? Date.now();
    if (month === 'previous') month = (await this.db.query<{ month: string }>(RQ.previousMonth, [new Date(nowMs).toISOString(), this.timeZone]))[0]!.month;
    if (!MONTH.test(month)) throw new TicketInputError(`month must be YYYY-MM, got ${month}`);
    const kept = (await this.db.query<{ report: MonthlyReport; generated_at: unknown }>(RQ.snapshot, ['monthly', month]))[0];
    if (kept) return { ...kept.report, snapshot: true, generatedAt: iso(kept.generated_at)! };

    const range = (await this.db.query<{ from_at: unknown; to_at: unknown; due_at: unknown }>(RQ.monthRange, [month, this.timeZone, this.#settings.monthlySnapshotDay]))[0]!;
    const from = iso(range.from_at)!;
    const to = iso(range.to_at)!;
    const rows = await this.db.query<{ condition: Condition; district: string; alerts: number; tickets: number }>(RQ.faultClasses, [from, to]);
    const byConditionAndDistrict = rows.map((r) => ({ condition: r.condition, name: conditionName(r.condition), district: r.district, alerts: r.alerts, tickets: r.tickets }));
    const byCondition = new Map<Condition, { condition: Condition; name: Text; alerts: number; tickets: number }>();
    for (const r of byConditionAndDistrict) {
      const c = byCondition.get(r.condition) ?? { condition: r.condition, name: r.name, alerts: 0, tickets: 0 };
      c.alerts += r.alerts;
      c.tickets += r.tickets;
      byCondition.set(r.condition, c);
    }
    const { openAtEndOfDay: _, ...counts } = (await this.#counts(from, to)).total;
    const report: MonthlyReport = {
      month,
      timeZone: this.timeZone,
      from,
      to,
      complete: Date.parse(to) <= nowMs,
      generatedAt: new Date(nowMs).toISOString(),
      snapshot: false,
      counts,
      followUp: await this.#followUp(from, to, nowMs),
      repairRates: await this.#repairRates(from, to, options.fleet ?? {}),
      recurringFaults: { minCount: this.#settings.recurringMinCount, items: await this.#recurring(from, to) },
      byConditionAndDistrict,
      byCondition: [...byCondition.values()].sort((a, b) => b.alerts - a.alerts),
      repeatFaults: (await this.db.query<{ n: number }>(RQ.repeats, [from, to]))[0]?.n ?? 0,
    };
    if (!options.keep || nowMs < Date.parse(iso(range.due_at)!)) return report;
    await this.db.query(RQ.saveSnapshot, ['monthly', month, report.generatedAt, JSON.stringify({ ...report, snapshot: true })]);
    // Another instance may have kept its own a moment earlier: everyone shows the one kept.
    const saved = (await this.db.query<{ report: MonthlyReport; generated_at: unknown }>(RQ.snapshot, ['monthly', month]))[0]!;
    return { ...saved.report, snapshot: true, generatedAt: iso(saved.generated_at)! };
  }
}
