import type { Condition } from '../../contracts/messages.ts';
import type { Text } from '../catalog/manual.ts';
import { conditionName } from '../catalog/messages.ts';
import type { Db } from '../store/db.ts';
import { PRIORITIES, type Priority } from '../sla/sla-policy.ts';
import { TicketInputError } from './errors.ts';
import { iso } from './ticket.ts';

/** Report SQL, parameterised; day boundaries are computed by PostgreSQL in the report's time zone. */
const RQ = {
  dayRange: `SELECT ($1::date::timestamp AT TIME ZONE $2) AS from_at, (($1::date + $3::int)::timestamp AT TIME ZONE $2) AS to_at`,
  monthRange: `SELECT (($1 || '-01')::date::timestamp AT TIME ZONE $2) AS from_at, ((($1 || '-01')::date + interval '1 month')::timestamp AT TIME ZONE $2) AS to_at`,
  actionCounts: `SELECT e.action, t.priority, count(DISTINCT e.ticket_id)::int AS n
    FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id
    WHERE e.at >= $1::timestamptz AND e.at < $2::timestamptz GROUP BY e.action, t.priority`,
  breachCounts: `SELECT priority, clock, count(*)::int AS n FROM sla_breaches
    WHERE breached_at >= $1::timestamptz AND breached_at < $2::timestamptz GROUP BY priority, clock`,
  /** Status at an instant, from each ticket's last audited status before it. */
  openAt: `SELECT t.priority, count(*)::int AS n FROM tickets t
    JOIN LATERAL (SELECT e.to_status FROM ticket_events e WHERE e.ticket_id = t.id AND e.at < $1::timestamptz AND e.to_status IS NOT NULL
      ORDER BY e.at DESC, e.id DESC LIMIT 1) last ON true
    WHERE last.to_status IN ('opened', 'dispatched', 'acknowledged', 'on_site') GROUP BY t.priority`,
  faultClasses: `SELECT ta.condition, coalesce(t.district, '') AS district, count(*)::int AS alerts, count(DISTINCT ta.ticket_id)::int AS tickets
    FROM ticket_alerts ta JOIN tickets t ON t.id = ta.ticket_id
    WHERE ta.raised_at >= $1::timestamptz AND ta.raised_at < $2::timestamptz
    GROUP BY ta.condition, coalesce(t.district, '') ORDER BY ta.condition, district`,
  repeats: `SELECT count(*)::int AS n FROM tickets WHERE repeat_of IS NOT NULL AND opened_at >= $1::timestamptz AND opened_at < $2::timestamptz`,
} as const;

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

export interface DailyReport {
  date: string;
  timeZone: string;
  from: string;
  to: string;
  counts: ActionCounts & { openAtEndOfDay: number };
  byPriority: Record<Priority, ActionCounts & { openAtEndOfDay: number }>;
  breachesByClock: Record<string, number>;
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
  breaches: number;
}

export interface FaultClass {
  condition: Condition;
  name: Text;
  district: string;
  alerts: number;
  tickets: number;
}

export interface MonthlyReport {
  month: string;
  timeZone: string;
  from: string;
  to: string;
  /** 故障现象统计分类: by condition and district. */
  byConditionAndDistrict: FaultClass[];
  byCondition: Array<{ condition: Condition; name: Text; alerts: number; tickets: number }>;
  repeatFaults: number;
}

const ACTION_KEYS: Readonly<Record<string, keyof ActionCounts>> = {
  open: 'opened',
  dispatch: 'dispatched',
  acknowledge: 'acknowledged',
  arrive_on_site: 'onSite',
  resolve: 'resolved',
  follow_up_satisfied: 'followedUp',
  follow_up_unsatisfied: 'followedUp',
  close: 'closed',
  cancel: 'cancelled',
  reopen: 'reopened',
};

