import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { Person } from '../oncall/directory.ts';
import { oncallTestDb } from '../oncall/testing.ts';
import type { Db } from '../store/db.ts';
import type { PgliteDb } from '../store/pglite-db.ts';
import type { DeliveryOutcome } from '../tickets/notice.ts';
import type { SendResult } from './channel.ts';
import type { ChannelInstance, CustomerChannelInstance } from './channels.ts';
import { backoffDelayMs, DEFAULT_RETRY, PushDispatcher, type PushDispatcherOptions, quietUntilMs } from './delivery-queue.ts';
import { httpStatusError, PushThrottledError, PushTimeoutError } from './errors.ts';
import { ManualScheduler } from './scheduler.ts';
import { notice, scriptedChannel, technician } from './testing.ts';

const OK: SendResult = { delivered: true };

/** A customer channel answering from a script (the last entry repeats); records its calls. */
function customerChannel(name: string, script: Array<SendResult | Error>) {
  const calls: Array<{ noticeId: string; recipientId: string }> = [];
  const instance: CustomerChannelInstance = {
    name,
    type: 'customer-webhook',
    audience: 'customer',
    serves: () => true,
    channel: {
      async send(n, c) {
        const step = script[Math.min(calls.length, script.length - 1)]!;
        calls.push({ noticeId: n.id, recipientId: c.id });
        if (step instanceof Error) throw step;
        return step;
      },
      async close() {},
    },
  };
  return { instance, calls };
}
const log = pino({ level: 'silent' });

