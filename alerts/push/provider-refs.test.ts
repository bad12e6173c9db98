import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../store/db.ts';
import { openDb } from '../store/open-db.ts';
import { ProviderRefs, REF_KEEP_MS } from './provider-refs.ts';

const T0 = Date.parse('2026-11-22T08:00:00Z');
const HOUR = 3_600_000;
let db: Db;
beforeAll(async () => {
  db = await openDb({});
});
afterAll(() => db.close());

describe('provider message ids of a channel instance', () => {
  it('are found by another instance over the same store (a restart, another replica), per channel', async () => {
    await new ProviderRefs(db, 'sms-tc').remember('5000:1045', { noticeId: 'N-1', personId: 'tech-chen' }, T0);
    await expect(new ProviderRefs(db, 'sms-tc').find('5000:1045')).resolves.toEqual({ noticeId: 'N-1', personId: 'tech-chen' });
    await expect(new ProviderRefs(db, 'voice-tc').find('5000:1045')).resolves.toBeUndefined();
    await expect(new ProviderRefs(db, 'sms-tc').find('5000:9999')).resolves.toBeUndefined();
  });

  it('are forgotten once older than the keep time, pruned at most once an hour', async () => {
    const refs = new ProviderRefs(db, 'voice-ali');
    await refs.remember('call-old', { noticeId: 'N-2', personId: 'tech-li' }, T0);
    // Within the hour nothing is pruned, even when a row is past its keep time.
    await refs.remember('call-new', { noticeId: 'N-3', personId: 'tech-li' }, T0 + REF_KEEP_MS - HOUR / 2);
    await refs.remember('call-newer', { noticeId: 'N-4', personId: 'tech-li' }, T0 + REF_KEEP_MS + HOUR / 4);
    await expect(refs.find('call-old')).resolves.toBeDefined();
    await refs.remember('call-last', { noticeId: 'N-5', personId: 'tech-li' }, T0 + REF_KEEP_MS + HOUR);
    await expect(refs.find('call-old')).resolves.toBeUndefined();
    await expect(refs.find('call-new')).resolves.toEqual({ noticeId: 'N-3', personId: 'tech-li' });
  });
});