const zero = (): ActionCounts & { openAtEndOfDay: number } => ({ opened: 0, dispatched: 0, acknowledged: 0, onSite: 0, resolved: 0, followedUp: 0, closed: 0, cancelled: 0, reopened: 0, breaches: 0, openAtEndOfDay: 0 });

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MONTH = /^\d{4}-\d{2}$/;

/** Daily duty report, weekly counts and the monthly fault classification, in one time zone. */
export class TicketReports {
  constructor(
    private readonly db: Db,
    private readonly timeZone = 'Asia/Shanghai',
  ) {}

  async #range(sql: string, params: unknown[]): Promise<{ from: string; to: string }> {
    const r = (await this.db.query<{ from_at: unknown; to_at: unknown }>(sql, params))[0]!;
    return { from: iso(r.from_at)!, to: iso(r.to_at)! };
  }

  async #counts(from: string, to: string): Promise<{ total: ActionCounts & { openAtEndOfDay: number }; byPriority: Record<Priority, ActionCounts & { openAtEndOfDay: number }>; byClock: Record<string, number> }> {
    const total = zero();
    const byPriority = Object.fromEntries(PRIORITIES.map((p) => [p, zero()])) as Record<Priority, ActionCounts & { openAtEndOfDay: number }>;
    const byClock: Record<string, number> = {};
    for (const r of await this.db.query<{ action: string; priority: Priority; n: number }>(RQ.actionCounts, [from, to])) {
      const key = ACTION_KEYS[r.action];
      if (!key) continue;
      total[key] += r.n;
      byPriority[r.priority][key] += r.n;
    }
    for (const r of await this.db.query<{ priority: Priority; clock: string; n: number }>(RQ.breachCounts, [from, to])) {
      total.breaches += r.n;
      byPriority[r.priority].breaches += r.n;
      const clock = r.clock.split('#')[0]!;
      byClock[clock] = (byClock[clock] ?? 0) + r.n;
    }
    return { total, byPriority, byClock };
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

  /** Weekly counts for the 7 local days starting at `weekStart` (YYYY-MM-DD). */
  async weekly(weekStart: string): Promise<WeeklyReport> {
    if (!DATE.test(weekStart)) throw new TicketInputError(`weekStart must be YYYY-MM-DD, got ${weekStart}`);
    const { from, to } = await this.#range(RQ.dayRange, [weekStart, this.timeZone, 7]);
    const { total } = await this.#counts(from, to);
    return { weekStart, timeZone: this.timeZone, from, to, taken: total.opened, dispatched: total.dispatched, resolved: total.resolved, followedUp: total.followedUp, breaches: total.breaches };
  }

  /** 故障现象统计分类 for a local month (YYYY-MM): alerts behind tickets by condition and district. */
  async monthly(month: string): Promise<MonthlyReport> {
    if (!MONTH.test(month)) throw new TicketInputError(`month must be YYYY-MM, got ${month}`);
    const { from, to } = await this.#range(RQ.monthRange, [month, this.timeZone]);
    const rows = await this.db.query<{ condition: Condition; district: string; alerts: number; tickets: number }>(RQ.faultClasses, [from, to]);
    const byConditionAndDistrict = rows.map((r) => ({ condition: r.condition, name: conditionName(r.condition), district: r.district, alerts: r.alerts, tickets: r.tickets }));
    const byCondition = new Map<Condition, { condition: Condition; name: Text; alerts: number; tickets: number }>();
    for (const r of byConditionAndDistrict) {
      const c = byCondition.get(r.condition) ?? { condition: r.condition, name: r.name, alerts: 0, tickets: 0 };
      c.alerts += r.alerts;
      c.tickets += r.tickets;
      byCondition.set(r.condition, c);
    }
    const repeatFaults = (await this.db.query<{ n: number }>(RQ.repeats, [from, to]))[0]?.n ?? 0;
    return { month, timeZone: this.timeZone, from, to, byConditionAndDistrict, byCondition: [...byCondition.values()].sort((a, b) => b.alerts - a.alerts), repeatFaults };
  }
}
