/**
 * The web-push channel against a local push service (push-service-testing.ts): it checks the VAPID
 * JWT (RFC 8292, ES256 over the endpoint's origin) and decrypts the aes128gcm payload (RFC 8291)
 * with the browser's private key and auth secret, as a real push service's browser would.
 * Subscriptions live in PGlite with every migration.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { ActionTokens } from '../actions.ts';
import { createChannels } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { notice, technician } from '../testing.ts';
import { type WebPushChannel, webPushOf } from './index.ts';
import { type Browser, newBrowser, type PushDelivery, type PushServiceStandIn, startPushServiceStandIn } from './push-service-testing.ts';

let service: PushServiceStandIn;
beforeAll(async () => {
  service = await startPushServiceStandIn();
});
afterAll(() => service.close());

let db: Db;
beforeAll(async () => {
  db = await openDb({ inThread: true });
});
afterAll(async () => db.close());

beforeEach(async () => {
  service.reset();
  await db.query('DELETE FROM push_subscriptions');
});

const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const log = pino({ level: 'silent' });
let actions: ActionTokens;
beforeAll(() => {
  actions = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 1_800_000 });
});

function channel(config: Record<string, unknown> = {}, dataDir?: string): WebPushChannel {
  const channels = createChannels([{ name: 'phones', type: 'web-push', config: { subject: 'mailto:ops@example.com', ...config } }], { log, clock, db, actions, ...(dataDir ? { dataDir } : {}) });
  return webPushOf(channels)!;
}

async function subscribe(ch: WebPushChannel, browser: Browser, personId = technician.id) {
  await ch.subscriptions.save(personId, service.subscribe(browser), 'test', clock.now());
}

describe('web-push channel against a local push service', () => {
  it('delivers an emergency that decrypts with the browser’s keys, signed by VAPID, high urgency, short TTL, one topic per ticket, 接单/到场 buttons', async () => {
    const ch = channel();
    const phone = newBrowser('phone-1');
    await subscribe(ch, phone);
    await expect(ch.send(notice({ id: 'N-1' }), technician)).resolves.toEqual({ delivered: true });
    await expect(ch.send(notice({ id: 'N-2', priority: 'normal' }), technician)).resolves.toEqual({ delivered: true });

    expect(service.delivered).toHaveLength(2);
    const [first, second] = service.delivered as [PushDelivery, PushDelivery];
    expect(first.vapidKey).toBe(ch.publicKey);
    expect(first).toMatchObject({ ttl: '300', urgency: 'high' });
    expect(second).toMatchObject({ ttl: '3600', urgency: 'normal' });
    expect(first.topic).toMatch(/^[A-Za-z0-9_-]{1,32}$/);
    expect(second.topic).toBe(first.topic);
    expect(first.payload).toMatchObject({
      noticeId: 'N-1',
      ticketId: 'T000001',
      title: '【紧急】二级燃气报警：城东区幸福路12号',
      tag: 'T000001',
      requireInteraction: true,
      actions: [
        { action: 'acknowledge', title: '接单 Acknowledge', token: expect.any(String) },
        { action: 'on_site', title: '到场 On site', token: expect.any(String) },
      ],
    });
    expect(first.payload.body).toContain('请立即到场');
    expect(first.payload.body).toContain('Gas alarm, level 2');
    // Each button's token acts once, as this person, on this ticket.
    const [ack, onSite] = first.payload.actions;
    await expect(actions.redeem(ack!.token, { via: 'link' })).resolves.toEqual({ personId: technician.id, ticketId: 'T000001', action: 'acknowledge' });
    await expect(actions.redeem(onSite!.token, { via: 'link' })).resolves.toEqual({ personId: technician.id, ticketId: 'T000001', action: 'on_site' });
    await expect(actions.redeem(ack!.token, { via: 'link' })).rejects.toMatchObject({ reason: 'replayed' });
  });

  it('gives a notice about another ticket another topic; a leak pushed ahead of its ticket gets buttons acting on its alert', async () => {
    const ch = channel();
    await subscribe(ch, newBrowser('phone-2'));
    await ch.send(notice({ id: 'N-3', ticketId: 'T000002' }), technician);
    await ch.send(notice({ id: 'N-4', ticketId: '', kind: 'alarm.raised', data: { alertIds: ['A-9'] } }), technician);
    await ch.send(notice({ id: 'N-5', ticketId: '', kind: 'alarm.raised', data: {} }), technician);
    expect(service.delivered[0]!.topic).not.toBe(service.delivered[1]!.topic);
    const [ack] = service.delivered[1]!.payload.actions;
    await expect(actions.redeem(ack!.token, { via: 'link' })).resolves.toEqual({ personId: technician.id, ticketId: 'alert:A-9', action: 'acknowledge' });
    // Nothing to act on: no buttons.
    expect(service.delivered[2]!.payload.actions).toEqual([]);
  });

  it('removes a subscription the push service answers 410 or 404 for, and still delivers to the person’s other phone', async () => {
    const ch = channel();
    await subscribe(ch, newBrowser('old-phone'));
    await subscribe(ch, newBrowser('new-phone'));
    service.answers.set('old-phone', { status: 410 });
    await expect(ch.send(notice(), technician)).resolves.toEqual({ delivered: true });
    expect((await ch.subscriptions.forPerson(technician.id)).map((s) => s.endpoint)).toEqual([`${service.base}/push/new-phone`]);

    service.answers.set('new-phone', { status: 404 });
    await expect(ch.send(notice(), technician)).resolves.toEqual({ delivered: false, reason: expect.stringContaining('expired') });
    expect(await ch.subscriptions.forPerson(technician.id)).toEqual([]);
  });

  it('cuts a long notice so the encrypted body stays within the 4096 bytes a push service must take', async () => {
    const ch = channel();
    await subscribe(ch, newBrowser('phone-long'));
    const long = '燃气泄漏，请立即处置。'.repeat(400);
    await expect(ch.send(notice({ body: { 'zh-CN': long, en: 'Gas leak, act now. '.repeat(400) } }), technician)).resolves.toEqual({ delivered: true });
    expect(service.delivered[0]!.payload.body.endsWith('…')).toBe(true);
    expect(service.delivered[0]!.payload.actions).toHaveLength(2);
  });

  it('answers not delivered for a person who never subscribed', async () => {
    await expect(channel().send(notice(), technician)).resolves.toEqual({ delivered: false, reason: 'no Web Push subscription' });
  });

  it('sorts the push service’s refusals: 429 waits Retry-After, 5xx retries, other 4xx is permanent; the subscription is kept', async () => {
    const ch = channel();
    await subscribe(ch, newBrowser('busy'));
    service.answers.set('busy', { status: 429, headers: { 'retry-after': '30' } });
    const throttled = await ch.send(notice(), technician).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect((throttled as PushThrottledError).retryAfterMs).toBe(30_000);
    service.answers.set('busy', { status: 503 });
    await expect(ch.send(notice(), technician)).rejects.toBeInstanceOf(PushUnavailableError);
    service.answers.set('busy', { status: 413 });
    await expect(ch.send(notice(), technician)).rejects.toBeInstanceOf(PushRejectedError);
    expect(await ch.subscriptions.forPerson(technician.id)).toHaveLength(1);
  });

  it('generates the VAPID keys once and keeps them in DATA_DIR (owner-only), so browsers stay subscribed across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vapid-'));
    const first = channel({}, dir);
    const again = channel({}, dir);
    expect(again.publicKey).toBe(first.publicKey);
    const file = join(dir, 'web-push-vapid.json');
    expect(JSON.parse(readFileSync(file, 'utf8')).publicKey).toBe(first.publicKey);
    expect(statSync(file).mode & 0o077).toBe(0);
  });
});
