import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { PRIORITIES } from '../../sla/sla-policy.ts';
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
  breaches: Type.Integer(),
});

const Monthly = Type.Object({
  month: Type.String(),
  timeZone: Type.String(),
  from: DateTime,
  to: DateTime,
  byConditionAndDistrict: Type.Array(Type.Object({ condition: Type.String(), name: Text, district: Type.String(), alerts: Type.Integer(), tickets: Type.Integer() })),
  byCondition: Type.Array(Type.Object({ condition: Type.String(), name: Text, alerts: Type.Integer(), tickets: Type.Integer() })),
  repeatFaults: Type.Integer(),
});

const DailyQuery = Type.Object({ date: Type.String({ pattern: DATE, description: 'local date YYYY-MM-DD' }) }, { additionalProperties: false });
const WeeklyQuery = Type.Object({ week: Type.String({ pattern: DATE, description: 'any local date in the week (Monday to Sunday)' }) }, { additionalProperties: false });
const MonthlyQuery = Type.Object({ month: Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'local month YYYY-MM' }) }, { additionalProperties: false });

/** The Monday of the ISO week containing `date` (YYYY-MM-DD); calendar arithmetic only, no time zone. */
export function mondayOf(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  const back = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - back);
  return d.toISOString().slice(0, 10);
}

/** 值班日报, weekly counts and 故障现象统计分类: for the call centre and supervisors. */
export const reportRoutes: FastifyPluginAsync = async (app) => {
  const reports = app.services.reports!;
  const preHandler = requireRole(...STAFF);

  app.get<{ Querystring: Static<typeof DailyQuery> }>('/reports/daily', {
    preHandler,
    schema: { querystring: DailyQuery, response: { 200: Daily, ...GuardedErrors } },
  }, async (request) => reports.daily(request.query.date));

  app.get<{ Querystring: Static<typeof WeeklyQuery> }>('/reports/weekly', {
    preHandler,
    schema: { querystring: WeeklyQuery, response: { 200: Weekly, ...GuardedErrors } },
  }, async (request) => reports.weekly(mondayOf(request.query.week)));

  app.get<{ Querystring: Static<typeof MonthlyQuery> }>('/reports/monthly', {
    preHandler,
    schema: { querystring: MonthlyQuery, response: { 200: Monthly, ...GuardedErrors } },
  }, async (request) => reports.monthly(request.query.month));
};
