import { type Static, Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../../app/clock.ts';
import type { OnCallDirectory, Person } from '../oncall/directory.ts';
import { addDays, localDate, localToUtcMs } from '../oncall/rota.ts';
import type { Db } from '../store/db.ts';
import type { DeliveryOutcome, Notice } from '../tickets/notice.ts';
import { CUSTOMER_PREFIX, type CustomerRecipient, type Receipt } from './channel.ts';
import type { ChannelInstance, CustomerChannelInstance, StaffChannelInstance } from './channels.ts';
import { asPushError, type PushError } from './errors.ts';
import { type Scheduler, timerScheduler } from './scheduler.ts';

export const RetrySettingsSchema = Type.Object(
  {
    maxAttempts: Type.Integer({ minimum: 1, default: 5, description: 'Attempts per (notice, recipient, channel), the first included' }),
    baseDelayMs: Type.Integer({ minimum: 0, default: 1000, description: 'Back-off before the 2nd attempt; doubles each time' }),
    maxDelayMs: Type.Integer({ minimum: 0, default: 60_000, description: 'Cap on the back-off' }),
    jitter: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'Share of each back-off drawn at random (0: none)' }),
    maxRetryAfterMs: Type.Integer({ minimum: 0, default: 600_000, description: 'Cap on a server’s Retry-After' }),
  },
  { additionalProperties: false },
);
export type RetrySettings = Static<typeof RetrySettingsSchema>;

export const DEFAULT_RETRY: RetrySettings = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.5, maxRetryAfterMs: 600_000 };

/** Delay after failed attempt `attempt` (1-based): base·2^(attempt−1) capped, the top `jitter` share random. */
export function backoffDelayMs(s: RetrySettings, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(s.maxDelayMs, s.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp * (1 - s.jitter + s.jitter * random()));
}

/** One row of the delivery log (migration 011). */
export interface DeliveryLogEntry {
  noticeId: string;
  recipientId: string;
  channel: string;
  attempt: number;
  status: 'delivered' | 'retry' | 'failed' | 'not_delivered';
  error?: string;
  atMs: number;
}

export interface DispatchResult {
  /** (recipient, channel) pairs claimed now and being pushed. */
  started: Array<{ recipientId: string; channel: string }>;
  /** Pairs already known from an earlier dispatch of the same notice id: not pushed again. */
  alreadyKnown: Array<{ recipientId: string; channel: string }>;
}

export interface PushDispatcherOptions {
  db: Db;
  /** Where recipients' channels and addresses come from. */
  people: Pick<OnCallDirectory, 'person'>;
  channels: ReadonlyMap<string, ChannelInstance>;
  log: Logger;
  clock?: Clock;
  scheduler?: Scheduler;
  settings?: Partial<RetrySettings>;
  /** For the jitter; tests pass a constant. */
  random?: () => number;
  /** The tickets' time zone, in which people's quiet hours are read (default Asia/Shanghai). */
  timeZone?: string;
}

/**
 * Priorities sent on every serving channel of a person at once, whatever their channel order: a
 * leak cannot wait for one channel to fail before the next is tried. Urgent and lower follow the order.
 */
export const ALL_CHANNELS_AT_ONCE: ReadonlySet<Notice['priority']> = new Set(['emergency']);
/** Priorities never held by quiet hours. */
export const NEVER_QUIET: ReadonlySet<Notice['priority']> = new Set(['emergency', 'urgent']);

/**
 * When the quiet hours around `atMs` end, or undefined when `atMs` is outside them. `end` at or
 * before `start` crosses midnight; equal times mean no quiet hours.
 */
export function quietUntilMs(quiet: { start: string; end: string }, atMs: number, timeZone: string): number | undefined {
  if (quiet.start === quiet.end) return undefined;
  const today = localDate(atMs, timeZone);
  for (const day of [addDays(today, -1), today]) {
    const startMs = localToUtcMs(day, quiet.start, timeZone);
    const endMs = localToUtcMs(quiet.end < quiet.start ? addDays(day, 1) : day, quiet.end, timeZone);
    if (atMs >= startMs && atMs < endMs) return endMs;
  }
  return undefined;
}

