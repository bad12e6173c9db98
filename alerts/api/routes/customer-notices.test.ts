/**
 * Customer notices end to end in one process: the ticket service records a LOW_BALANCE /
 * NO_BALANCE notice, the push dispatcher sends it through the customer-webhook channel to a
 * stand-in customer system (real HTTP, signature checked), and GET /api/v1/customer-notices shows
 * where each stands. PGlite with every migration; time is a ManualClock and a ManualScheduler.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { createChannels } from '../../push/channels.ts';
import { CustomerNoticeLog } from '../../push/customer-notice-log.ts';
import { PushDispatcher } from '../../push/delivery-queue.ts';
import { ManualScheduler } from '../../push/scheduler.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { FakeDirectory, HOUR, lookupDevice, MIN, newBook, raise, T0 } from '../../tickets/test-support.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const OPERATOR = 'operator-token';
const TECH = 'tech-token';
const SECRET = 'crm-shared-secret-0123456789';
const log = pino({ level: 'silent' });

let app: FastifyInstance;
let db: Db;
let crm: Server;
/** What the stand-in customer system received, with whether the signature held. */
const received: Array<{ deviceId: string; account: string | null; idempotencyKey: string; signed: boolean }> = [];
/** Its answer per device: HM-2 is down once, HA-1's account is unknown to it. */
const answers: Record<string, number[]> = { 'HM-1': [202], 'HM-2': [503, 202], 'HA-1': [422] };

const clock = new ManualClock(T0);
const scheduler = new ManualScheduler(clock);
const book = newBook();
let svc: TicketService;
let withCrm: PushDispatcher;
let withoutCustomerChannel: PushDispatcher;
let dispatcher: PushDispatcher;
const sending: Promise<unknown>[] = [];

/** Raises the condition, lets the ticket service record its notice and the dispatcher send it. */
async function notify(deviceId: string, condition: 'LOW_BALANCE' | 'NO_BALANCE', atMs: number): Promise<void> {
  clock.set(atMs);
  await svc.onAlertChanges(raise(book, deviceId, condition, atMs, { severity: 'info' }));
  await Promise.all(sending.splice(0));
  await dispatcher.idle();
}

