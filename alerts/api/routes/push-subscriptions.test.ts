/**
 * The console's "enable phone notifications": a person's token subscribes its browser, the
 * subscription lands in the web-push channel's store (PGlite with every migration), and only
 * HTTPS push endpoints with well-formed keys are taken.
 */
import { createECDH, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { AlertBook } from '../../alert-book.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import { createChannels } from '../../push/channels.ts';
import { type WebPushChannel, webPushOf } from '../../push/web-push/index.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const log = pino({ level: 'silent' });
const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const TECH = { authorization: 'Bearer tech-token' };
const OTHER_TECH = { authorization: 'Bearer other-tech-token' };
const SERVICE = { authorization: 'Bearer service-token' };

let app: FastifyInstance;
let db: Db;
let webPush: WebPushChannel;

function browserSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint, expirationTime: null, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

beforeAll(async () => {
  db = await openDb({ inThread: true });
  webPush = webPushOf(createChannels([{ name: 'phones', type: 'web-push', config: { subject: 'mailto:ops@example.com' } }], { log, clock, db }))!;
  const tokens = new TokenBook();
  tokens.add('tech-token', { name: 'chen', role: 'technician', personId: 'tech-chen' });
  tokens.add('other-tech-token', { name: 'li', role: 'technician', personId: 'tech-li' });
  tokens.add('service-token', { name: 'crm', role: 'operator' });
  app = await buildHttpApi({
    alerts: new AlertBook({ historyLimit: 10, compactAfterLines: 10, fsync: false }),
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    clock,
    webPush,
    audit: new SqlAuditLog(db),
  }, log);
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('/api/v1/push', () => {
  it('gives the VAPID public key the browser subscribes with, to token holders only', async () => {
    expect((await app.inject({ url: '/api/v1/push/vapid-public-key' })).statusCode).toBe(401);
    const res = await app.inject({ url: '/api/v1/push/vapid-public-key', headers: TECH });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ publicKey: webPush.publicKey });
  });

  it('subscribes the token’s own person, moves a phone that another technician subscribes again, and unsubscribes', async () => {
    const sub = browserSubscription('https://push.example.net/send/abc');
    const res = await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', headers: { ...TECH, 'user-agent': 'iPhone Safari' }, payload: sub });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ endpoint: sub.endpoint, personId: 'tech-chen' });
    expect(await webPush.subscriptions.forPerson('tech-chen')).toMatchObject([{ endpoint: sub.endpoint, keys: sub.keys, userAgent: 'iPhone Safari' }]);
    // The audit trail keeps who subscribed which push service, not the browser's auth secret.
    const [entry] = await new SqlAuditLog(db).list({ limit: 1 });
    expect(entry).toMatchObject({ actor: 'tech-chen', method: 'POST', detail: { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: '[redacted]' } } });

    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', headers: OTHER_TECH, payload: sub })).statusCode).toBe(201);
    expect(await webPush.subscriptions.forPerson('tech-chen')).toEqual([]);
    expect(await webPush.subscriptions.forPerson('tech-li')).toHaveLength(1);

    // Someone else's phone cannot be turned off with your token.
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/push/subscriptions', headers: TECH, payload: { endpoint: sub.endpoint } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/push/subscriptions', headers: OTHER_TECH, payload: { endpoint: sub.endpoint } })).statusCode).toBe(204);
    expect(await webPush.subscriptions.forPerson('tech-li')).toEqual([]);
  });

  it('refuses a token not tied to a person (403), a non-HTTPS endpoint and malformed keys (400)', async () => {
    const sub = browserSubscription('https://push.example.net/send/def');
    const personless = await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', headers: SERVICE, payload: sub });
    expect(personless.statusCode).toBe(403);
    expect(personless.json().message).toContain('personId');
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', headers: TECH, payload: { ...sub, endpoint: 'http://10.0.0.5/internal' } })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/api/v1/push/subscriptions', headers: TECH, payload: { ...sub, keys: { ...sub.keys, auth: 'short' } } })).statusCode).toBe(400);
    expect(await webPush.subscriptions.forPerson('tech-chen')).toEqual([]);
  });
});
