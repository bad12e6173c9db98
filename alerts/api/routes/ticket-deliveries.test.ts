/**
 * The delivery report on a ticket (issue 14 #6), in one process: the ticket service dispatches,
 * the push dispatcher follows the technician's channel order through real channels (the live
 * stream with nobody connected, two webhook robots on a local HTTP stand-in, one refusing), a
 * read receipt is recorded and the technician acknowledges from a button; GET /api/v1/tickets/:id
 * shows per notice, person and channel what became of it. PGlite with every migration; time is a
 * ManualClock and a ManualScheduler.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import type { Person } from '../../oncall/directory.ts';
import { ticketActionApplier } from '../../push/actions.ts';
import { createChannels } from '../../push/channels.ts';
import { PushDispatcher } from '../../push/delivery-queue.ts';
import { ManualScheduler } from '../../push/scheduler.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { FakeDirectory, lookupDevice, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const OPERATOR = 'operator-token';
const log = pino({ level: 'silent' });

let app: FastifyInstance;
let db: Db;
let robots: Server;
let svc: TicketService;
let dispatcher: PushDispatcher;
const clock = new ManualClock(T0); // 16:00 in Shanghai
const scheduler = new ManualScheduler(clock);
const book = newBook();
const sending: Promise<unknown>[] = [];

/** The push side's people: 王工 tries the console first, then robot-a, then robot-b; 李工 is in quiet hours. */
const pushPeople: Record<string, Person> = {
  ...people,
  'tech-wang': { ...people['tech-wang']!, webhooks: ['robot-a', 'robot-b'], channelOrder: ['sse', 'robot-a', 'robot-b'] },
  'tech-li': { ...people['tech-li']!, webhooks: ['robot-b'], quietHours: { start: '12:00', end: '18:00' } },
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.all(sending.splice(0));
    await dispatcher.idle();
  }
}

const detail = async (id: string) => app.inject({ url: `/api/v1/tickets/${id}`, headers: { authorization: `Bearer ${OPERATOR}` } });

beforeAll(async () => {
  // robot-a's endpoint refuses (a removed robot key), robot-b's accepts.
  robots = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(req.url === '/a' ? 404 : 200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => robots.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(robots.address() as AddressInfo).port}`;

  db = await openDb({});
  const directory = new FakeDirectory();
  svc = new TicketService({ db, clock, directory, lookupDevice });
  const channels = createChannels(
    [
      { name: 'sse', type: 'sse' },
      { name: 'robot-a', type: 'webhook', config: { url: `${base}/a` } },
      { name: 'robot-b', type: 'webhook', config: { url: `${base}/b` } },
    ],
    { log, clock },
  );
  dispatcher = new PushDispatcher({ db, people: { person: async (id) => pushPeople[id] }, channels, log, clock, scheduler, random: () => 1 });
  svc.onNotice((n) => sending.push(dispatcher.dispatchFresh(n)));

  const tokens = new TokenBook();
  tokens.add(OPERATOR, { name: 'call centre', role: 'operator' });
  app = await buildHttpApi(
    {
      alerts: book,
      registry: new DeviceRegistry([]),
      devices: { statusOf: () => undefined },
      deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
      metrics: { text: async () => '' },
      tokens,
      health: () => ({ status: 'ok', checks: {} }),
      tickets: svc,
    },
    log,
  );
});
afterAll(async () => {
  await app.close();
  await dispatcher.close();
  await db.close();
  robots.closeAllConnections();
  await new Promise((resolve) => robots.close(resolve));
});

describe('GET /api/v1/tickets/:id deliveries', () => {
  it('shows per channel: not delivered to the closed console, refused by robot-a, sent on robot-b then read, and where the technician acknowledged from', async () => {
    await svc.onAlertChanges(raise(book, 'HM-1', 'TAMPER', T0)); // urgent: follows the order
    await settle();
    const ticket = (await svc.list({ limit: 10 })).find((t) => t.deviceId === 'HM-1')!;
    const dispatched = (await detail(ticket.id)).json().deliveries.filter((d: { kind: string }) => d.kind === 'ticket.dispatched');
    const noticeId = dispatched[0].noticeId as string;
    expect(await dispatcher.recordReceipt(noticeId, 'tech-wang', 'robot-b', 'read', T0 + 30_000)).toBe(true);
    const applier = ticketActionApplier({ tickets: svc, people: { person: async (id) => pushPeople[id] }, clock, audit: new SqlAuditLog(db), log });
    await applier.apply({ personId: 'tech-wang', ticketId: ticket.id, action: 'acknowledge', via: 'robot-b' });

    const res = await detail(ticket.id);
    expect(res.statusCode).toBe(200);
    const rows = res.json().deliveries.filter((d: { noticeId: string }) => d.noticeId === noticeId);
    const at = new Date(T0).toISOString();
    expect(rows).toEqual([
      expect.objectContaining({ recipientId: 'tech-wang', channel: 'robot-a', status: 'failed', attempts: 1, lastError: expect.stringMatching(/HTTP 404/), sentAt: null, acknowledgedVia: 'robot-b' }),
      expect.objectContaining({ recipientId: 'tech-wang', channel: 'robot-b', status: 'delivered', attempts: 1, sentAt: at, deliveredAt: new Date(T0 + 30_000).toISOString(), readAt: new Date(T0 + 30_000).toISOString(), acknowledgedVia: 'robot-b' }),
      expect.objectContaining({ recipientId: 'tech-wang', channel: 'sse', status: 'not_delivered', lastError: expect.stringMatching(/^no open stream/), queuedAt: at, acknowledgedVia: 'robot-b' }),
    ]);
  });

  it('shows a push held by the person’s quiet hours as pending until they end, then sent', async () => {
    await svc.onAlertChanges(raise(book, 'HA-1', 'DEVICE_FAULT', T0, { severity: 'medium' })); // normal, to 李工 in quiet hours until 18:00
    await settle();
    const ticket = (await svc.list({ limit: 10 })).find((t) => t.deviceId === 'HA-1')!;
    expect(ticket.priority).toBe('normal');
    const held = (await detail(ticket.id)).json().deliveries.filter((d: { recipientId: string }) => d.recipientId === 'tech-li');
    const sixPm = new Date(Date.parse('2026-11-22T10:00:00Z')).toISOString();
    expect(held).toEqual([
      expect.objectContaining({ channel: 'robot-b', status: 'pending', attempts: 0, nextAttemptAt: sixPm, sentAt: null, acknowledgedVia: null }),
      // The console's live stream wakes nobody: not held.
      expect.objectContaining({ channel: 'sse', status: 'not_delivered', attempts: 1 }),
    ]);
    await scheduler.advance(2 * 3_600_000);
    await settle();
    const sent = (await detail(ticket.id)).json().deliveries.filter((d: { recipientId: string }) => d.recipientId === 'tech-li');
    expect(sent[0]).toEqual(expect.objectContaining({ channel: 'robot-b', status: 'sent', attempts: 1, sentAt: sixPm, nextAttemptAt: null }));
  });
});