const list = async (query = '', token = OPERATOR) => app.inject({ url: `/api/v1/customer-notices${query}`, headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  crm = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const body = JSON.parse(raw);
      const signed = req.headers['x-gas-signature'] === createHmac('sha256', SECRET).update(`${req.headers['x-gas-timestamp']}.${raw}`).digest('hex');
      received.push({ deviceId: body.deviceId, account: body.customer.account, idempotencyKey: String(req.headers['idempotency-key']), signed });
      const queue = answers[body.deviceId]!;
      const status = queue.length > 1 ? queue.shift()! : queue[0]!;
      res.writeHead(signed ? status : 401, { 'content-type': 'application/json' }).end(status === 422 ? '{"error":"unknown account"}' : '{}');
    });
  });
  await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/notices`;

  db = await openDb({});
  const directory = new FakeDirectory();
  svc = new TicketService({ db, clock, directory, lookupDevice });
  const channels = createChannels([{ name: 'sse', type: 'sse' }, { name: 'crm', type: 'customer-webhook', config: { url, secret: SECRET } }], { log, clock });
  withCrm = new PushDispatcher({ db, people: directory, channels, log, clock, scheduler, random: () => 1 });
  withoutCustomerChannel = new PushDispatcher({ db, people: directory, channels: new Map([...channels].filter(([name]) => name !== 'crm')), log, clock, scheduler, random: () => 1 });
  dispatcher = withCrm;
  svc.onNotice((n) => sending.push(dispatcher.dispatchFresh(n)));

  const tokens = new TokenBook();
  tokens.add(OPERATOR, { name: 'call centre', role: 'operator' });
  tokens.add(TECH, { name: 'phone', role: 'technician', personId: 'tech-wang' });
  app = await buildHttpApi({
    alerts: book,
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    tickets: svc,
    customerNotices: new CustomerNoticeLog(db),
  }, log);
});
afterAll(async () => {
  await app.close();
  await withCrm.close();
  await withoutCustomerChannel.close();
  await db.close();
  crm.closeAllConnections();
  await new Promise((resolve) => crm.close(resolve));
});

describe('GET /api/v1/customer-notices with delivery state', () => {
  it('regression issue 12 #8: customer notices never reach the customer and no page shows them — delivered through the customer channel, shown delivered', async () => {
    await notify('HM-1', 'LOW_BALANCE', T0);
    expect(received).toEqual([{ deviceId: 'HM-1', account: '张三', idempotencyKey: expect.stringMatching(/^customer:/), signed: true }]);
    const res = await list();
    expect(res.statusCode).toBe(200);
    const [item] = res.json().items;
    expect(item).toMatchObject({
      id: received[0]!.idempotencyKey,
      deviceId: 'HM-1',
      customer: '张三',
      district: 'east',
      condition: 'LOW_BALANCE',
      title: { 'zh-CN': expect.stringContaining('HM-1'), en: expect.stringContaining('HM-1') },
      body: { 'zh-CN': expect.stringContaining('购气'), en: expect.stringContaining('buy gas') },
      createdAt: new Date(T0).toISOString(),
      resolvedAt: null,
      delivery: { channel: 'crm', status: 'delivered', reason: null, attempts: 1, lastAttemptAt: new Date(T0).toISOString(), nextAttemptAt: null },
      deliveries: [{ channel: 'crm', status: 'delivered', attempts: 1 }],
    });
  });

  it('shows a notice waiting for a retry as pending with the last error and the next attempt, then delivered', async () => {
    await notify('HM-2', 'NO_BALANCE', T0 + HOUR);
    const pending = (await list('?status=pending')).json().items;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      deviceId: 'HM-2',
      delivery: { channel: 'crm', status: 'pending', reason: 'HTTP 503: {}', attempts: 1, lastAttemptAt: new Date(T0 + HOUR).toISOString(), nextAttemptAt: new Date(T0 + HOUR + 1000).toISOString() },
    });
    await scheduler.runNext();
    await dispatcher.idle();
    expect((await list('?deviceId=HM-2')).json().items[0].delivery).toMatchObject({ status: 'delivered', attempts: 2, nextAttemptAt: null });
    expect(received.filter((r) => r.deviceId === 'HM-2').map((r) => r.idempotencyKey)).toEqual([pending[0].id, pending[0].id]);
  });

  it('shows a notice the customer system refused as failed with its reason', async () => {
    await notify('HA-1', 'LOW_BALANCE', T0 + 2 * HOUR);
    const failed = (await list('?status=failed')).json().items;
    expect(failed.map((i: { deviceId: string }) => i.deviceId)).toEqual(['HA-1']);
    expect(failed[0].delivery).toMatchObject({ channel: 'crm', status: 'failed', reason: 'HTTP 422: {"error":"unknown account"}', attempts: 1 });
  });

  it('shows not_delivered with the reason when no customer channel is configured', async () => {
    dispatcher = withoutCustomerChannel;
    try {
      await notify('HM-9', 'NO_BALANCE', T0 + 3 * HOUR);
    } finally {
      dispatcher = withCrm;
    }
    expect(received.some((r) => r.deviceId === 'HM-9')).toBe(false);
    const [item] = (await list('?status=not_delivered')).json().items;
    expect(item).toMatchObject({ deviceId: 'HM-9', delivery: { channel: 'none', status: 'not_delivered', reason: 'no customer channel configured', attempts: 0, lastAttemptAt: null } });
  });

  it('filters by device, status and since, newest first', async () => {
    const all = (await list()).json().items.map((i: { deviceId: string }) => i.deviceId);
    expect(all).toEqual(['HM-9', 'HA-1', 'HM-2', 'HM-1']);
    expect((await list('?since=' + new Date(T0 + HOUR + MIN).toISOString())).json().items.map((i: { deviceId: string }) => i.deviceId)).toEqual(['HM-9', 'HA-1']);
    expect((await list('?status=delivered&since=' + new Date(T0 + 30 * MIN).toISOString())).json().items.map((i: { deviceId: string }) => i.deviceId)).toEqual(['HM-2']);
    expect((await list('?deviceId=HM-1&status=failed')).json().items).toEqual([]);
    expect((await list('?limit=1')).json().items).toHaveLength(1);
  });

  it('refuses a bad query and anyone but staff', async () => {
    expect((await list('?status=lost')).statusCode).toBe(400);
    expect((await list('?since=yesterday')).statusCode).toBe(400);
    expect((await list('?colour=red')).statusCode).toBe(400);
    expect((await list('', TECH)).statusCode).toBe(403);
  });
});