describe('PushDispatcher', () => {
  let db: PgliteDb;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let outcomes: DeliveryOutcome[];
  const people = new Map<string, Person>([[technician.id, technician], ['sup-li', { id: 'sup-li', name: '李主管', role: 'supervisor' }]]);

  // One database per file (PGlite takes a second to start); emptied before each test.
  beforeAll(async () => {
    db = await oncallTestDb();
  });
  afterAll(() => db.close());

  beforeEach(async () => {
    await db.query('TRUNCATE push_notices, delivery_state, deliveries');
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    outcomes = [];
  });

  function dispatcher(channels: ChannelInstance[], extra: Partial<PushDispatcherOptions> = {}): PushDispatcher {
    const d = new PushDispatcher({
      db,
      people: { person: async (id) => people.get(id) },
      channels: new Map(channels.map((c) => [c.name, c])),
      log,
      clock,
      scheduler,
      random: () => 1, // no jitter unless a test says so
      ...extra,
    });
    d.onOutcome((o) => outcomes.push(o));
    return d;
  }

  it('dispatchFresh sends before writing anything, records behind it, and a later dispatch of the same notice sends nothing', async () => {
    const ch = scriptedChannel('robot', [OK]);
    let releaseStore!: () => void;
    const storeBusy = new Promise<void>((resolve) => (releaseStore = resolve));
    // A store that is busy (a storm's tickets): every transaction waits until released.
    const busyDb: Db = { query: db.query.bind(db), close: async () => {}, transaction: async <T>(work: (tx: Db) => Promise<T>) => { await storeBusy; return db.transaction(work); } };
    const d = dispatcher([ch.instance], { db: busyDb });
    const fresh = d.dispatchFresh(notice({ id: 'alarm:A1' }), [technician]);
    await Promise.resolve();
    await Promise.resolve();
    expect(ch.calls).toEqual([{ noticeId: 'alarm:A1', recipientId: 'tech-chen' }]);
    expect(await db.query('SELECT * FROM delivery_state')).toEqual([]);
    // The same notice again while its claim is still unwritten: known, not sent.
    const again = d.dispatch(notice({ id: 'alarm:A1' }));
    releaseStore();
    expect((await fresh).started).toEqual([{ recipientId: 'tech-chen', channel: 'robot' }]);
    expect((await again).alreadyKnown).toEqual([{ recipientId: 'tech-chen', channel: 'robot' }]);
    await d.idle();
    expect(ch.calls).toHaveLength(1);
    expect(await db.query('SELECT status FROM delivery_state')).toEqual([{ status: 'delivered' }]);
    // After the claim is written, a restart's re-feed of the notice is recognised by the store.
    const restarted = dispatcher([ch.instance]);
    expect((await restarted.dispatch(notice({ id: 'alarm:A1' }))).alreadyKnown).toHaveLength(1);
    expect(ch.calls).toHaveLength(1);
  });

  it('delivers once and logs the attempt', async () => {
    const ch = scriptedChannel('robot', [OK]);
    const d = dispatcher([ch.instance]);
    expect((await d.dispatch(notice())).started).toEqual([{ recipientId: 'tech-chen', channel: 'robot' }]);
    await d.idle();
    expect(outcomes).toEqual([{ noticeId: 'N-1', recipientId: 'tech-chen', channel: 'robot', status: 'delivered', attempts: 1, atMs: clock.now() }]);
    expect((await d.log('N-1')).map((e) => e.status)).toEqual(['delivered']);
  });

  it('retries 5xx, timeouts and network errors with exponential back-off, then delivers', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(503, 'busy'), new PushTimeoutError('slow'), new TypeError('fetch failed'), OK]);
    const d = dispatcher([ch.instance]);
    const start = clock.now();
    await d.dispatch(notice());
    await d.idle();
    const waits: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      expect(scheduler.pendingDelaysMs()).toHaveLength(1);
      waits.push(await scheduler.runNext());
    }
    expect(waits).toEqual([1000, 2000, 4000]);
    expect(scheduler.pendingDelaysMs()).toEqual([]);
    expect(outcomes).toMatchObject([{ status: 'delivered', attempts: 4, atMs: start + 7000 }]);
    const entries = await d.log('N-1');
    expect(entries.map((e) => [e.attempt, e.status])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'retry'],
      [4, 'delivered'],
    ]);
    expect(entries[0]!.error).toMatch(/HTTP 503/);
  });

  it('gives up after maxAttempts with a failed outcome, the back-off capped at maxDelayMs', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(500, '')]);
    const d = dispatcher([ch.instance], { settings: { maxDelayMs: 3000 } });
    await d.dispatch(notice());
    await d.idle();
    const waits: Array<number | undefined> = [];
    for (let w = await scheduler.runNext(); w !== undefined; w = await scheduler.runNext()) waits.push(w);
    expect(waits).toEqual([1000, 2000, 3000, 3000]);
    expect(ch.calls).toHaveLength(5);
    expect(outcomes).toMatchObject([{ status: 'failed', attempts: 5, error: 'HTTP 500' }]);
  });

  it('advance() moves time without running a retry early', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(502, ''), OK]);
    const d = dispatcher([ch.instance]);
    await d.dispatch(notice());
    await d.idle();
    await scheduler.advance(999);
    expect(ch.calls).toHaveLength(1);
    await scheduler.advance(1);
    expect(ch.calls).toHaveLength(2);
    expect(outcomes[0]?.status).toBe('delivered');
  });

  it('draws the jitter from the injected random source', () => {
    expect(backoffDelayMs(DEFAULT_RETRY, 1, () => 0)).toBe(500);
    expect(backoffDelayMs(DEFAULT_RETRY, 3, () => 0.5)).toBe(3000);
    expect(backoffDelayMs(DEFAULT_RETRY, 10, () => 1)).toBe(60_000);
  });

  it('waits as long as a 429 Retry-After asks, capped by maxRetryAfterMs', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(429, 'slow down', 30_000), new PushThrottledError('robot', { retryAfterMs: 3_600_000 }), OK]);
    const d = dispatcher([ch.instance]);
    await d.dispatch(notice());
    await d.idle();
    expect(await scheduler.runNext()).toBe(30_000);
    expect(await scheduler.runNext()).toBe(600_000);
    expect(outcomes).toMatchObject([{ status: 'delivered', attempts: 3 }]);
  });

  it.each([400, 401, 403, 404, 410])('does not retry a permanent %i', async (status) => {
    const ch = scriptedChannel('robot', [httpStatusError(status, 'no')]);
    const d = dispatcher([ch.instance]);
    await d.dispatch(notice());
    await d.idle();
    expect(scheduler.pendingDelaysMs()).toEqual([]);
    expect(ch.calls).toHaveLength(1);
    expect(outcomes).toMatchObject([{ status: 'failed', attempts: 1 }]);
  });

  it('retries a 408', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(408, ''), OK]);
    const d = dispatcher([ch.instance]);
    await d.dispatch(notice());
    await d.idle();
    expect(await scheduler.runNext()).toBe(1000);
    expect(outcomes).toMatchObject([{ status: 'delivered', attempts: 2 }]);
  });

  it('pushes a redelivered notice only once, also from a new dispatcher on the same store', async () => {
    const ch = scriptedChannel('robot', [OK]);
    const first = dispatcher([ch.instance]);
    await first.dispatch(notice());
    const again = await first.dispatch(notice());
    await first.idle();
    expect(again).toEqual({ started: [], alreadyKnown: [{ recipientId: 'tech-chen', channel: 'robot' }] });
    const restarted = dispatcher([ch.instance]);
    expect((await restarted.dispatch(notice())).started).toEqual([]);
    await restarted.idle();
    expect(ch.calls).toHaveLength(1);
    expect(outcomes).toHaveLength(1);
  });

  it('resumes retries pending at a restart', async () => {
    const ch = scriptedChannel('robot', [httpStatusError(503, ''), OK]);
    const before = dispatcher([ch.instance]);
    await before.dispatch(notice());
    await before.idle();
    await before.close(); // the process dies with a retry pending
    const afterScheduler = new ManualScheduler(clock);
    const after = dispatcher([ch.instance], { scheduler: afterScheduler });
    clock.advance(400);
    expect(await after.resume()).toBe(1);
    expect(afterScheduler.pendingDelaysMs()).toEqual([600]);
    await afterScheduler.runNext();
    expect(outcomes).toMatchObject([{ status: 'delivered', attempts: 2 }]);
    expect(await after.resume()).toBe(0);
  });

  it('routes per person and reports recipients nobody can reach as failed', async () => {
    const robot = scriptedChannel('robot', [OK], { serves: (p) => (p.webhooks ?? []).includes('robot') });
    const mail = scriptedChannel('mail', [OK], { type: 'email', serves: (p) => Boolean(p.email) });
    const d = dispatcher([robot.instance, mail.instance]);
    const r = await d.dispatch(notice({ recipients: ['tech-chen', 'sup-li', 'ghost'] }));
    await d.idle();
    expect(r.started).toEqual([
      { recipientId: 'tech-chen', channel: 'robot' },
      { recipientId: 'tech-chen', channel: 'mail' },
      { recipientId: 'sup-li', channel: 'none' },
      { recipientId: 'ghost', channel: 'none' },
    ]);
    expect(outcomes.filter((o) => o.status === 'failed').map((o) => [o.recipientId, o.error])).toEqual([
      ['sup-li', 'no push channel serves this person'],
      ['ghost', 'unknown person ghost'],
    ]);
  });

  it('logs customer recipients as not delivered when no customer channel is configured, never on a staff channel', async () => {
    const ch = scriptedChannel('robot', [OK]);
    const d = dispatcher([ch.instance]);
    await d.dispatch(notice({ id: 'C-1', kind: 'customer.notice', recipients: ['customer:王女士'] }));
    await d.idle();
    expect(ch.calls).toEqual([]);
    expect(outcomes).toEqual([]);
    expect(await d.log('C-1')).toMatchObject([{ recipientId: 'customer:王女士', channel: 'none', status: 'not_delivered', error: 'no customer channel configured' }]);
  });

  it('regression issue 12 #8: customer notices never reach the customer — delivered through the customer channel, staff notices never', async () => {
    const crm = customerChannel('crm', [OK]);
    const robot = scriptedChannel('robot', [OK]);
    const d = dispatcher([robot.instance, crm.instance]);
    const r = await d.dispatchFresh(notice({ id: 'customer:A-1', kind: 'customer.notice', recipients: ['customer:王女士'] }));
    await d.dispatch(notice({ id: 'N-staff', recipients: ['tech-chen', 'customer:王女士'] }));
    await d.idle();
    expect(r.started).toEqual([{ recipientId: 'customer:王女士', channel: 'crm' }]);
    expect(crm.calls).toEqual([{ noticeId: 'customer:A-1', recipientId: 'customer:王女士' }]);
    expect(robot.calls).toEqual([{ noticeId: 'N-staff', recipientId: 'tech-chen' }]);
    expect(await d.log('customer:A-1')).toMatchObject([{ recipientId: 'customer:王女士', channel: 'crm', attempt: 1, status: 'delivered' }]);
    // A staff notice that names a customer is not sent there, and does not escalate either.
    expect((await d.log('N-staff')).find((e) => e.recipientId === 'customer:王女士')).toMatchObject({ channel: 'none', status: 'not_delivered', error: 'a ticket.dispatched notice is not sent to customers' });
    expect(outcomes.map((o) => [o.noticeId, o.channel, o.status])).toEqual(expect.arrayContaining([['customer:A-1', 'crm', 'delivered'], ['N-staff', 'robot', 'delivered']]));
    expect(outcomes).toHaveLength(2);
  });

  it('retries a customer channel with the same back-off, drops a 4xx as failed with its reason, and resumes it after a restart', async () => {
    const crm = customerChannel('crm', [httpStatusError(503, 'down'), httpStatusError(422, 'unknown account')]);
    const before = dispatcher([crm.instance]);
    await before.dispatch(notice({ id: 'customer:A-2', kind: 'customer.notice', recipients: ['customer:HM-9'] }));
    await before.idle();
    await before.close(); // the process dies with the retry pending
    const afterScheduler = new ManualScheduler(clock);
    const after = dispatcher([crm.instance], { scheduler: afterScheduler });
    expect(await after.resume()).toBe(1);
    expect(await afterScheduler.runNext()).toBe(1000);
    expect(crm.calls).toHaveLength(2);
    expect((await after.log('customer:A-2')).map((e) => [e.attempt, e.status, e.error])).toEqual([
      [1, 'retry', 'HTTP 503: down'],
      [2, 'failed', 'HTTP 422: unknown account'],
    ]);
    expect(outcomes).toMatchObject([{ noticeId: 'customer:A-2', channel: 'crm', status: 'failed', attempts: 2 }]);
  });

  it('fails a pending customer delivery at resume when its customer channel is gone, never moving it to a staff channel', async () => {
    const crm = customerChannel('crm', [httpStatusError(503, '')]);
    const before = dispatcher([crm.instance]);
    await before.dispatch(notice({ id: 'customer:A-3', kind: 'customer.notice', recipients: ['customer:HM-9'] }));
    await before.idle();
    await before.close();
    const robot = scriptedChannel('crm', [OK]); // a staff channel now carries the old name
    const after = dispatcher([robot.instance], { scheduler: new ManualScheduler(clock) });
    expect(await after.resume()).toBe(0);
    expect(robot.calls).toEqual([]);
    expect(outcomes).toMatchObject([{ noticeId: 'customer:A-3', status: 'failed', error: 'customer channel crm no longer configured' }]);
  });

  it('logs a live stream with nobody connected as not delivered, without an outcome', async () => {
    const sse = scriptedChannel('sse', [{ delivered: false, reason: 'no open stream' }], { type: 'sse' });
    const d = dispatcher([sse.instance]);
    await d.dispatch(notice());
    await d.idle();
    expect(outcomes).toEqual([]);
    expect(await d.log('N-1')).toMatchObject([{ channel: 'sse', status: 'not_delivered', error: 'no open stream' }]);
  });
});