/** A recipient on one channel of their audience. */
type Target = { audience: 'staff'; recipient: Person; instance: StaffChannelInstance } | { audience: 'customer'; recipient: CustomerRecipient; instance: CustomerChannelInstance };

interface PlanEntry {
  recipientId: string;
  /** Absent: nobody to push to, for `reason`. */
  target?: Target;
  reason?: string;
  /** Logged not delivered rather than failed: a customer no customer channel reaches (nobody to escalate to). */
  notDelivered?: boolean;
  /** Held by the person's quiet hours until then. */
  notBeforeMs?: number;
  /** The channel before this one in the person's order: tried when that one did not reach them. */
  waitsFor?: string;
}

/** A delivery queued behind another channel of the same person. */
interface Follower {
  notice: Notice;
  target: Target;
  /** The fallback deadline's timer, once the channel before has started. */
  timer?: { cancel(): void };
}

interface Job {
  notice: Notice;
  target: Target;
  /** Number of the attempt about to run. */
  attempt: number;
}

/** Pseudo-channel of a recipient nobody can reach: unknown person, or no channel serves them. */
export const NO_CHANNEL = 'none';

const keyOf = (noticeId: string, recipientId: string, channel: string) => `${noticeId}\u0000${recipientId}\u0000${channel}`;
const ts = (n: number) => `to_timestamp($${n}::float8 / 1000.0)`;
const channelOf = (p: PlanEntry) => p.target?.instance.name ?? NO_CHANNEL;
/** The claim's first due time: a queued channel has none until the one before it starts. */
const dueMs = (p: PlanEntry, nowMs: number) => (p.waitsFor !== undefined ? null : (p.notBeforeMs ?? nowMs));
const CLAIM = `INSERT INTO delivery_state (notice_id, recipient_id, channel, status, attempts, next_attempt_at, waits_for, updated_at)
  VALUES ($1, $2, $3, 'pending', 0, ${ts(4)}, $5, ${ts(6)}) ON CONFLICT DO NOTHING RETURNING notice_id`;
const claimParams = (notice: Notice, p: PlanEntry, nowMs: number) => [notice.id, p.recipientId, channelOf(p), dueMs(p, nowMs), p.waitsFor ?? null, nowMs];
const send = (notice: Notice, t: Target) => (t.audience === 'customer' ? t.instance.channel.send(notice, t.recipient) : t.instance.channel.send(notice, t.recipient));

/**
 * Pushes each notice to each recipient on every channel that serves them, with retries and jittered
 * exponential back-off (Retry-After honoured), every attempt logged in `deliveries`. Idempotent per
 * (notice id, recipient, channel) through `delivery_state`, which also lets `resume()` pick up
 * retries pending at a crash. Final outcomes (`delivered`, `failed`) go to the outcome listeners;
 * a live stream with nobody connected is logged `not_delivered` and reported to no one. Customer
 * notices go to customer channels only (staff notices never do); with none configured they are
 * logged `not_delivered`.
 */
export class PushDispatcher {
  readonly #db: Db;
  readonly #people: Pick<OnCallDirectory, 'person'>;
  readonly #channels: ReadonlyMap<string, ChannelInstance>;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #random: () => number;
  readonly settings: RetrySettings;
  readonly #listeners = new Set<(o: DeliveryOutcome) => void>();
  readonly #inflight = new Set<Promise<void>>();
  /** Keys with an attempt running or scheduled in this process. */
  readonly #active = new Map<string, { cancel(): void } | undefined>();
  /** Keys sent by `dispatchFresh` whose claims are not yet written; with the promise writing them. */
  readonly #claimedHere = new Set<string>();
  readonly #claimWrites = new Map<string, Promise<void>>();
  /** Deliveries queued behind another channel of the same person, by the key of that channel's delivery. */
  readonly #followers = new Map<string, Follower>();
  readonly #timeZone: string;
  #closed = false;

