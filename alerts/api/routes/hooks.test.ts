/**
 * Issue 14 #5: acknowledge from any channel with a signed, single-use, expiring action token.
 * POST /hooks/v1/actions takes no bearer token (the action token is the credential); a real PGlite
 * store with every migration, a real TicketService, the audit log; time is a ManualClock.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { SqlAuditLog } from '../../audit/audit-log.ts';
import { ActionTokens, actionTicketRef, loadActionSecret, sqlTicketOfAlert, ticketActionApplier } from '../../push/actions.ts';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { FakeDirectory, lookupDevice, MIN, newBook, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';

const log = pino({ level: 'silent' });
let app: FastifyInstance;
let db: Db;
let svc: TicketService;
let audit: SqlAuditLog;
let actions: ActionTokens;
const book = newBook();
const clock = new ManualClock(T0);
const report = { origin: 'report', contact: { name: '张三', phone: '138 0000 0001' }, address: '东区幸福路 1 号 101', district: 'east', description: '厨房有燃气味' };

const redeem = (token: string, ip = '10.0.0.1') => app.inject({ method: 'POST', url: '/hooks/v1/actions', payload: { token }, remoteAddress: ip });
const openTicket = async () => (await svc.openByPerson(report as never, 'op-zhou')).ticket;
const auditOf = async (action: string) => audit.list({ action, limit: 10 });

/** A provider's callback route as a channel plugin declares it: no bearer token in front of it. */
const providerCallback: FastifyPluginAsync = async (cb) => {
  cb.get('/callback', { schema: { response: { 200: { type: 'string' } } } }, async () => 'echo');
};

beforeAll(async () => {
  db = await openDb({});
  const directory = new FakeDirectory();
  svc = new TicketService({ db, clock, directory, lookupDevice });
  audit = new SqlAuditLog(db);
  actions = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: 30 * MIN, audit });
  const tokens = new TokenBook();
  app = await buildHttpApi({
    alerts: book,
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
    tickets: svc,
    clock,
    audit,
    actionTokens: actions,
    applyAction: ticketActionApplier({ tickets: svc, people: directory, ticketOfAlert: sqlTicketOfAlert(db), clock, audit, log }),
    pushCallbacks: [{ name: 'wecom-app', routes: providerCallback }],
  }, log, { authFailures: { maxFailures: 4, windowMs: 60_000 } });
});
afterAll(async () => {
  await app.close();
  await db.close();
});

