import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterLog } from '../../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../../registry/device-registry.ts';
import { AlertBook } from '../../alert-book.ts';
import { buildHttpApi } from '../server.ts';
import { TokenBook } from '../tokens.ts';
import { consoleRoutes } from './console.ts';
import Fastify from 'fastify';

const ADMIN = 'console-admin-token';
const TECH = 'console-tech-token';
const AT = Date.parse('2026-11-23T02:00:00Z');
let app: FastifyInstance;
let alerts: AlertBook;

beforeAll(async () => {
  alerts = new AlertBook({ historyLimit: 100, compactAfterLines: 100, fsync: false });
  const tokens = new TokenBook();
  tokens.add(ADMIN, { name: 'admin', role: 'admin' });
  tokens.add(TECH, { name: 'phone', role: 'technician', personId: 'P-1' });
  app = await buildHttpApi({
    alerts,
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens,
    health: () => ({ status: 'ok', checks: {} }),
  }, pino({ level: 'silent' }), { sseHeartbeat: () => () => undefined });
  await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(() => app.close());

const base = () => {
  const a = app.server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
};

describe('web console', () => {
  it('sends / to /console/ and serves the built page without a token', async () => {
    const root = await app.inject({ url: '/' });
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/console/');
    const page = await app.inject({ url: '/console/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await app.inject({ url: script! });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toContain('immutable');
    expect((await app.inject({ url: '/console' })).headers.location).toBe('/console/');
    // The "打开工单 Open ticket" link of pushes sent before hash links (it answered 404) opens the ticket.
    const link = await app.inject({ url: '/console/tickets/T000042' });
    expect(link.statusCode).toBe(302);
    expect(link.headers.location).toBe('/console/#/tickets/T000042');
    // The notification worker must be re-read after a new build, like the page.
    const worker = await app.inject({ url: '/console/sw.js' });
    expect(worker.statusCode).toBe(200);
    expect(worker.headers['cache-control']).toBe('no-cache');
  });

  it('keeps the API answers JSON: unknown paths are still 404 with the error shape', async () => {
    const res = await app.inject({ url: '/console/nope.js' });
    expect(res.statusCode).toBe(404);
    expect((await app.inject({ url: '/nope' })).json()).toMatchObject({ error: 'GAS_HTTP_NOT_FOUND' });
  });

  it('refuses to start without a bundle, naming the build command', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'console-missing-'));
    const bare = Fastify();
    await expect(bare.register(consoleRoutes, { rootDir: empty }).ready()).rejects.toThrow(/npm run console:build/);
    writeFileSync(join(empty, 'index.html'), '<!doctype html>');
    const ok = Fastify();
    await ok.register(consoleRoutes, { rootDir: empty });
    expect((await ok.inject({ url: '/console/' })).statusCode).toBe(200);
  });

  it('tells a token who it is', async () => {
    expect((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${TECH}` } })).json()).toEqual({ name: 'phone', role: 'technician', personId: 'P-1' });
    expect((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${ADMIN}` } })).json()).toEqual({ name: 'admin', role: 'admin', personId: null });
    expect((await app.inject({ url: '/api/v1/me' })).statusCode).toBe(401);
  });

  it('streams alert raises and clears to any role, with the token in the query for EventSource', async () => {
    expect((await fetch(`${base()}/api/v1/stream/alerts?access_token=wrong`)).status).toBe(401);
    const controller = new AbortController();
    const res = await fetch(`${base()}/api/v1/stream/alerts?access_token=${TECH}`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}`);
        text += decoder.decode(value, { stream: true });
      }
    };
    await readUntil(/: connected/);
    alerts.apply([{ type: 'raise', subject: 'device', subjectId: 'HA-1', gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT }]);
    await readUntil(/event: alert\.raised\ndata: .*\n\n/);
    alerts.apply([{ type: 'clear', subject: 'device', subjectId: 'HA-1', gatewayId: 'GW-1', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT + 60_000 }]);
    await readUntil(/event: alert\.cleared\ndata: .*\n\n/);
    const raised = JSON.parse(/event: alert\.raised\ndata: (.*)\n/.exec(text)![1]!);
    expect(raised).toMatchObject({ deviceId: 'HA-1', condition: 'GAS_ALARM_L2', state: 'active', severity: 'critical' });
    expect(raised.cause).toContain(' / ');
    controller.abort();
  });

  it('replays the alert changes after ?lastEventId= on the alert stream, ids being the alert book sequence', async () => {
    const from = alerts.lastChangeSeq;
    alerts.apply([{ type: 'raise', subject: 'device', subjectId: 'HA-2', gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT }]);
    const controller = new AbortController();
    const res = await fetch(`${base()}/api/v1/stream/alerts?access_token=${TECH}&lastEventId=${from}`, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('HA-2')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toContain(`id: ${from + 1}\nevent: alert.raised\n`);
    controller.abort();
    expect((await fetch(`${base()}/api/v1/stream/alerts?access_token=${TECH}&lastEventId=${'9'.repeat(101)}`)).status).toBe(400);
  });
});