  constructor(options: PushDispatcherOptions) {
    this.#db = options.db;
    this.#people = options.people;
    this.#channels = options.channels;
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? timerScheduler;
    this.#random = options.random ?? Math.random;
    this.settings = { ...DEFAULT_RETRY, ...options.settings };
    this.#timeZone = options.timeZone ?? 'Asia/Shanghai';
  }

  /** Registers a listener for final outcomes; returns the unsubscribe function. */
  onOutcome(listener: (o: DeliveryOutcome) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Claims the deliveries of a notice and starts the first attempts (not awaited: see `idle()`). */
  async dispatch(notice: Notice): Promise<DispatchResult> {
    const result: DispatchResult = { started: [], alreadyKnown: [] };
    const plan: PlanEntry[] = [];
    for (const p of await this.#plan(notice)) {
      // Being sent by the fast path right now, its claim not yet written.
      if (this.#claimedHere.has(keyOf(notice.id, p.recipientId, channelOf(p)))) result.alreadyKnown.push({ recipientId: p.recipientId, channel: channelOf(p) });
      else plan.push(p);
    }
    const nowMs = this.#clock.now();
    const claimed = await this.#db.transaction(async (tx) => {
      await tx.query(`INSERT INTO push_notices (id, notice, received_at) VALUES ($1, $2::jsonb, ${ts(3)}) ON CONFLICT (id) DO NOTHING`, [
        notice.id,
        JSON.stringify(notice),
        nowMs,
      ]);
      const won: boolean[] = [];
      for (const p of plan) {
        const rows = await tx.query(CLAIM, claimParams(notice, p, nowMs));
        won.push(rows.length > 0);
      }
      return won;
    });
    const won = plan.filter((_, i) => claimed[i]);
    plan.forEach((p, i) => (claimed[i] ? result.started : result.alreadyKnown).push({ recipientId: p.recipientId, channel: channelOf(p) }));
    this.#launch(notice, won);
    return result;
  }