describe('PushDispatcher: a person’s channel order, fallback and quiet hours (issue 14 #6)', () => {
  let db: PgliteDb;
  let clock: ManualClock;
  let scheduler: ManualScheduler;
  let outcomes: DeliveryOutcome[];
  let people: Map<string, Person>;
  /** 02:00 in Shanghai (UTC+8), inside quiet hours 22:00–07:00. */
  const TWO_AM = Date.parse('2026-11-22T18:00:00Z');
  const SEVEN_AM = Date.parse('2026-11-22T23:00:00Z');

  beforeAll(async () => {
    db = await oncallTestDb();
  });
  afterAll(() => db.close());

  beforeEach(async () => {
    await db.query('TRUNCATE push_notices, delivery_state, deliveries');
    clock = new ManualClock();
    scheduler = new ManualScheduler(clock);
    outcomes = [];
    people = new Map([[technician.id, { ...technician, channelOrder: ['sse', 'wecom', 'sms'] }]]);
  });

  function dispatcher(channels: ChannelInstance[], extra: Partial<PushDispatcherOptions> = {}): PushDispatcher {
    const d = new PushDispatcher({ db, people: { person: async (id) => people.get(id) }, channels: new Map(channels.map((c) => [c.name, c])), log, clock, scheduler, random: () => 1, ...extra });
    d.onOutcome((o) => outcomes.push(o));
    return d;
  }
  const states = async () =>
    Object.fromEntries(
      (await db.query<{ channel: string; status: string; last_error: string | null }>('SELECT channel, status, last_error FROM delivery_state ORDER BY channel')).map((r) => [r.channel, [r.status, r.last_error]]),
    );
  const closedConsole = () => scriptedChannel('sse', [{ delivered: false, reason: 'no open stream' }], { type: 'sse' });

  it('tries the next channel only when the one before did not reach the person, and skips the rest once one did', async () => {
    const sse = closedConsole();
    const wecom = scriptedChannel('wecom', [OK]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([sse.instance, wecom.instance, sms.instance]);
    await d.dispatch(notice({ priority: 'urgent' }));
    for (let i = 0; i < 5; i++) await d.idle();
    expect([sse.calls.length, wecom.calls.length, sms.calls.length]).toEqual([1, 1, 0]);
    expect(await states()).toEqual({ sse: ['not_delivered', 'no open stream'], wecom: ['delivered', null], sms: ['not_delivered', 'not needed: reached on wecom'] });
    expect(outcomes.map((o) => [o.channel, o.status])).toEqual([['wecom', 'delivered']]);
  });

  it('falls back past a refused channel, the next one pending when the failure is reported so escalation waits for it', async () => {
    const sse = closedConsole();
    const wecom = scriptedChannel('wecom', [httpStatusError(400, 'bad userid')]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([sse.instance, wecom.instance, sms.instance]);
    const smsStateAtFailure: string[] = [];
    d.onOutcome((o) => {
      if (o.status === 'failed') void db.query<{ status: string }>(`SELECT status FROM delivery_state WHERE channel = 'sms'`).then((r) => smsStateAtFailure.push(r[0]!.status));
    });
    await d.dispatch(notice({ priority: 'normal' }));
    for (let i = 0; i < 5; i++) await d.idle();
    expect(outcomes.map((o) => [o.channel, o.status])).toEqual([['wecom', 'failed'], ['sms', 'delivered']]);
    expect(smsStateAtFailure[0]).toBe('pending');
  });

  it('starts the next channel after fallbackAfterMs while the one before still retries', async () => {
    people.set(technician.id, { ...technician, channelOrder: ['wecom', 'sms'], fallbackAfterMs: 1500 });
    const wecom = scriptedChannel('wecom', [httpStatusError(503, 'busy'), httpStatusError(503, 'busy'), OK]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([wecom.instance, sms.instance]);
    await d.dispatch(notice({ priority: 'urgent' }));
    await d.idle();
    await scheduler.advance(1499);
    await d.idle();
    expect(sms.calls).toHaveLength(0);
    await scheduler.advance(1);
    await d.idle();
    expect(sms.calls).toHaveLength(1);
    await scheduler.advance(10_000);
    await d.idle();
    expect(outcomes.map((o) => [o.channel, o.status, o.attempts])).toEqual([['sms', 'delivered', 1], ['wecom', 'delivered', 3]]);
  });

  it('sends an emergency on every channel at once, whatever the order', async () => {
    const sse = closedConsole();
    const wecom = scriptedChannel('wecom', [OK]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([sse.instance, wecom.instance, sms.instance]);
    await d.dispatch(notice({ priority: 'emergency' }));
    await d.idle();
    expect([sse.calls.length, wecom.calls.length, sms.calls.length]).toEqual([1, 1, 1]);
  });

  it('sends serving channels the order does not name at once beside the first', async () => {
    people.set(technician.id, { ...technician, channelOrder: ['wecom', 'sms'] });
    const sse = closedConsole();
    const wecom = scriptedChannel('wecom', [OK]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([sse.instance, wecom.instance, sms.instance]);
    const r = await d.dispatchFresh(notice({ priority: 'low' }));
    for (let i = 0; i < 5; i++) await d.idle();
    expect(r.started.map((s) => s.channel)).toEqual(['sse', 'wecom', 'sms']);
    expect([sse.calls.length, wecom.calls.length, sms.calls.length]).toEqual([1, 1, 0]);
  });

  it('at a restart skips a queued channel whose channel before had reached the person, and starts one whose channel before had failed', async () => {
    people.set(technician.id, { ...technician, channelOrder: ['wecom', 'sms', 'voice'] });
    const wecom = scriptedChannel('wecom', [httpStatusError(503, 'busy')]);
    const sms = scriptedChannel('sms', [OK]);
    const voice = scriptedChannel('voice', [OK]);
    const before = dispatcher([wecom.instance, sms.instance, voice.instance]);
    await before.dispatch(notice({ id: 'N-ok', priority: 'urgent' }));
    await before.dispatch(notice({ id: 'N-bad', priority: 'urgent' }));
    await before.idle();
    await before.close();
    // What the process wrote before dying: N-ok reached on wecom, N-bad's wecom given up, neither's next channel told.
    await db.query(`UPDATE delivery_state SET status = 'delivered', next_attempt_at = NULL WHERE notice_id = 'N-ok' AND channel = 'wecom'`);
    await db.query(`UPDATE delivery_state SET status = 'failed', next_attempt_at = NULL WHERE notice_id = 'N-bad' AND channel = 'wecom'`);
    const after = dispatcher([wecom.instance, sms.instance, voice.instance], { scheduler: new ManualScheduler(clock) });
    expect(await after.resume()).toBe(1);
    for (let i = 0; i < 5; i++) await after.idle();
    expect(sms.calls.map((c) => c.noticeId)).toEqual(['N-bad']);
    expect(voice.calls).toEqual([]);
    const rows = await db.query<{ notice_id: string; channel: string; status: string; last_error: string | null }>(
      `SELECT notice_id, channel, status, last_error FROM delivery_state WHERE channel <> 'wecom' ORDER BY notice_id, channel`,
    );
    expect(rows).toEqual([
      { notice_id: 'N-bad', channel: 'sms', status: 'delivered', last_error: null },
      { notice_id: 'N-bad', channel: 'voice', status: 'not_delivered', last_error: 'not needed: reached on sms' },
      { notice_id: 'N-ok', channel: 'sms', status: 'not_delivered', last_error: 'not needed: reached on wecom' },
      { notice_id: 'N-ok', channel: 'voice', status: 'not_delivered', last_error: 'not needed: reached on wecom' },
    ]);
  });

  it('does not send a queued channel twice when the same notice is dispatched again or resumed in the same process', async () => {
    people.set(technician.id, { ...technician, channelOrder: ['wecom', 'sms'] });
    const wecom = scriptedChannel('wecom', [httpStatusError(503, 'busy'), httpStatusError(403, 'no')]);
    const sms = scriptedChannel('sms', [OK]);
    const d = dispatcher([wecom.instance, sms.instance]);
    await d.dispatchFresh(notice({ priority: 'urgent' }));
    await d.idle();
    expect((await d.dispatchFresh(notice({ priority: 'urgent' }))).alreadyKnown.map((k) => k.channel)).toEqual(['wecom', 'sms']);
    expect(await d.resume()).toBe(0);
    await scheduler.runNext();
    for (let i = 0; i < 5; i++) await d.idle();
    expect(sms.calls).toHaveLength(1);
    expect(outcomes.map((o) => [o.channel, o.status])).toEqual([['wecom', 'failed'], ['sms', 'delivered']]);
  });

  it('keeps waiting for the channel before after a restart, and falls back when it finally fails', async () => {
    people.set(technician.id, { ...technician, channelOrder: ['wecom', 'sms'] });
    const wecom = scriptedChannel('wecom', [httpStatusError(503, 'busy'), httpStatusError(403, 'no')]);
    const sms = scriptedChannel('sms', [OK]);
    const before = dispatcher([wecom.instance, sms.instance]);
    await before.dispatch(notice({ priority: 'urgent' }));
    await before.idle();
    await before.close(); // dies with wecom's retry pending
    const afterScheduler = new ManualScheduler(clock);
    const after = dispatcher([wecom.instance, sms.instance], { scheduler: afterScheduler });
    expect(await after.resume()).toBe(1);
    await after.idle();
    expect(sms.calls).toHaveLength(0);
    await afterScheduler.runNext();
    for (let i = 0; i < 5; i++) await after.idle();
    expect(outcomes.map((o) => [o.channel, o.status])).toEqual([['wecom', 'failed'], ['sms', 'delivered']]);
  });

  describe('quiet hours 22:00–07:00 (Asia/Shanghai)', () => {
    beforeEach(() => {
      clock.set(TWO_AM);
      people.set(technician.id, { ...technician, quietHours: { start: '22:00', end: '07:00' } });
    });

    it('never holds an emergency at 02:00 (nor an urgent notice)', async () => {
      const wecom = scriptedChannel('wecom', [OK]);
      const d = dispatcher([wecom.instance]);
      await d.dispatchFresh(notice({ id: 'E-1', priority: 'emergency' }));
      await d.dispatch(notice({ id: 'U-1', priority: 'urgent' }));
      await d.idle();
      expect(wecom.calls.map((c) => c.noticeId)).toEqual(['E-1', 'U-1']);
      expect(scheduler.pendingDelaysMs()).toEqual([]);
    });

    it('holds a normal notice until 07:00 and then sends it', async () => {
      const wecom = scriptedChannel('wecom', [OK]);
      const d = dispatcher([wecom.instance]);
      await d.dispatch(notice({ priority: 'normal' }));
      await d.idle();
      expect(wecom.calls).toEqual([]);
      expect(scheduler.pendingDelaysMs()).toEqual([SEVEN_AM - TWO_AM]);
      await scheduler.advance(SEVEN_AM - TWO_AM - 1);
      expect(wecom.calls).toEqual([]);
      await scheduler.advance(1);
      await d.idle();
      expect(wecom.calls).toHaveLength(1);
      expect(outcomes).toMatchObject([{ status: 'delivered', atMs: SEVEN_AM }]);
    });

    it('keeps a held notice held across a restart during the quiet hours', async () => {
      const wecom = scriptedChannel('wecom', [OK]);
      const before = dispatcher([wecom.instance]);
      await before.dispatchFresh(notice({ priority: 'low' }));
      await before.idle();
      await before.close();
      clock.advance(3 * 3_600_000); // back at 05:00
      const afterScheduler = new ManualScheduler(clock);
      const after = dispatcher([wecom.instance], { scheduler: afterScheduler });
      expect(await after.resume()).toBe(1);
      await after.idle();
      expect(wecom.calls).toEqual([]);
      expect(afterScheduler.pendingDelaysMs()).toEqual([2 * 3_600_000]);
      await afterScheduler.runNext();
      await after.idle();
      expect(wecom.calls).toHaveLength(1);
      expect(outcomes).toMatchObject([{ status: 'delivered', atMs: SEVEN_AM }]);
    });

    it('holds the channel after a closed console until the quiet hours end, across a restart too', async () => {
      people.set(technician.id, { ...technician, channelOrder: ['sse', 'wecom'], quietHours: { start: '22:00', end: '07:00' } });
      const sse = closedConsole();
      const wecom = scriptedChannel('wecom', [OK]);
      const before = dispatcher([sse.instance, wecom.instance]);
      await before.dispatch(notice({ priority: 'normal' }));
      for (let i = 0; i < 5; i++) await before.idle();
      expect(sse.calls).toHaveLength(1); // the live stream is not held
      expect(wecom.calls).toEqual([]);
      await before.close();
      const afterScheduler = new ManualScheduler(clock);
      const after = dispatcher([sse.instance, wecom.instance], { scheduler: afterScheduler });
      expect(await after.resume()).toBe(1);
      expect(afterScheduler.pendingDelaysMs()).toEqual([SEVEN_AM - TWO_AM]);
      await afterScheduler.runNext();
      await after.idle();
      expect(wecom.calls).toHaveLength(1);
      expect(outcomes).toMatchObject([{ channel: 'wecom', status: 'delivered', atMs: SEVEN_AM }]);
    });

    it('reads the quiet window in the tickets’ time zone, across midnight', () => {
      const q = { start: '22:00', end: '07:00' };
      expect(quietUntilMs(q, TWO_AM, 'Asia/Shanghai')).toBe(SEVEN_AM);
      expect(quietUntilMs(q, Date.parse('2026-11-22T14:30:00Z'), 'Asia/Shanghai')).toBe(SEVEN_AM); // 22:30
      expect(quietUntilMs(q, Date.parse('2026-11-22T13:59:00Z'), 'Asia/Shanghai')).toBeUndefined(); // 21:59
      expect(quietUntilMs(q, SEVEN_AM, 'Asia/Shanghai')).toBeUndefined();
      expect(quietUntilMs({ start: '12:00', end: '13:30' }, Date.parse('2026-11-22T04:15:00Z'), 'Asia/Shanghai')).toBe(Date.parse('2026-11-22T05:30:00Z'));
      expect(quietUntilMs({ start: '07:00', end: '07:00' }, TWO_AM, 'Asia/Shanghai')).toBeUndefined();
    });
  });

  it('records a provider’s delivered and read receipts on the delivery, read implying delivered', async () => {
    people.set(technician.id, technician);
    const wecom = scriptedChannel('wecom', [OK]);
    const d = dispatcher([wecom.instance]);
    await d.dispatch(notice());
    await d.idle();
    expect(await d.recordReceipt('N-1', 'tech-chen', 'wecom', 'read', clock.now() + 5000)).toBe(true);
    expect(await d.recordReceipt('N-1', 'tech-chen', 'wecom', 'delivered', clock.now() + 9000)).toBe(true);
    expect(await d.recordReceipt('N-404', 'tech-chen', 'wecom', 'read', clock.now())).toBe(false);
    const [row] = await db.query<{ sent: number; delivered: number; read: number }>(
      `SELECT (extract(epoch from sent_at) * 1000)::float8 AS sent, (extract(epoch from delivered_at) * 1000)::float8 AS delivered, (extract(epoch from read_at) * 1000)::float8 AS read FROM delivery_state`,
    );
    expect(row).toEqual({ sent: clock.now(), delivered: clock.now() + 5000, read: clock.now() + 5000 });
  });
});
