/**
 * The report routes through `inject` over an in-memory PGlite store: response schemas keep every
 * field, the monthly report is there for the previous month from the 1st, and it is kept.
 */
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { TicketReports } from '../../tickets/reports.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { DAY, FakeDirectory, T0, clear, lookupDevice, newBook, raise } from '../../tickets/test-support.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';
import { keepPreviousMonth } from './reports.ts';

const TOKEN = 'report-reader';
const headers = { authorization: `Bearer ${TOKEN}` };
/** 2026-12-01 00:30 in Shanghai. */
const FIRST_OF_DECEMBER = Date.parse('2026-11-30T16:30:00.000Z');

let app: FastifyInstance;
let db: Db;
let reports: TicketReports;
const clock = new ManualClock(T0);
const registry = new DeviceRegistry([
  { deviceId: 'HM-1', kind: 'household_meter', district: 'east' },
  { deviceId: 'HM-2', kind: 'household_meter', district: 'east' },
  { deviceId: 'HA-1', kind: 'home_gas_alarm', district: 'west' },
]);

beforeAll(async () => {
  db = await openDb({});
  const book = newBook();
  const svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  const tokens = new TokenBook();
  tokens.add(TOKEN, { name: 'supervisor', role: 'supervisor' });
  reports = new TicketReports(db, 'Asia/Shanghai');
  app = await buildHttpApi({
    alerts: book,
    registry,
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    reports,
    clock,
  }, pino({ level: 'silent' }));

  // HM-1 fails twice: the first ticket's first job is followed up unsatisfied, its second never; then a second ticket.
  await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', clock.now()));
  const id = (await svc.list({ deviceId: 'HM-1' }))[0]!.id;
  await svc.acknowledge(id, 'tech-wang');
  await svc.resolve(id, { remedyDone: 'reed switch replaced' }, 'tech-wang');
  await svc.followUp(id, { satisfied: false }, 'cs');
  await svc.acknowledge(id, 'tech-wang');
  await svc.resolve(id, { remedyDone: 'meter replaced' }, 'tech-wang');
  await svc.onAlertChanges(clear(book, 'HM-1', 'ERR-1', clock.now() + DAY));
  await svc.onAlertChanges(raise(book, 'HM-1', 'ERR-1', clock.now() + 2 * DAY));
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('issue 12 item 10: report routes', () => {
  it('serves the weekly report with reopened and the follow-up coverage through its schema', async () => {
    const res = await app.inject({ url: '/api/v1/reports/weekly?week=2026-11-22', headers });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ weekStart: '2026-11-16', resolved: 1, followedUp: 1, reopened: 1, followUp: { resolved: 2, followedUp: 1, coveragePct: 50 } });
  });

  it("the monthly report works for the previous month from day 1, with reopened, coverage, repair rates from the registry and recurring faults", async () => {
    clock.set(FIRST_OF_DECEMBER);
    const res = await app.inject({ url: '/api/v1/reports/monthly?month=previous', headers });
    expect(res.statusCode).toBe(200);
    const month = res.json();
    expect(month).toMatchObject({
      month: '2026-11',
      complete: true,
      snapshot: true,
      generatedAt: new Date(FIRST_OF_DECEMBER).toISOString(),
      counts: { reopened: 1, followedUp: 1 },
      followUp: { resolved: 2, followedUp: 1, coveragePct: 50, notFollowedUp: [{ subjectId: 'HM-1', overdue: true }] },
      repairRates: { devices: 3, byKind: [{ kind: 'household_meter', tickets: 2, devices: 2, per1000Devices: 1000 }] },
      recurringFaults: { minCount: 2, items: [{ deviceId: 'HM-1', condition: 'ERR-1', alerts: 2, tickets: 2 }] },
    });
    const byName = await app.inject({ url: '/api/v1/reports/monthly?month=2026-11', headers });
    expect(byName.json()).toEqual(month);
  });

  it('the schedule keeps the last complete month once, and reports the same copy afterwards', async () => {
    const january = Date.parse('2027-01-01T00:00:00.000Z');
    const kept = await keepPreviousMonth(reports, registry, january);
    expect(kept).toMatchObject({ month: '2026-12', snapshot: true, generatedAt: new Date(january).toISOString() });
    expect(await keepPreviousMonth(reports, registry, january + DAY)).toEqual(kept);
  });

  it("without a period, reports today, this week and this month in the reports' time zone, not in UTC", async () => {
    // 01:00 on Monday 2026-11-23 in Shanghai; still Sunday the 22nd in UTC.
    clock.set(Date.parse('2026-11-22T17:00:00.000Z'));
    const get = async (path: string) => (await app.inject({ url: `/api/v1/reports/${path}`, headers })).json();
    expect(await get('daily')).toMatchObject({ date: '2026-11-23', timeZone: 'Asia/Shanghai', from: '2026-11-22T16:00:00.000Z' });
    expect(await get('weekly')).toMatchObject({ weekStart: '2026-11-23' });
    expect(await get('monthly')).toMatchObject({ month: '2026-11' });
    // 16:00 UTC on 30 November is midnight of 1 December in Shanghai.
    clock.set(Date.parse('2026-11-30T16:00:00.000Z'));
    expect(await get('monthly')).toMatchObject({ month: '2026-12' });
  });

  it('refuses a month that is no month', async () => {
    expect((await app.inject({ url: '/api/v1/reports/monthly?month=last', headers })).statusCode).toBe(400);
  });
});
