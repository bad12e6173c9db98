/**
 * A leak reaches the technician's Feishu and is acknowledged from the card, in one process: the
 * ticket service dispatches, the push dispatcher sends through the feishu-app channel to the
 * Feishu stand-in, the stand-in's signed, encrypted tap comes back through the API server's
 * /hooks/v1/push/feishu/card, and the ticket's delivery report names the channel and where the
 * technician acknowledged from. PGlite with every migration; time is a ManualClock.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { bareServices } from '../../api/testing.ts';
import { buildHttpApi } from '../../api/server.ts';
import { TokenBook } from '../../api/tokens.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import { SqlOnCallDirectory } from '../../oncall/oncall-directory.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { FakeDirectory, lookupDevice, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { ActionTokens, sqlTicketOfAlert, ticketActionApplier } from '../actions.ts';
import { createChannels, pushCallbacksOf } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { ManualScheduler } from '../scheduler.ts';
import { notice } from '../testing.ts';
import { cardAction, FEISHU_APP, type FeishuStandIn, feishuCallbackRequest, startFeishuStandIn } from './stand-in.ts';

const OPERATOR = 'operator-token';
const log = pino({ level: 'silent' });
const clock = new ManualClock(T0);
const sending: Promise<unknown>[] = [];
const scheduler = new ManualScheduler(clock);
let feishu: FeishuStandIn;
let db: Db;
let svc: TicketService;
let dispatcher: PushDispatcher;
let app: FastifyInstance;
let channels: ReturnType<typeof createChannels>;

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.all(sending.splice(0));
    await dispatcher.idle();
  }
}

beforeAll(async () => {
  feishu = await startFeishuStandIn();
  db = await openDb({});
  svc = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  const audit = new SqlAuditLog(db);
  const directory = new SqlOnCallDirectory(db, { now: () => clock.now() });
  await directory.savePerson({ ...people['tech-wang']!, accounts: { feishu: 'ou_wang7f3' } });
  const tokens = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 30 * 60_000, audit });
  const applyAction = ticketActionApplier({ tickets: svc, people: directory, ticketOfAlert: sqlTicketOfAlert(db), clock, audit, log });
  channels = createChannels([{ name: 'feishu', type: 'feishu-app', config: { ...FEISHU_APP, baseUrl: feishu.base } }], {
    log,
    clock,
    scheduler,
    receipts: { recordReceipt: (...r) => dispatcher.recordReceipt(...r) },
    people: directory,
    actions: tokens,
    redeemAction: tokens,
    applyAction,
  });
  dispatcher = new PushDispatcher({ db, people: directory, channels, log, clock, scheduler, random: () => 1 });
  svc.onNotice((n) => sending.push(dispatcher.dispatchFresh(n)));

  const apiTokens = new TokenBook();
  apiTokens.add(OPERATOR, { name: 'call centre', role: 'operator' });
  app = await buildHttpApi({
    ...bareServices(),
    tokens: apiTokens,
    tickets: svc,
    clock,
    audit,
    actionTokens: tokens,
    applyAction,
    pushCallbacks: pushCallbacksOf(channels),
  }, log);
});
afterAll(async () => {
  await app.close();
  await dispatcher.close();
  await db.close();
  await feishu.close();
});

describe('a leak pushed to Feishu and acknowledged from the card', () => {
  it('sends the card on dispatch, acknowledges on the tap, and the delivery report says sent on feishu, acknowledged via feishu', async () => {
    await svc.onAlertChanges(raise(newBook(), 'HM-1', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' }));
    await settle();
    const ticket = (await svc.list({ deviceId: 'HM-1' }))[0]!;
    expect(ticket).toMatchObject({ status: 'dispatched', assignee: 'tech-wang' });
    const card = feishu.inbox.find((m) => m.openId === 'ou_wang7f3' && JSON.stringify(m.card).includes(ticket.id))!;
    expect(card).toBeDefined();

    feishu.read(card.messageId, 'ou_wang7f3', T0 + 30_000); // 王工 opens the card, then taps 接单
    clock.advance(45_000);
    const tap = feishuCallbackRequest(clock, cardAction(clock, card.card, '接单 Acknowledge', 'ou_wang7f3'));
    const res = await app.inject({ method: 'POST', url: '/hooks/v1/push/feishu/card', headers: tap.headers, payload: tap.body });
    expect(res.statusCode).toBe(200);
    expect(res.json().toast.type).toBe('success');
    expect((await svc.get(ticket.id))!.status).toBe('acknowledged');

    const detail = await app.inject({ url: `/api/v1/tickets/${ticket.id}`, headers: { authorization: `Bearer ${OPERATOR}` } });
    const rows = detail.json().deliveries.filter((d: { kind: string; recipientId: string }) => d.kind === 'ticket.dispatched' && d.recipientId === 'tech-wang');
    expect(rows).toEqual([expect.objectContaining({ channel: 'feishu', status: 'sent', attempts: 1, sentAt: new Date(T0).toISOString(), readAt: null, acknowledgedVia: 'feishu' })]);

    // Five minutes after sending, Feishu is asked once who read the card (read_users): the time it was opened.
    await scheduler.advance(5 * 60_000);
    const after = await app.inject({ url: `/api/v1/tickets/${ticket.id}`, headers: { authorization: `Bearer ${OPERATOR}` } });
    const read = after.json().deliveries.find((d: { kind: string; recipientId: string }) => d.kind === 'ticket.dispatched' && d.recipientId === 'tech-wang');
    expect(read).toMatchObject({ channel: 'feishu', status: 'delivered', readAt: new Date(T0 + 30_000).toISOString(), deliveredAt: new Date(T0 + 30_000).toISOString() });
  });

  it('gives a leak pushed ahead of its ticket working buttons: a tap before the ticket opens says not yet and keeps the token, after it acknowledges', async () => {
    const book = newBook();
    const changes = raise(book, 'HM-2', 'GAS_ALARM_L2', clock.now(), { severity: 'critical' });
    const alertId = changes[0]!.alert.id;
    // The safety lane's push: before any ticket, naming the alert.
    await channels.get('feishu')!.channel.send(
      notice({ id: `alarm:${alertId}`, kind: 'alarm.raised', ticketId: '', url: undefined, data: { alertIds: [alertId], deviceId: 'HM-2' } }),
      { ...people['tech-wang']!, accounts: { feishu: 'ou_wang7f3' } },
    );
    const card = feishu.inbox.at(-1)!.card;
    const press = async () => {
      const tap = feishuCallbackRequest(clock, cardAction(clock, card, '接单 Acknowledge', 'ou_wang7f3'));
      return (await app.inject({ method: 'POST', url: '/hooks/v1/push/feishu/card', headers: tap.headers, payload: tap.body })).json();
    };
    expect((await press()).toast).toMatchObject({ type: 'error', i18n: { zh_cn: '工单尚未生成，请稍后再试' } });

    await svc.onAlertChanges(changes);
    await settle();
    const ticket = (await svc.list({ deviceId: 'HM-2' }))[0]!;
    const done = await press();
    expect(done.toast.type).toBe('success');
    expect(JSON.stringify(done.card.data)).toContain(ticket.id);
    expect((await svc.get(ticket.id))!.status).toBe('acknowledged');
  });
});
