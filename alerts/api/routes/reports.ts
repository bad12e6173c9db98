import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { DeviceRecords } from '../../../contracts/device-record.ts';
import { PRIORITIES } from '../../sla/sla-policy.ts';
import { fleetCounts, type MonthlyReport, type TicketReports } from '../../tickets/reports.ts';
import { requireRole, STAFF } from '../roles.ts';
import { GuardedErrors } from '../schemas.ts';

const DateTime = Type.String({ format: 'date-time' });
const Text = Type.Object({ 'zh-CN': Type.String(), en: Type.String() });
const DATE = '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$';

const Counts = Type.Object({
  opened: Type.Integer(),
  dispatched: Type.Integer(),
  acknowledged: Type.Integer(),
  onSite: Type.Integer(),
  resolved: Type.Integer(),
  followedUp: Type.Integer(),
  closed: Type.Integer(),
  cancelled: Type.Integer(),
  reopened: Type.Integer(),
  breaches: Type.Integer(),
  openAtEndOfDay: Type.Integer(),
});

const FollowUp = Type.Object({
  resolved: Type.Integer({ description: 'jobs resolved in the period (one reopened before any follow-up is not counted)' }),
  followedUp: Type.Integer(),
  followedUpWithinLimit: Type.Integer(),
  coveragePct: Type.Union([Type.Number(), Type.Null()], { description: 'followed up / resolved, %; the manual asks for 100' }),
  withinLimitPct: Type.Union([Type.Number(), Type.Null()]),
  followUpWithinHours: Type.Number(),
  notFollowedUp: Type.Array(Type.Object({
    ticketId: Type.String(),
    resolvedAt: DateTime,
    dueAt: DateTime,
    overdue: Type.Boolean(),
    priority: Type.String(),
    assignee: Type.Union([Type.String(), Type.Null()]),
    subjectId: Type.String(),
    address: Type.Union([Type.String(), Type.Null()]),
  })),
});

const Daily = Type.Object({
  date: Type.String(),
  timeZone: Type.String(),
  from: DateTime,
  to: DateTime,
  counts: Counts,
  byPriority: Type.Object(Object.fromEntries(PRIORITIES.map((p) => [p, Counts]))),
  breachesByClock: Type.Record(Type.String(), Type.Integer()),
});

const Weekly = Type.Object({
  weekStart: Type.String({ description: 'the Monday the week starts on' }),
  timeZone: Type.String(),
  from: DateTime,
  to: DateTime,
  taken: Type.Integer(),
  dispatched: Type.Integer(),
  resolved: Type.Integer(),
  followedUp: Type.Integer(),
  reopened: Type.Integer({ description: 'tickets sent back: reopened, or a customer not satisfied at the follow-up' }),
  breaches: Type.Integer(),
  followUp: FollowUp,
});

const Rate = {
  kind: Type.Union([Type.String(), Type.Null()], { description: 'device kind; null for tickets on no one kind (gateways)' }),
  kindName: Type.Union([Text, Type.Null()]),
  tickets: Type.Integer(),
  devices: Type.Integer({ description: 'registry devices of the kind' }),
  per1000Devices: Type.Union([Type.Number(), Type.Null()], { description: 'tickets per 1,000 devices of the kind; null without devices' }),
};

const Monthly = Type.Object({
  month: Type.String(),
  timeZone: Type.String(),
  from: DateTime,
  to: DateTime,
  complete: Type.Boolean({ description: 'the month is over' }),
  generatedAt: DateTime,
  snapshot: Type.Boolean({ description: 'kept as generated on the snapshot day (management copy)' }),
  counts: Type.Omit(Counts, ['openAtEndOfDay']),
  followUp: FollowUp,
  repairRates: Type.Object({
    devices: Type.Integer({ description: 'registry devices' }),
    byKind: Type.Array(Type.Object(Rate)),
    byCondition: Type.Array(Type.Object({ ...Rate, condition: Type.String(), name: Text })),
    complaints: Type.Object({
      tickets: Type.Integer(),
      per1000Devices: Type.Union([Type.Number(), Type.Null()]),
      byClass: Type.Array(Type.Object({ class: Type.Union([Type.String(), Type.Null()]), tickets: Type.Integer() })),
    }),
  }),
  recurringFaults: Type.Object({
    minCount: Type.Integer({ description: 'alerts of one condition that put a device on the list' }),
    items: Type.Array(Type.Object({
      deviceId: Type.String({ description: 'the device, or the gateway for GATEWAY_OFFLINE' }),
      condition: Type.String(),
      name: Text,
      alerts: Type.Integer(),
      tickets: Type.Integer(),
      repeatTickets: Type.Integer({ description: 'tickets opened as a repeat of one resolved shortly before' }),
      lastAt: DateTime,
      address: Type.Union([Type.String(), Type.Null()]),
      district: Type.Union([Type.String(), Type.Null()]),
    })),
  }),
  byConditionAndDistrict: Type.Array(Type.Object({ condition: Type.String(), name: Text, district: Type.String(), alerts: Type.Integer(), tickets: Type.Integer() })),
  byCondition: Type.Array(Type.Object({ condition: Type.String(), name: Text, alerts: Type.Integer(), tickets: Type.Integer() })),
  repeatFaults: Type.Integer(),
});