  /** Who gets the notice on which channel; `people` given by the caller saves the look-up. */
  async #plan(notice: Notice, people?: readonly Person[]): Promise<PlanEntry[]> {
    const plan: PlanEntry[] = [];
    const given = people ? new Map(people.map((p) => [p.id, p])) : undefined;
    for (const recipientId of [...new Set(notice.recipients)]) {
      if (recipientId.startsWith(CUSTOMER_PREFIX)) {
        plan.push(...this.#customerPlan(notice, recipientId));
        continue;
      }
      const person = given?.get(recipientId) ?? (await this.#people.person(recipientId));
      if (!person) {
        plan.push({ recipientId, reason: `unknown person ${recipientId}` });
        continue;
      }
      const serving = this.#staffChannels().filter((c) => c.serves(person));
      if (serving.length === 0) plan.push({ recipientId, reason: 'no push channel serves this person' });
      plan.push(...this.#personPlan(notice, person, serving));
    }
    return plan;
  }

  /**
   * A person's channels: those named in their `channelOrder` one after another (each waits for the
   * one before it to end without reaching them, or for `fallbackAfterMs` while it still retries),
   * the serving channels the order does not name at once beside the first. Emergencies go to all at
   * once. A normal or low notice inside the person's quiet hours is held until they end, except on
   * the live stream.
   */
  #personPlan(notice: Notice, person: Person, serving: readonly StaffChannelInstance[]): PlanEntry[] {
    const entry = (instance: StaffChannelInstance, waitsFor?: string): PlanEntry => {
      const held = this.#heldUntil(notice, { audience: 'staff', recipient: person, instance });
      return {
        recipientId: person.id,
        target: { audience: 'staff', recipient: person, instance },
        ...(held === undefined ? {} : { notBeforeMs: held }),
        ...(waitsFor === undefined ? {} : { waitsFor }),
      };
    };
    const order = ALL_CHANNELS_AT_ONCE.has(notice.priority) ? [] : (person.channelOrder ?? []);
    const chain = order.map((name) => serving.find((c) => c.name === name)).filter((c): c is StaffChannelInstance => c !== undefined);
    const chained = new Set(chain.map((c) => c.name));
    return [...serving.filter((c) => !chained.has(c.name)).map((c) => entry(c)), ...chain.map((c, i) => entry(c, chain[i - 1]?.name))];
  }

  /** When the person's quiet hours end, if this push must wait for that now; else undefined. */
  #heldUntil(notice: Notice, target: Target): number | undefined {
    // The console's live stream wakes nobody: it shows what an open console should show.
    if (target.audience !== 'staff' || target.instance.type === 'sse' || NEVER_QUIET.has(notice.priority) || !target.recipient.quietHours) return undefined;
    return quietUntilMs(target.recipient.quietHours, this.#clock.now(), this.#timeZone);
  }

  #customerPlan(notice: Notice, recipientId: string): PlanEntry[] {
    // A staff notice names technicians, tickets and internal links: it never leaves for a customer system.
    if (notice.kind !== 'customer.notice') return [{ recipientId, reason: `a ${notice.kind} notice is not sent to customers`, notDelivered: true }];
    const customer: CustomerRecipient = { id: recipientId };
    const serving = this.#customerChannels().filter((c) => c.serves(customer));
    if (serving.length === 0) return [{ recipientId, reason: 'no customer channel configured', notDelivered: true }];
    return serving.map((instance) => ({ recipientId, target: { audience: 'customer', recipient: customer, instance } }));
  }

  #staffChannels(): StaffChannelInstance[] {
    return [...this.#channels.values()].filter((c): c is StaffChannelInstance => c.audience !== 'customer');
  }

  #customerChannels(): CustomerChannelInstance[] {
    return [...this.#channels.values()].filter((c): c is CustomerChannelInstance => c.audience === 'customer');
  }

