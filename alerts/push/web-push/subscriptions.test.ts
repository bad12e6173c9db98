import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../store/db.ts';
import { openDb } from '../../store/open-db.ts';
import { PushSubscriptions } from './subscriptions.ts';

const sub = (n: number) => ({ endpoint: `https://push.example.com/send/${n}`, keys: { p256dh: `p256dh-${n}`, auth: `auth-${n}` } });

describe('Web Push subscriptions kept in memory for the send path', () => {
  let db: Db;
  let selects = 0;
  let now = 0;
  const counted = (): Db => ({
    ...db,
    query: (sql: string, params?: unknown[]) => {
      if (sql.startsWith('SELECT')) selects++;
      return db.query(sql, params as never);
    },
  } as Db);

  beforeAll(async () => {
    db = await openDb({ inThread: true });
  });
  afterAll(() => db.close());

  it('reads the store once, then answers from memory, with its own saves and removals applied at once', async () => {
    const subs = new PushSubscriptions(counted(), { now: () => now, refreshMs: 60_000 });
    await subs.save('tech-1', sub(1), 'Chrome', now);
    expect((await subs.forPerson('tech-1')).map((s) => s.endpoint)).toEqual([sub(1).endpoint]);
    expect(selects).toBe(1);
    await subs.save('tech-1', sub(2), 'Safari', now);
    // The same endpoint saved for someone else moves to them.
    await subs.save('tech-2', sub(1), 'Chrome', now);
    expect((await subs.forPerson('tech-1')).map((s) => s.endpoint)).toEqual([sub(2).endpoint]);
    expect((await subs.forPerson('tech-2')).map((s) => s.endpoint)).toEqual([sub(1).endpoint]);
    await subs.expire(sub(2).endpoint);
    expect(await subs.forPerson('tech-1')).toEqual([]);
    expect(await subs.remove('tech-2', sub(1).endpoint)).toBe(true);
    expect(await subs.forPerson('tech-2')).toEqual([]);
    expect(selects).toBe(1);
  });

  it("sees another process's subscription after the refresh interval, reloading in the background", async () => {
    const subs = new PushSubscriptions(counted(), { now: () => now, refreshMs: 60_000 });
    expect(await subs.forPerson('tech-3')).toEqual([]);
    const before = selects;
    // Saved by another alerts process on the same store.
    await new PushSubscriptions(db).save('tech-3', sub(3), undefined, now);
    expect(await subs.forPerson('tech-3')).toEqual([]);
    now += 60_000;
    // This send still answers from the copy it has; the reload it started shows the new one next time.
    expect(await subs.forPerson('tech-3')).toEqual([]);
    await expect.poll(async () => (await subs.forPerson('tech-3')).map((s) => s.endpoint)).toEqual([sub(3).endpoint]);
    expect(selects).toBe(before + 1);
  });
});