// Without a period the reports are for today, this week and this month in their time zone: the
// console cannot know that zone before it asks.
const DailyQuery = Type.Object({ date: Type.Optional(Type.String({ pattern: DATE, description: 'local date YYYY-MM-DD; default today' })) }, { additionalProperties: false });
const WeeklyQuery = Type.Object({ week: Type.Optional(Type.String({ pattern: DATE, description: 'any local date in the week (Monday to Sunday); default this week' })) }, { additionalProperties: false });
const MonthlyQuery = Type.Object({
  month: Type.Optional(Type.String({ pattern: '^(\\d{4}-(0[1-9]|1[0-2])|previous)$', description: 'local month YYYY-MM, or previous: the last complete month; default this month' })),
}, { additionalProperties: false });

/** The Monday of the ISO week containing `date` (YYYY-MM-DD); calendar arithmetic only, no time zone. */
export function mondayOf(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  const back = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - back);
  return d.toISOString().slice(0, 10);
}

/** How often the service-quality report schedule looks for a month to keep. */
const SNAPSHOT_CHECK_MS = 3_600_000;

/**
 * The monthly schedule's step: keeps the last complete month's service-quality report once its
 * snapshot day has come (a no-op once kept), so management has it before the 22nd.
 */
export function keepPreviousMonth(reports: Pick<TicketReports, 'monthly'>, registry: Pick<DeviceRecords, 'records'>, nowMs: number): Promise<MonthlyReport> {
  return reports.monthly('previous', { nowMs, fleet: fleetCounts(registry.records()), keep: true });
}

/** 值班日报, weekly counts and the monthly service-quality report: for the call centre, supervisors and management. */
export const reportRoutes: FastifyPluginAsync = async (app) => {
  const reports = app.services.reports!;
  const preHandler = requireRole(...STAFF);
  const now = () => app.services.clock?.now() ?? Date.now();

  app.get<{ Querystring: Static<typeof DailyQuery> }>('/reports/daily', {
    preHandler,
    schema: { querystring: DailyQuery, response: { 200: Daily, ...GuardedErrors } },
  }, async (request) => reports.daily(request.query.date ?? reports.today(now())));

  app.get<{ Querystring: Static<typeof WeeklyQuery> }>('/reports/weekly', {
    preHandler,
    schema: { querystring: WeeklyQuery, response: { 200: Weekly, ...GuardedErrors } },
  }, async (request) => reports.weekly(mondayOf(request.query.week ?? reports.today(now())), now()));

  // Any day: the previous month is complete from the 1st; asked for on or after its snapshot day it is kept.
  app.get<{ Querystring: Static<typeof MonthlyQuery> }>('/reports/monthly', {
    preHandler,
    schema: { querystring: MonthlyQuery, response: { 200: Monthly, ...GuardedErrors } },
  }, async (request) => reports.monthly(request.query.month ?? reports.today(now()).slice(0, 7), { nowMs: now(), fleet: fleetCounts(app.services.registry.records()), keep: true }));

  // The schedule runs with the API, whose registry gives the repair rates' denominators.
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    timer = setInterval(() => {
      keepPreviousMonth(reports, app.services.registry, now()).catch((err: unknown) => app.log.error({ err }, 'Keeping the monthly service-quality report failed'));
    }, SNAPSHOT_CHECK_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => clearInterval(timer));
};
