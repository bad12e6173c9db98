/** Issue 14: a person's messenger userids (accounts) are kept in the people table (migration 090). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PgliteDb } from '../store/pglite-db.ts';
import { OnCallInvalidError } from './errors.ts';
import { SqlOnCallDirectory } from './oncall-directory.ts';
import { oncallTestDb } from './testing.ts';

describe('people: accounts { wecom, dingtalk, feishu }', () => {
  let db: PgliteDb;
  beforeAll(async () => {
    db = await oncallTestDb();
  });
  afterAll(() => db.close());

  it('keeps the userids through save, list and the in-memory directory, and clears them when left out', async () => {
    const dir = new SqlOnCallDirectory(db);
    await dir.savePerson({ id: 'tech-wang', name: '王工', role: 'technician', accounts: { wecom: 'WangGong', feishu: 'ou_7d8a6e6df7621556ce0d21922b676706' } });
    expect(await dir.person('tech-wang')).toMatchObject({ accounts: { wecom: 'WangGong', feishu: 'ou_7d8a6e6df7621556ce0d21922b676706' } });
    expect((await dir.listPeople()).find((p) => p.id === 'tech-wang')?.accounts).toEqual({ wecom: 'WangGong', feishu: 'ou_7d8a6e6df7621556ce0d21922b676706' });
    await dir.savePerson({ id: 'tech-wang', name: '王工', role: 'technician' });
    expect((await dir.person('tech-wang'))?.accounts).toBeUndefined();
  });

  it('refuses an unknown messenger', async () => {
    await expect(new SqlOnCallDirectory(db).savePerson({ id: 'x', name: 'x', role: 'technician', accounts: { slack: 'U1' } })).rejects.toBeInstanceOf(OnCallInvalidError);
  });
});