  /** Whom a stored delivery goes to, on its channel if still configured for that audience; else why not. */
  async #targetOf(recipientId: string, channel: string): Promise<Target | string> {
    const instance = this.#channels.get(channel);
    if (recipientId.startsWith(CUSTOMER_PREFIX)) {
      return instance?.audience === 'customer' ? { audience: 'customer', recipient: { id: recipientId }, instance } : `customer channel ${channel} no longer configured`;
    }
    const person = await this.#people.person(recipientId);
    if (!person) return `unknown person ${recipientId}`;
    return instance && instance.audience !== 'customer' ? { audience: 'staff', recipient: person, instance } : `channel ${channel} no longer configured`;
  }

  /**
   * A notice made just now (its id cannot have been claimed by an earlier run): the first
   * attempts start before anything is written, and the claims follow in one transaction behind
   * them; attempts record their outcome only after the claims. Alarms and every later push of a
   * ticket take this path, so a store busy with a storm never holds a push back. Notices fed again
   * after a restart go through `dispatch`, which claims first.
   */
  async dispatchFresh(notice: Notice, people?: readonly Person[]): Promise<DispatchResult> {
    const plan = await this.#plan(notice, people);
    const result: DispatchResult = { started: [], alreadyKnown: [] };
    const won: PlanEntry[] = [];
    for (const p of plan) {
      const pair = { recipientId: p.recipientId, channel: channelOf(p) };
      const key = keyOf(notice.id, pair.recipientId, pair.channel);
      if (this.#claimedHere.has(key) || this.#busy(key)) {
        result.alreadyKnown.push(pair);
        continue;
      }
      this.#claimedHere.add(key);
      won.push(p);
      result.started.push(pair);
    }
    if (won.length === 0) return result;
    const nowMs = this.#clock.now();
    const claims = this.#db
      .transaction(async (tx) => {
        await tx.query(`INSERT INTO push_notices (id, notice, received_at) VALUES ($1, $2::jsonb, ${ts(3)}) ON CONFLICT (id) DO NOTHING`, [notice.id, JSON.stringify(notice), nowMs]);
        for (const p of won) await tx.query(CLAIM, claimParams(notice, p, nowMs));
      })
      .catch((err: unknown) => this.#log.error({ err, noticeId: notice.id }, 'Could not record the claims of a push already sent'))
      .finally(() => {
        for (const p of won) {
          const key = keyOf(notice.id, p.recipientId, channelOf(p));
          this.#claimedHere.delete(key);
          this.#claimWrites.delete(key);
        }
      });
    for (const p of won) this.#claimWrites.set(keyOf(notice.id, p.recipientId, channelOf(p)), claims);
    this.#launch(notice, won);
    return result;
  }

  #launch(notice: Notice, plan: readonly PlanEntry[]): void {
    // Queued channels first, so that the channel before them finds them when it ends.
    for (const p of plan) if (p.target && p.waitsFor !== undefined) this.#followers.set(keyOf(notice.id, p.recipientId, p.waitsFor), { notice, target: p.target });
    const nowMs = this.#clock.now();
    for (const p of plan) {
      if (p.target) {
        if (p.waitsFor === undefined) this.#start({ notice, target: p.target, attempt: 1 }, (p.notBeforeMs ?? nowMs) - nowMs);
      } else if (p.notDelivered) this.#track(this.#finish(notice, p.recipientId, NO_CHANNEL, 0, 'not_delivered', p.reason));
      else this.#track(this.#unreachable(notice, p.recipientId, p.reason ?? 'unreachable'));
    }
  }

  /**
   * After a restart: schedules every delivery still pending in the store (held ones at the end of
   * their quiet hours). A channel queued behind another waits for it again, or goes now when that
   * one ended without reaching the person, or is skipped when it did. Returns how many were scheduled.
   */
  async resume(): Promise<number> {
    const rows = await this.#db.query<{ notice: Notice; recipient_id: string; channel: string; attempts: number; next_ms: number | null; waits_for: string | null; before: string | null }>(
      `SELECT n.notice, s.recipient_id, s.channel, s.attempts, (extract(epoch from s.next_attempt_at) * 1000)::float8 AS next_ms, s.waits_for, b.status AS before
       FROM delivery_state s JOIN push_notices n ON n.id = s.notice_id
       LEFT JOIN delivery_state b ON b.notice_id = s.notice_id AND b.recipient_id = s.recipient_id AND b.channel = s.waits_for
       WHERE s.status = 'pending' ORDER BY s.next_attempt_at`,
    );
    const fresh = rows.filter((r) => !this.#busy(keyOf(r.notice.id, r.recipient_id, r.channel)));
    const targets = await Promise.all(fresh.map((r) => this.#targetOf(r.recipient_id, r.channel)));
    const gone: number[] = [];
    const ended: number[] = [];
    // Every queued channel is registered before anything runs, so a chain resolves in order.
    fresh.forEach((r, i) => {
      const target = targets[i]!;
      if (typeof target === 'string') gone.push(i);
      else if (r.waits_for !== null) {
        const follower: Follower = { notice: r.notice, target };
        this.#followers.set(keyOf(r.notice.id, r.recipient_id, r.waits_for), follower);
        if (r.before !== 'pending') ended.push(i);
        else if (r.next_ms !== null) this.#armAt(r.notice.id, r.recipient_id, r.waits_for, Math.max(0, r.next_ms - this.#clock.now()));
      }
    });
    let count = 0;
    for (const i of gone) {
      const r = fresh[i]!;
      await this.#finish(r.notice, r.recipient_id, r.channel, r.attempts, 'failed', targets[i] as string);
    }
    fresh.forEach((r, i) => {
      const target = targets[i]!;
      if (typeof target === 'string' || r.waits_for !== null) return;
      this.#start({ notice: r.notice, target, attempt: r.attempts + 1 }, Math.max(0, (r.next_ms ?? 0) - this.#clock.now()));
      count++;
    });
    for (const i of ended) {
      const r = fresh[i]!;
      const before = keyOf(r.notice.id, r.recipient_id, r.waits_for!);
      if (r.before === 'delivered') await this.#skipAfter(before, r.waits_for!);
      else if (await this.#release(before)) count++;
    }
    return count;
  }

  /**
   * A provider's later word on a push its channel accepted (a channel callback calls this):
   * delivered to the device, or read. Read implies delivered; the first time of each is kept.
   * False when no such delivery is known.
   */
  async recordReceipt(noticeId: string, recipientId: string, channel: string, receipt: Receipt, atMs: number): Promise<boolean> {
    const rows = await this.#db.query(
      `UPDATE delivery_state SET delivered_at = COALESCE(delivered_at, ${ts(4)}),
         read_at = CASE WHEN $5 = 'read' THEN COALESCE(read_at, ${ts(4)}) ELSE read_at END
       WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3 RETURNING notice_id`,
      [noticeId, recipientId, channel, atMs, receipt],
    );
    if (rows.length === 0) this.#log.warn({ noticeId, recipientId, channel, receipt }, 'Receipt for a delivery not known here, ignored');
    return rows.length > 0;
  }

  /** The delivery log of a notice, oldest first. */
  async log(noticeId: string): Promise<DeliveryLogEntry[]> {
    const rows = await this.#db.query<{ notice_id: string; recipient_id: string; channel: string; attempt: number; status: DeliveryLogEntry['status']; error: string | null; at_ms: number }>(
      `SELECT notice_id, recipient_id, channel, attempt, status, error, (extract(epoch from at) * 1000)::float8 AS at_ms
       FROM deliveries WHERE notice_id = $1 ORDER BY id`,
      [noticeId],
    );
    return rows.map((r) => ({
      noticeId: r.notice_id,
      recipientId: r.recipient_id,
      channel: r.channel,
      attempt: r.attempt,
      status: r.status,
      ...(r.error === null ? {} : { error: r.error }),
      atMs: Math.round(r.at_ms),
    }));
  }

  /** Resolves when no attempt is running (scheduled retries may still wait). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Cancels scheduled retries (they stay pending in the store for `resume()`) and waits for running ones. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#active.values()) t?.cancel();
    for (const f of this.#followers.values()) f.timer?.cancel();
    await this.idle();
  }

  #start(job: Job, delayMs: number): void {
    const key = keyOf(job.notice.id, job.target.recipient.id, job.target.instance.name);
    if (delayMs <= 0) {
      this.#active.set(key, undefined);
      this.#track(this.#attempt(job));
      return;
    }
    this.#active.set(key, this.#scheduler.schedule(delayMs, () => this.#track(this.#attempt(job))));
  }

  #track(p: Promise<void>): Promise<void> {
    const tracked = p.catch((err) => this.#log.error({ err }, 'Push attempt crashed'));
    this.#inflight.add(tracked);
    void tracked.finally(() => this.#inflight.delete(tracked));
    return tracked;
  }

  async #attempt(job: Job): Promise<void> {
    const { notice, target, attempt } = job;
    const { recipient, instance } = target;
    const key = keyOf(notice.id, recipient.id, instance.name);
    if (this.#closed) return;
    if (attempt === 1) this.#arm(notice.id, recipient.id, instance.name);
    let error: PushError | undefined;
    let result;
    try {
      result = await send(notice, target);
    } catch (err) {
      error = asPushError(err);
    }
    const log = this.#log.child({ noticeId: notice.id, recipientId: recipient.id, channel: instance.name, attempt });
    if (!error && result) {
      this.#active.delete(key);
      if (result.delivered) await this.#finish(notice, recipient.id, instance.name, attempt, 'delivered');
      else await this.#finish(notice, recipient.id, instance.name, attempt, 'not_delivered', result.reason);
      return;
    }
    const err = error!;
    if (!err.retryable || attempt >= this.settings.maxAttempts) {
      this.#active.delete(key);
      log.warn({ err }, err.retryable ? 'Push failed, attempts exhausted' : 'Push refused, not retried');
      await this.#finish(notice, recipient.id, instance.name, attempt, 'failed', err.message);
      return;
    }
    const delayMs =
      err.retryAfterMs !== undefined ? Math.min(err.retryAfterMs, this.settings.maxRetryAfterMs) : backoffDelayMs(this.settings, attempt, this.#random);
    log.debug({ err, delayMs }, 'Push failed, will retry');
    const nowMs = this.#clock.now();
    await this.#record(
      [
        `UPDATE delivery_state SET attempts = $4, next_attempt_at = ${ts(5)}, last_error = $6, updated_at = ${ts(7)} WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3`,
        [notice.id, recipient.id, instance.name, attempt, nowMs + delayMs, err.message, nowMs],
      ],
      { noticeId: notice.id, recipientId: recipient.id, channel: instance.name, attempt, status: 'retry', error: err.message, atMs: nowMs },
    );
    if (!this.#closed) this.#start({ ...job, attempt: attempt + 1 }, delayMs);
  }

  async #unreachable(notice: Notice, recipientId: string, reason: string): Promise<void> {
    this.#log.warn({ noticeId: notice.id, recipientId }, `Push impossible: ${reason}`);
    await this.#finish(notice, recipientId, NO_CHANNEL, 0, 'failed', reason);
  }

  /** `reachedOn`: skipped because that channel before it in the person's order reached them. */
  async #finish(notice: Notice, recipientId: string, channel: string, attempt: number, status: 'delivered' | 'failed' | 'not_delivered', error?: string, reachedOn?: string): Promise<void> {
    const nowMs = this.#clock.now();
    await this.#record(
      [
        `UPDATE delivery_state SET status = $4, attempts = $5, next_attempt_at = NULL, last_error = $6, updated_at = ${ts(7)},
           sent_at = CASE WHEN $4 = 'delivered' THEN ${ts(7)} ELSE sent_at END
         WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3`,
        [notice.id, recipientId, channel, status, attempt, error ?? null, nowMs],
      ],
      { noticeId: notice.id, recipientId, channel, attempt, status, atMs: nowMs, ...(error === undefined ? {} : { error }) },
    );
    // The next channel of the person's order, before the outcome is heard: escalation then finds it pending.
    const next = keyOf(notice.id, recipientId, channel);
    if (this.#followers.has(next)) {
      if (status === 'delivered' || reachedOn !== undefined) await this.#skipAfter(next, reachedOn ?? channel);
      else await this.#release(next);
    }
    if (status === 'not_delivered') return;
    const outcome: DeliveryOutcome = { noticeId: notice.id, recipientId, channel, status, attempts: attempt, atMs: nowMs, ...(error === undefined ? {} : { error }) };
    for (const l of this.#listeners) {
      try {
        l(outcome);
      } catch (err) {
        this.#log.error({ err, noticeId: notice.id }, 'Delivery outcome listener threw');
      }
    }
  }

  /** Whether this process is already on a delivery: trying, retrying, held, or queued behind another channel. */
  #busy(key: string): boolean {
    if (this.#active.has(key)) return true;
    for (const f of this.#followers.values()) if (keyOf(f.notice.id, f.target.recipient.id, f.target.instance.name) === key) return true;
    return false;
  }

  /** Starts the fallback deadline of the channel queued behind this delivery, if the person set one. */
  #arm(noticeId: string, recipientId: string, channel: string): void {
    const f = this.#followers.get(keyOf(noticeId, recipientId, channel));
    const afterMs = f?.target.audience === 'staff' ? f.target.recipient.fallbackAfterMs : undefined;
    if (!f || f.timer || afterMs === undefined) return;
    this.#armAt(noticeId, recipientId, channel, afterMs);
    const dueMs = this.#clock.now() + afterMs;
    const followerKey = keyOf(noticeId, recipientId, f.target.instance.name);
    this.#track(
      (async () => {
        await this.#claimWrites.get(followerKey);
        await this.#db.query(`UPDATE delivery_state SET next_attempt_at = ${ts(4)} WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3 AND status = 'pending'`, [
          noticeId,
          recipientId,
          f.target.instance.name,
          dueMs,
        ]);
      })(),
    );
  }

  #armAt(noticeId: string, recipientId: string, channel: string, delayMs: number): void {
    const key = keyOf(noticeId, recipientId, channel);
    const f = this.#followers.get(key);
    if (f) f.timer = this.#scheduler.schedule(delayMs, () => this.#track(this.#release(key).then(() => undefined)));
  }

  /** Starts the channel queued behind `before` (that one failed, was not delivered, or took too long). */
  async #release(before: string): Promise<boolean> {
    const f = this.#followers.get(before);
    if (!f || this.#closed) return false;
    this.#followers.delete(before);
    f.timer?.cancel();
    const { notice, target } = f;
    // The channel before may not wait (the live stream), this one may: quiet hours still hold it.
    const nowMs = this.#clock.now();
    const dueMs = this.#heldUntil(notice, target) ?? nowMs;
    await this.#claimWrites.get(keyOf(notice.id, target.recipient.id, target.instance.name));
    try {
      await this.#db.query(
        `UPDATE delivery_state SET waits_for = NULL, next_attempt_at = ${ts(4)}, updated_at = ${ts(5)} WHERE notice_id = $1 AND recipient_id = $2 AND channel = $3 AND status = 'pending'`,
        [notice.id, target.recipient.id, target.instance.name, dueMs, nowMs],
      );
    } catch (err) {
      this.#log.error({ err, noticeId: notice.id, channel: target.instance.name }, 'Could not record the fallback to the next channel');
    }
    this.#start({ notice, target, attempt: 1 }, dueMs - nowMs);
    return true;
  }

  /** The channel queued behind `before` is not needed: `reachedOn` reached the person. */
  async #skipAfter(before: string, reachedOn: string): Promise<void> {
    const f = this.#followers.get(before);
    if (!f) return;
    this.#followers.delete(before);
    f.timer?.cancel();
    await this.#finish(f.notice, f.target.recipient.id, f.target.instance.name, 0, 'not_delivered', `not needed: reached on ${reachedOn}`, reachedOn);
  }

  /** State update and log row in one transaction; a store failure is logged, the push goes on. */
  async #record(state: [string, unknown[]], entry: DeliveryLogEntry): Promise<void> {
    // A fast-path push may finish before its claim row exists: the update waits for it.
    await this.#claimWrites.get(keyOf(entry.noticeId, entry.recipientId, entry.channel));
    try {
      await this.#db.transaction(async (tx) => {
        await tx.query(state[0], state[1]);
        await tx.query(
          `INSERT INTO deliveries (notice_id, recipient_id, channel, attempt, status, error, at) VALUES ($1, $2, $3, $4, $5, $6, ${ts(7)})`,
          [entry.noticeId, entry.recipientId, entry.channel, entry.attempt, entry.status, entry.error ?? null, entry.atMs],
        );
      });
    } catch (err) {
      this.#log.error({ err, noticeId: entry.noticeId, channel: entry.channel }, 'Could not record a push attempt');
    }
  }
}
