import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PgliteDb } from '../store/pglite-db.ts';
import { OnCallInvalidError, OnCallNotFoundError } from './errors.ts';
import { SqlOnCallDirectory } from './oncall-directory.ts';
import { localToUtcMs } from './rota.ts';
import { loadOnCallConfig, parseOnCallConfig, seedOnCall } from './seed.ts';
import { oncallTestDb } from './testing.ts';

const EXAMPLE = fileURLToPath(new URL('./oncall.example.json', import.meta.url));
const at = (local: string) => localToUtcMs(local.slice(0, 10), local.slice(11, 16), 'Asia/Shanghai');

describe('SqlOnCallDirectory over PGlite, seeded with oncall.example.json', () => {
  let db: PgliteDb;
  let dir: SqlOnCallDirectory;

  // One database per file (PGlite takes a second to start); emptied and re-seeded before each test.
  beforeAll(async () => {
    db = await oncallTestDb();
  });
  afterAll(() => db.close());

  beforeEach(async () => {
    await db.query('TRUNCATE overrides, rotations, teams, people CASCADE');
    await seedOnCall(db, await loadOnCallConfig(EXAMPLE));
    dir = new SqlOnCallDirectory(db);
  });

  it('keeps a person’s push preferences (channel order, fallback, quiet hours), drops them when saved without, and refuses bad ones', async () => {
    const base = { id: 'tech-chen', name: '陈工', role: 'technician', phone: '13900000100' };
    await dir.savePerson({ ...base, channelOrder: ['sse', 'wecom-app', 'sms'], fallbackAfterMs: 120_000, quietHours: { start: '22:00', end: '07:00' } });
    expect(await dir.person('tech-chen')).toMatchObject({ channelOrder: ['sse', 'wecom-app', 'sms'], fallbackAfterMs: 120_000, quietHours: { start: '22:00', end: '07:00' } });
    expect((await dir.listPeople()).find((p) => p.id === 'tech-chen')?.quietHours).toEqual({ start: '22:00', end: '07:00' });
    await dir.savePerson(base);
    const plain = await dir.person('tech-chen');
    expect([plain?.channelOrder, plain?.fallbackAfterMs, plain?.quietHours]).toEqual([undefined, undefined, undefined]);
    await expect(dir.savePerson({ ...base, quietHours: { start: '25:00', end: '07:00' } })).rejects.toBeInstanceOf(OnCallInvalidError);
    await expect(dir.savePerson({ ...base, channelOrder: ['sms', 'sms'] })).rejects.toBeInstanceOf(OnCallInvalidError);
  });

  it('answers from memory: no query per question, a write through it is seen at once, another writer after maxAgeMs', async () => {
    let nowMs = 0;
    const cached = new SqlOnCallDirectory(db, { maxAgeMs: 30_000, now: () => nowMs });
    expect(cached.whoIsOnCallNow('城东区', at('2026-11-02 10:00'))).toBeUndefined();
    await cached.load();
    let queries = 0;
    const query = db.query.bind(db);
    db.query = ((sql: string, params?: readonly unknown[]) => {
      queries++;
      return query(sql, params);
    }) as typeof db.query;
    try {
      for (let i = 0; i < 100; i++) expect((await cached.whoIsOnCall('城东区', at('2026-11-02 10:00'))).technician?.id).toBe('tech-chen');
      expect(cached.whoIsOnCallNow('城东区', at('2026-11-02 10:00'))?.technician?.id).toBe('tech-chen');
      expect(queries).toBe(0);

      const o = await cached.addOverride({ teamId: 'team-east', personId: 'tech-huang', replacesId: 'tech-chen', fromMs: at('2026-11-02 09:00'), toMs: at('2026-11-02 12:00'), reason: '调休' });
      expect((await cached.whoIsOnCall('城东区', at('2026-11-02 10:00'))).technician?.id).toBe('tech-huang');

      // Another process (here: another directory on the same store) changes the rota.
      expect(await dir.removeOverride(o.id)).toBe(true);
      expect((await cached.whoIsOnCall('城东区', at('2026-11-02 10:00'))).technician?.id).toBe('tech-huang');
      nowMs = 30_001;
      cached.whoIsOnCallNow('城东区', at('2026-11-02 10:00'));
      await cached.load();
      expect(cached.whoIsOnCallNow('城东区', at('2026-11-02 10:00'))?.technician?.id).toBe('tech-chen');
    } finally {
      db.query = query;
    }
  });

  it('answers who is on call in a district, with supervisor and director', async () => {
    const answer = await dir.whoIsOnCall('城东区', at('2026-11-02 10:00'));
    expect(answer).toMatchObject({
      district: '城东区',
      teamId: 'team-east',
      technician: { id: 'tech-chen', name: '陈工', role: 'technician', webhooks: ['wecom-east'] },
      shift: { name: 'a', kind: 'on_site', startsAt: '2026-11-02T01:00:00.000Z', endsAt: '2026-11-02T09:00:00.000Z' },
      supervisor: { id: 'sup-li' },
      director: { id: 'dir-wang' },
    });
  });

  it('flags home on-call and leaves the technician empty outside every shift', async () => {
    expect((await dir.whoIsOnCall('城西区', at('2026-11-02 21:00'))).shift).toMatchObject({ name: 'c', kind: 'home' });
    const night = await dir.whoIsOnCall('城西区', at('2026-11-02 23:30'));
    expect(night.technician).toBeUndefined();
    expect(night.supervisor?.id).toBe('sup-zhao');
  });

  it("falls back to the '*' team for an uncovered or unknown district", async () => {
    expect((await dir.whoIsOnCall('高新区', at('2026-11-02 10:00'))).teamId).toBe('team-west');
    expect((await dir.whoIsOnCall(undefined, at('2026-11-02 10:00'))).technician?.id).toBe('tech-zhou');
  });

  it('throws when no team covers a district and there is no fallback', async () => {
    await dir.saveTeam({ id: 'team-west', name: 'West', districts: ['城西区'] });
    await expect(dir.whoIsOnCall('高新区', 0)).rejects.toBeInstanceOf(OnCallNotFoundError);
  });

  it('applies and removes overrides', async () => {
    const o = await dir.addOverride({ teamId: 'team-east', personId: 'tech-huang', replacesId: 'tech-chen', fromMs: at('2026-11-02 09:00'), toMs: at('2026-11-02 12:00'), reason: '调休 day off' });
    expect((await dir.whoIsOnCall('城东区', at('2026-11-02 10:00'))).technician?.id).toBe('tech-huang');
    expect((await dir.whoIsOnCall('城东区', at('2026-11-02 12:00'))).technician?.id).toBe('tech-chen');
    expect(await dir.removeOverride(o.id)).toBe(true);
    expect(await dir.removeOverride(o.id)).toBe(false);
    expect((await dir.whoIsOnCall('城东区', at('2026-11-02 10:00'))).technician?.id).toBe('tech-chen');
  });

  it('shows a schedule with names', async () => {
    const day = await dir.schedule('team-east', at('2026-11-09 00:00'), at('2026-11-10 00:00'));
    expect(day.map((e) => [e.shiftName, e.personName])).toEqual([
      ['a', '黄工'],
      ['b', '陈工'],
      ['c', '刘工'],
    ]);
  });

  it('lists teams and keeps records across re-seeding (upsert)', async () => {
    await seedOnCall(db, await loadOnCallConfig(EXAMPLE));
    expect((await dir.listTeams()).map((t) => t.id)).toEqual(['team-east', 'team-west']);
    expect((await dir.listPeople()).length).toBe(11);
  });

  it('validates writes through the schemas and references', async () => {
    await expect(dir.savePerson({ id: 'x', name: 'X', role: 'boss' })).rejects.toBeInstanceOf(OnCallInvalidError);
    await expect(dir.saveTeam({ id: 't', name: 'T', districts: [], supervisorId: 'tech-chen' })).rejects.toThrow(/not a supervisor/);
    await expect(dir.saveRotation({ teamId: 'team-east', members: ['nobody'], shifts: [{ name: 'a', kind: 'on_site', start: '09:00', end: '17:00' }], anchorDate: '2026-11-02' })).rejects.toBeInstanceOf(OnCallNotFoundError);
    await expect(dir.addOverride({ teamId: 'team-east', personId: 'tech-chen', fromMs: 10, toMs: 5, reason: 'x' })).rejects.toThrow(/after/);
    const saved = await dir.saveRotation({ teamId: 'team-east', members: ['tech-chen', 'tech-liu'], shifts: [{ name: 'day', kind: 'on_site', start: '09:00', end: '18:00' }], anchorDate: '2026-11-02' });
    expect(saved).toMatchObject({ periodDays: 7, timeZone: 'Asia/Shanghai' });
  });

  it('removes people only when nothing names them, and teams with their rotation', async () => {
    await expect(dir.removePerson('tech-chen')).rejects.toThrow(/still named/);
    expect(await dir.removeTeam('team-east')).toBe(true);
    expect(await dir.rotation('team-east')).toBeUndefined();
    expect(await dir.removePerson('tech-chen')).toBe(true);
    expect(await dir.removePerson('tech-chen')).toBe(false);
    expect((await dir.whoIsOnCall('城东区', at('2026-11-02 10:00'))).teamId).toBe('team-west');
  });

  it('refuses a config file that names unknown people', () => {
    expect(() => parseOnCallConfig({ people: [], teams: [{ id: 't', name: 'T', districts: ['*'], supervisorId: 'ghost' }] })).toThrow(/unknown person ghost/);
  });
});
