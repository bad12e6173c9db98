import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteStores, postgresStores, type TestStore, type TestStoreFactory } from '../tickets/test-support.ts';
import type { Db } from '../store/db.ts';
import { auditDetail, SqlAuditLog } from './audit-log.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');

function auditSuite(factory: TestStoreFactory): void {
  let store: TestStore;
  let db: Db;
  let audit: SqlAuditLog;

  beforeAll(async () => {
    store = await factory.create();
    db = await store.open();
    audit = new SqlAuditLog(db);
    const base = { role: 'admin', method: 'PUT', status: 200 };
    await audit.record({ ...base, at: T0, actor: 'admin', action: 'devices.put', targetType: 'devices', targetId: 'HM-1', path: '/api/v1/devices/HM-1', detail: { kind: 'flow_meter' }, requestId: 'req-1', clientIp: '10.0.0.1' });
    await audit.record({ ...base, at: T0 + 1000, actor: 'sup-zhao', role: 'supervisor', action: 'settings.sla.put', targetType: 'settings', path: '/api/v1/settings/sla', detail: { limits: {} } });
    await audit.record({ ...base, at: T0 + 2000, actor: 'admin', method: 'DELETE', status: 204, action: 'tokens.delete', targetType: 'tokens', targetId: 'tok-1', path: '/api/v1/tokens/tok-1' });
  });
  afterAll(async () => {
    await db?.close();
    await store?.dispose();
  });

  it('lists newest first with every field', async () => {
    const items = await audit.list({ limit: 10 });
    expect(items.map((i) => i.action)).toEqual(['tokens.delete', 'settings.sla.put', 'devices.put']);
    expect(items[2]).toEqual({
      id: expect.any(String), at: new Date(T0).toISOString(), actor: 'admin', role: 'admin', action: 'devices.put', targetType: 'devices', targetId: 'HM-1',
      method: 'PUT', path: '/api/v1/devices/HM-1', status: 200, requestId: 'req-1', clientIp: '10.0.0.1', detail: { kind: 'flow_meter' },
    });
    expect(items[0]).toMatchObject({ targetId: 'tok-1', requestId: null, clientIp: null, detail: null });
  });

  it('filters by actor, action, target, time and pages backwards by id', async () => {
    expect((await audit.list({ actor: 'sup-zhao', limit: 10 })).map((i) => i.action)).toEqual(['settings.sla.put']);
    expect((await audit.list({ targetType: 'devices', targetId: 'HM-1', limit: 10 })).length).toBe(1);
    expect((await audit.list({ action: 'tokens.delete', limit: 10 })).length).toBe(1);
    expect((await audit.list({ fromMs: T0 + 500, toMs: T0 + 1500, limit: 10 })).map((i) => i.action)).toEqual(['settings.sla.put']);
    const [newest] = await audit.list({ limit: 1 });
    expect((await audit.list({ beforeId: newest!.id, limit: 10 })).map((i) => i.action)).toEqual(['settings.sla.put', 'devices.put']);
  });
}

describe('audit log on PGlite', () => auditSuite(pgliteStores));

const url = process.env.TEST_DATABASE_URL;
if (url) {
  describe('audit log on PostgreSQL', () => auditSuite(postgresStores(url)));
} else if (process.env.CI) {
  describe('audit log on PostgreSQL', () => {
    it('needs TEST_DATABASE_URL in CI', () => {
      throw new Error('TEST_DATABASE_URL is not set: run `bash scripts/services.sh start postgres` and export the DATABASE_URL it prints as TEST_DATABASE_URL');
    });
  });
} else {
  describe.skip('audit log on PostgreSQL (skipped: set TEST_DATABASE_URL)', () => {
    it('runs the audit suite', () => {});
  });
}

describe('auditDetail', () => {
  it('masks secret-looking keys at any depth and caps the size', () => {
    expect(auditDetail({ name: 'x', password: 'p', channels: [{ webhookSecret: 's', url: 'u' }], apiKey: 'k' })).toEqual({ name: 'x', password: '[redacted]', channels: [{ webhookSecret: '[redacted]', url: 'u' }], apiKey: '[redacted]' });
    expect(auditDetail(undefined)).toBeNull();
    const big = auditDetail({ note: 'x'.repeat(20_000) }) as { truncated: boolean; chars: number; head: string };
    expect(big.truncated).toBe(true);
    expect(big.head.length).toBe(16 * 1024);
  });
});