describe('POST /hooks/v1/actions', () => {
  it('a valid token acknowledges the ticket as the person it was issued to, audited with where it came from', async () => {
    const t = await openTicket();
    expect(t).toMatchObject({ status: 'dispatched', assignee: 'tech-wang' });
    const res = await redeem(actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' }));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ticketId: t.id, action: 'acknowledge', status: 'acknowledged' });
    const detail = await svc.get(t.id);
    expect(detail!.history.at(-1)).toMatchObject({ actor: 'tech-wang', action: 'acknowledge', toStatus: 'acknowledged' });
    expect(await auditOf('tickets.acknowledge.phone')).toEqual([expect.objectContaining({ actor: 'tech-wang', role: 'technician', targetId: t.id, detail: { via: 'link', action: 'acknowledge', status: 'acknowledged' } })]);

    const onSite = await redeem(actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'on_site' }));
    expect(onSite.json()).toEqual({ ticketId: t.id, action: 'on_site', status: 'on_site' });
  });

  it('a token for an alert (a leak pushed ahead of its ticket) acknowledges the ticket opened for that alert; pressed before that ticket opens it does nothing and stays usable', async () => {
    const [change] = raise(book, 'HM-1', 'GAS_ALARM_L2', clock.now(), { kind: 'home_gas_alarm', severity: 'critical' });
    const ref = actionTicketRef({ ticketId: '', data: { alertIds: [change!.alert.id] } });
    expect(ref).toBe(`alert:${change!.alert.id}`);
    const token = actions.issue({ personId: 'tech-wang', ticketId: ref!, action: 'acknowledge' });
    // Pressed while the storm folder still holds the alert: nothing happens, the token stays usable.
    const early = await redeem(token, '10.0.6.1');
    expect(early.statusCode).toBe(409);
    expect(early.json()).toMatchObject({ error: 'GAS_ACTION_NOT_YET', message: expect.stringMatching(/^工单尚未生成/) });
    await svc.onAlertChanges([change!]);
    const res = await redeem(token, '10.0.6.1');
    expect(res.statusCode).toBe(200);
    const { ticketId } = res.json();
    expect((await svc.get(ticketId))!).toMatchObject({ status: 'acknowledged', deviceId: 'HM-1' });
    expect((await redeem(token, '10.0.6.1')).statusCode).toBe(409);
  });

  it('a replayed token is refused (409) and audited, and the ticket is not touched twice', async () => {
    const t = await openTicket();
    const token = actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' });
    expect((await redeem(token, '10.0.1.1')).statusCode).toBe(200);
    const again = await redeem(token, '10.0.1.1');
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: 'GAS_ACTION_TOKEN_REPLAYED' });
    expect(again.json().message).toMatch(/^链接或按钮已用过/);
    expect(await audit.list({ action: 'actions.refused.replayed', targetId: t.id, limit: 10 })).toEqual([expect.objectContaining({ actor: 'tech-wang', targetId: t.id, status: 409, clientIp: '10.0.1.1', detail: { via: 'link', reason: 'replayed', action: 'acknowledge' } })]);
    expect((await svc.get(t.id))!.history.filter((e) => e.action === 'acknowledge')).toHaveLength(1);
  });

  it('a forged token is refused (401) and audited: a changed claim, a token signed with another secret, garbage', async () => {
    const t = await openTicket();
    const good = actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' });
    const [v, body, sig] = good.split('.');
    const claim = JSON.parse(Buffer.from(body!, 'base64url').toString());
    const otherPerson = `${v}.${Buffer.from(JSON.stringify({ ...claim, p: 'sup-zhao' })).toString('base64url')}.${sig}`;
    const otherSecret = new ActionTokens({ db, clock, secret: randomBytes(32), defaultTtlMs: MIN }).issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' });
    for (const token of [otherPerson, otherSecret, 'a1.e30.AAAA']) {
      const res = await redeem(token, '10.0.2.1');
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: 'GAS_ACTION_TOKEN_FORGED' });
    }
    const refused = await auditOf('actions.refused.forged');
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatchObject({ actor: 'unknown', status: 401, clientIp: '10.0.2.1', detail: { via: 'link', reason: 'forged' } });
    expect((await svc.get(t.id))!.status).toBe('dispatched');
  });

  it('an expired token is refused (410) and audited', async () => {
    const t = await openTicket();
    const token = actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' }, 5 * MIN);
    clock.advance(5 * MIN);
    const res = await redeem(token, '10.0.3.1');
    expect(res.statusCode).toBe(410);
    expect(res.json()).toMatchObject({ error: 'GAS_ACTION_TOKEN_EXPIRED' });
    expect(await auditOf('actions.refused.expired')).toEqual([expect.objectContaining({ actor: 'tech-wang', targetId: t.id, status: 410 })]);
    expect((await svc.get(t.id))!.status).toBe('dispatched');
  });

  it("a technician's token for another technician's ticket answers not found, as the API does", async () => {
    const t = await openTicket();
    const res = await redeem(actions.issue({ personId: 'tech-li', ticketId: t.id, action: 'acknowledge' }), '10.0.4.1');
    expect(res.statusCode).toBe(404);
    expect((await svc.get(t.id))!.status).toBe('dispatched');
  });

  it('refused tokens count as failed authentications of the address: past the limit even a good token gets 429', async () => {
    const t = await openTicket();
    for (let i = 0; i < 4; i++) expect((await redeem(`a1.x.${i}`, '10.0.5.1')).statusCode).toBe(401);
    const res = await redeem(actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' }), '10.0.5.1');
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect((await redeem(actions.issue({ personId: 'tech-wang', ticketId: t.id, action: 'acknowledge' }), '10.0.5.2')).statusCode).toBe(200);
  });

  it('takes no bearer token, and a body without a token is a 400 naming the field', async () => {
    const res = await app.inject({ method: 'POST', url: '/hooks/v1/actions', payload: {} });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/token/);
  });
});

describe('/hooks/v1/push/<instance>/', () => {
  it("mounts a channel's provider callbacks outside the bearer-token API", async () => {
    const res = await app.inject({ url: '/hooks/v1/push/wecom-app/callback' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('echo');
    expect((await app.inject({ url: '/api/v1/alerts' })).statusCode).toBe(401);
  });
});

describe('loadActionSecret', () => {
  it('keeps a random 32-byte secret in the data folder (0600) so links outlive a restart', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'action-secret-')), 'action-token-secret');
    const first = loadActionSecret(file);
    expect(first).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadActionSecret(file)).toEqual(first);
    expect(readFileSync(file, 'utf8')).toBe(first.toString('base64url'));
  });
});
