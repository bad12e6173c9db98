/**
 * API hardening, through the real app over `inject`: helpful 4xx answers for bad bodies, 429 after
 * repeated authentication failures from one address, no token in any log line, and the audit log
 * of every change (device registry, SLA settings, tokens, on-call, tickets) on a PGlite store.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { createLogger } from '../../app/logging.ts';
import { DeadLetterLog } from '../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../registry/device-registry.ts';
import { SqlAuditLog } from '../audit/audit-log.ts';
import { SqlOnCallDirectory } from '../oncall/oncall-directory.ts';
import { parseSlaSettings, type SlaSettings } from '../sla/sla-policy.ts';
import type { Db } from '../store/db.ts';
import { openDb } from '../store/open-db.ts';
import { TicketService } from '../tickets/ticket-service.ts';
import { FakeDirectory, T0, lookupDevice, newBook, raise } from '../tickets/test-support.ts';
import { AuthFailureLimiter } from './auth-limiter.ts';
import { buildHttpApi } from './server.ts';
import { SqlTokenStore } from './token-store.ts';
import { TokenBook, TokenChain } from './tokens.ts';

const ADMIN = 'hardening-admin-token-0123456789';
const h = (token: string) => ({ authorization: `Bearer ${token}` });
const clock = new ManualClock(T0);
let app: FastifyInstance;
let db: Db;
let sla: SlaSettings = parseSlaSettings({});
let ticketId: string;
const logLines: string[] = [];

beforeAll(async () => {
  db = await openDb({});
  const book = newBook();
  const tickets = new TicketService({ db, clock, directory: new FakeDirectory(), lookupDevice });
  const store = new SqlTokenStore(db);
  const bootstrap = new TokenBook();
  bootstrap.add(ADMIN, { name: 'admin', role: 'admin' });
  const sink = new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } });
  app = await buildHttpApi({
    alerts: book,
    registry: new DeviceRegistry([{ deviceId: 'HM-1', kind: 'household_meter', district: 'east' }]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens: new TokenChain(bootstrap, store),
    health: () => ({ status: 'ok', checks: {} }),
    apiTokens: store,
    tickets,
    oncall: new SqlOnCallDirectory(db),
    getSlaSettings: () => sla,
    setSlaSettings: (s) => {
      sla = s;
    },
    clock,
    audit: new SqlAuditLog(db),
  }, createLogger('info', sink), { authFailures: { maxFailures: 3, windowMs: 60_000 }, bodyLimitBytes: 64 * 1024 });
  await tickets.onAlertChanges(raise(book, 'HM-1', 'ERR-1', clock.now()));
  ticketId = (await tickets.list({ deviceId: 'HM-1' }))[0]!.id;
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe('bad request bodies get a 4xx that says what to fix', () => {
  const json = { ...h(ADMIN), 'content-type': 'application/json' };
  it.each([
    { name: 'oversized body', method: 'PUT', url: '/api/v1/devices/HM-2', headers: json, payload: JSON.stringify({ kind: 'flow_meter', note: 'x'.repeat(70 * 1024) }), status: 413, code: 'GAS_HTTP_BODY_TOO_LARGE', says: '65536-byte limit' },
    { name: 'truncated JSON', method: 'PUT', url: '/api/v1/devices/HM-2', headers: json, payload: '{"kind":', status: 400, code: 'GAS_HTTP_INVALID_JSON', says: 'not valid JSON' },
    { name: '__proto__ key', method: 'PUT', url: '/api/v1/devices/HM-2', headers: json, payload: '{"kind":"flow_meter","__proto__":{"admin":true}}', status: 400, code: 'GAS_HTTP_INVALID_JSON', says: '__proto__' },
    { name: 'plain-text body', method: 'PUT', url: '/api/v1/devices/HM-2', headers: { ...h(ADMIN), 'content-type': 'text/plain' }, payload: 'kind=flow_meter', status: 400, code: 'GAS_HTTP_VALIDATION', says: 'Content-Type: application/json' },
    { name: 'unsupported media type', method: 'PUT', url: '/api/v1/devices/HM-2', headers: { ...h(ADMIN), 'content-type': 'application/xml' }, payload: '<kind/>', status: 415, code: 'GAS_HTTP_UNSUPPORTED_MEDIA_TYPE', says: 'application/json' },
    { name: 'array body', method: 'PUT', url: '/api/v1/devices/HM-2', headers: json, payload: '[1]', status: 400, code: 'GAS_HTTP_VALIDATION', says: 'JSON object' },
    { name: 'wrong type', method: 'PUT', url: '/api/v1/devices/HM-2', headers: json, payload: JSON.stringify({ kind: 'flow_meter', qmaxM3h: '160' }), status: 400, code: 'GAS_HTTP_VALIDATION', says: 'qmaxM3h' },
    { name: 'unknown field', method: 'POST', url: '/api/v1/tokens', headers: json, payload: JSON.stringify({ name: 'x', role: 'admin', isRoot: true }), status: 400, code: 'GAS_HTTP_VALIDATION', says: "unknown field 'isRoot'" },
    { name: 'value outside an enum', method: 'POST', url: '/api/v1/tokens', headers: json, payload: JSON.stringify({ name: 'x', role: 'root' }), status: 400, code: 'GAS_HTTP_VALIDATION', says: 'body/role must be one of "admin", "supervisor", "operator", "technician"' },
    { name: 'missing field', method: 'POST', url: '/api/v1/tokens', headers: json, payload: JSON.stringify({ role: 'admin' }), status: 400, code: 'GAS_HTTP_VALIDATION', says: "required property 'name'" },
    { name: 'no body', method: 'POST', url: '/api/v1/tokens', headers: h(ADMIN), payload: undefined, status: 400, code: 'GAS_HTTP_VALIDATION', says: 'JSON object' },
    { name: 'string too long', method: 'POST', url: `/api/v1/tickets/T000001/comments`, headers: json, payload: JSON.stringify({ body: 'x'.repeat(4001) }), status: 400, code: 'GAS_HTTP_VALIDATION', says: 'body/body' },
    { name: 'unknown SLA field', method: 'PUT', url: '/api/v1/settings/sla', headers: json, payload: JSON.stringify({ limitz: {} }), status: 400, code: 'GAS_HTTP_VALIDATION', says: "unknown field 'limitz'" },
    { name: 'bad path id', method: 'GET', url: `/api/v1/devices/${'a'.repeat(65)}`, headers: h(ADMIN), payload: undefined, status: 400, code: 'GAS_HTTP_VALIDATION', says: 'params/id' },
    { name: 'unknown query parameter', method: 'GET', url: '/api/v1/tickets?sort=desc', headers: h(ADMIN), payload: undefined, status: 400, code: 'GAS_HTTP_VALIDATION', says: "unknown field 'sort'" },
  ])('$name → $status $code', async ({ method, url, headers, payload, status, code, says }) => {
    const res = await app.inject({ method: method as 'PUT', url, headers, ...(payload === undefined ? {} : { payload }) });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ error: code, requestId: expect.any(String) });
    expect(res.json().message).toContain(says);
  });
});

describe('authentication failures', () => {
  it('answers 429 with Retry-After once an address failed too often, even with a valid token; others are unaffected', async () => {
    const from = { remoteAddress: '10.9.9.9' };
    for (let i = 0; i < 3; i++) {
      expect((await app.inject({ url: '/api/v1/alerts', headers: h(`guess-${i}`), ...from })).statusCode).toBe(401);
    }
    const blocked = await app.inject({ url: '/api/v1/alerts', headers: h(ADMIN), ...from });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: 'GAS_HTTP_TOO_MANY_AUTH_FAILURES' });
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await app.inject({ url: '/api/v1/alerts', headers: h(ADMIN), remoteAddress: '10.9.9.10' })).statusCode).toBe(200);
    // Health and metrics stay reachable for probes.
    expect((await app.inject({ url: '/healthz', ...from })).statusCode).toBe(200);
  });

  it('limits per address in fixed windows and forgets old windows', () => {
    let now = 0;
    const limiter = new AuthFailureLimiter({ maxFailures: 2, windowMs: 1000, maxClients: 2 }, () => now);
    limiter.fail('a');
    expect(limiter.blockedForMs('a')).toBe(0);
    limiter.fail('a');
    expect(limiter.blockedForMs('a')).toBe(1000);
    now = 999;
    expect(limiter.blockedForMs('a')).toBe(1);
    now = 1000;
    expect(limiter.blockedForMs('a')).toBe(0);
    limiter.fail('b');
    limiter.fail('c');
    limiter.fail('d'); // over maxClients: the oldest window goes
    limiter.fail('d');
    expect(limiter.blockedForMs('d')).toBeGreaterThan(0);
  });

  it('keeps tokens out of the logs, bearer and ?access_token= alike, and logs the failure', async () => {
    const secret = 'gas_not-a-real-token-but-secret';
    await app.inject({ url: '/api/v1/alerts', headers: h(secret), remoteAddress: '10.1.1.1' });
    await app.inject({ url: `/api/v1/stream?access_token=${secret}`, remoteAddress: '10.1.1.2' });
    await app.inject({ url: '/api/v1/alerts', headers: h(ADMIN) });
    const created = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h(ADMIN), payload: { name: 'log-check', role: 'operator' } });
    const issued = created.json().token as string;
    const all = logLines.join('');
    expect(all).toContain('Authentication failed');
    expect(all).toContain('API token issued');
    for (const t of [secret, ADMIN, issued]) expect(all).not.toContain(t);
  });

  it('redacts secrets that a careless log call would write', () => {
    const lines: string[] = [];
    const log = createLogger('info', new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } }));
    log.info({ config: { databaseUrl: 'postgres://u:pw1@db/gas', mqttPassword: 'pw2', adminToken: 'pw3' }, headers: { authorization: 'Bearer pw4' }, password: 'pw5', push: { secret: 'pw6' } }, 'dump');
    const out = lines.join('');
    for (const s of ['pw1', 'pw2', 'pw3', 'pw4', 'pw5', 'pw6']) expect(out).not.toContain(s);
    expect(out).toContain('[redacted]');
  });
});

describe('audit log', () => {
  it('records who changed what and when: devices, SLA settings, tokens, on-call, tickets', async () => {
    const admin = h(ADMIN);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-7', headers: admin, payload: { kind: 'flow_meter', qmaxM3h: 160 } })).statusCode).toBe(200);
    clock.advance(1000);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/settings/sla', headers: admin, payload: {} })).statusCode).toBe(200);
    const created = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: admin, payload: { name: '赵主管', role: 'supervisor', personId: 'sup-zhao' } });
    const { id: tokenId, token } = created.json() as { id: string; token: string };
    expect((await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${tokenId}`, headers: admin })).statusCode).toBe(204);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/oncall/people/tech-x', headers: admin, payload: { name: 'X', role: 'technician' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketId}/comments`, headers: admin, payload: { body: 'called the customer' } })).statusCode).toBe(201);
    // Refused changes are not changes.
    expect((await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-8', headers: admin, payload: { kind: 'flow_meter', qmaxM3h: 'x' } })).statusCode).toBe(400);

    const res = await app.inject({ url: '/api/v1/audit?limit=100', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(token);
    const items = res.json().items as Array<Record<string, unknown>>;
    const actions = items.map((i) => `${i.action} ${i.targetId}`);
    expect(actions).toEqual(expect.arrayContaining([
      'devices.put HM-7',
      'settings.sla.put null',
      `tokens.post ${tokenId}`,
      `tokens.delete ${tokenId}`,
      'oncall.people.put tech-x',
      `tickets.comments.post ${ticketId}`,
    ]));
    expect(actions.some((a) => a.includes('HM-8'))).toBe(false);
    const device = items.find((i) => i.action === 'devices.put')!;
    expect(device).toMatchObject({ actor: 'admin', role: 'admin', method: 'PUT', path: '/api/v1/devices/HM-7', status: 200, targetType: 'devices', at: new Date(T0).toISOString(), detail: { kind: 'flow_meter', qmaxM3h: 160 } });
    expect(items.find((i) => i.action === 'tokens.post')!.detail).toEqual({ name: '赵主管', role: 'supervisor', personId: 'sup-zhao' });
    // Newest first, and filters.
    expect(Number(items[0]!.id)).toBeGreaterThan(Number(items[items.length - 1]!.id));
    const onlyTokens = (await app.inject({ url: '/api/v1/audit?targetType=tokens', headers: admin })).json().items as Array<{ targetType: string }>;
    expect(onlyTokens.length).toBeGreaterThanOrEqual(2);
    expect(onlyTokens.every((i) => i.targetType === 'tokens')).toBe(true);
    const device7 = (await app.inject({ url: '/api/v1/audit?targetId=HM-7&action=devices.put', headers: admin })).json().items;
    expect(device7).toHaveLength(1);
  });

  it('masks secret-looking fields in what it records', async () => {
    await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-9', headers: h(ADMIN), payload: { kind: 'flow_meter', simPassword: 'hunter2' } });
    const [entry] = (await app.inject({ url: '/api/v1/audit?targetId=HM-9', headers: h(ADMIN) })).json().items;
    expect(entry.detail).toEqual({ kind: 'flow_meter', simPassword: '[redacted]' });
  });

  it('is for admins and supervisors only', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: h(ADMIN), payload: { name: 'op', role: 'operator' } });
    const operator = res.json().token as string;
    expect((await app.inject({ url: '/api/v1/audit', headers: h(operator) })).statusCode).toBe(403);
    expect((await app.inject({ url: '/api/v1/audit?from=yesterday', headers: h(ADMIN) })).statusCode).toBe(400);
  });
});


describe('issue 13: hostile text, depth and tokens at the HTTP edge', () => {
  const admin = h(ADMIN);
  /** A JSON text nested `depth` objects deep: JSON.stringify of such a value would overflow. */
  const deepJson = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

  it.each([
    { url: '/api/v1/tickets?assignee=%00', field: 'querystring/assignee' },
    { url: '/api/v1/audit?actor=%00', field: 'querystring/actor' },
    { url: '/api/v1/oncall?district=%00', field: 'querystring/district' },
    { url: '/api/v1/customer-notices?deviceId=%00', field: 'querystring/deviceId' },
    { url: '/api/v1/alerts?deviceId=HM%1B%5B2J', field: 'querystring/deviceId' },
    { url: '/api/v1/dead-letters?reason=x%C2%9B', field: 'querystring/reason' },
    { url: '/api/v1/tickets?assignee=a&assignee=b%00', field: 'querystring/assignee' },
    { url: '/api/v1/oncall/people/a%00b', field: 'params/id' },
  ])('issue 13 #5: a NUL or control character in $field answers 400 naming the field, not 500 ($url)', async ({ url, field }) => {
    const res = await app.inject({ url, headers: admin });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'GAS_HTTP_UNSAFE_TEXT', requestId: expect.any(String) });
    expect(res.json().message).toContain(field);
    expect(res.body).not.toMatch(/\\u0000|\u0000/);
  });

  it('issue 13 #5: a NUL in a parameter name is refused too, and clean queries still answer', async () => {
    const res = await app.inject({ url: '/api/v1/tickets?assign%00ee=x', headers: admin });
    expect(res.json()).toMatchObject({ error: 'GAS_HTTP_UNSAFE_TEXT', message: expect.stringContaining('parameter name that contains NUL') });
    expect((await app.inject({ url: '/api/v1/tickets?assignee=%E5%BC%A0%E4%B8%89', headers: admin })).statusCode).toBe(200);
  });

  it('issue 13 #4: a registry record with a field 5,000 levels deep is refused with 400 GAS_HTTP_TOO_DEEP, and later registry edits still work', async () => {
    const json = { ...admin, 'content-type': 'application/json' };
    const deep = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-DEEP', headers: json, payload: `{"kind":"flow_meter","extra":${deepJson(5000)}}` });
    expect(deep.statusCode).toBe(400);
    expect(deep.json()).toMatchObject({ error: 'GAS_HTTP_TOO_DEEP', message: expect.stringContaining('body/extra/a/a') });
    expect((await app.inject({ url: '/api/v1/devices/HM-DEEP', headers: admin })).statusCode).toBe(404);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-AFTER', headers: admin, payload: { kind: 'flow_meter', qmaxM3h: 16 } })).statusCode).toBe(200);
    // Within the API's bound but over the registry's own (8), as for the registry file.
    const ten = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-TEN', headers: json, payload: `{"kind":"flow_meter","extra":${deepJson(10)}}` });
    expect(ten.json()).toMatchObject({ error: 'GAS_HTTP_BAD_REQUEST', message: expect.stringContaining('body/extra/a/a') });
    // Every JSON body, not only the registry's.
    const token = await app.inject({ method: 'POST', url: '/api/v1/tokens', headers: json, payload: `{"name":"x","role":"operator","x":${deepJson(10_000)}}` });
    expect(token.json()).toMatchObject({ error: 'GAS_HTTP_TOO_DEEP' });
  });

  it('issue 13 #1: a NUL or lone surrogate in a JSON body is refused with 400 naming the field', async () => {
    const json = { ...admin, 'content-type': 'application/json' };
    const address = await app.inject({ method: 'PUT', url: '/api/v1/devices/HM-NUL', headers: json, payload: '{"kind":"household_meter","address":"No. 5\\u0000"}' });
    expect(address.statusCode).toBe(400);
    expect(address.json()).toMatchObject({ error: 'GAS_HTTP_UNSAFE_TEXT', message: 'body/address contains NUL (U+0000) at 5' });
    const comment = await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketId}/comments`, headers: json, payload: '{"body":"called \\ud800"}' });
    expect(comment.json()).toMatchObject({ error: 'GAS_HTTP_UNSAFE_TEXT', message: expect.stringContaining('body/body contains a lone surrogate') });
    // Line breaks in a comment are fine.
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticketId}/comments`, headers: json, payload: '{"body":"line one\\nline two"}' })).statusCode).toBe(201);
  });

  it('issue 13 #6: a token is taken only as ?access_token= on the stream routes, and redacted in the logs however it is spelled', async () => {
    const before = logLines.length;
    for (const [i, name] of ['access%5Ftoken', 'ACCESS_TOKEN', 'acc%65ss_token', 'access_token%00'].entries()) {
      // One address each: the failures would otherwise earn a 429 before the last spelling.
      const res = await app.inject({ url: `/api/v1/stream/alerts?${name}=${ADMIN}`, remoteAddress: `10.6.6.${i}` });
      expect(res.statusCode, name).toBe(401);
    }
    // Not a stream route: the query token does not count there at all.
    expect((await app.inject({ url: `/api/v1/alerts?access_token=${ADMIN}`, remoteAddress: '10.6.7.1' })).statusCode).toBe(401);
    const written = logLines.slice(before).join('');
    expect(written).toContain('Authentication failed');
    expect(written).toContain('access%5Ftoken=[redacted]');
    expect(written).not.toContain(ADMIN);
  });
});
