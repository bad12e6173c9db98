import type { OnCallAnswer, OnCallDirectory } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { chainFor, levelOfStep, recordEscalation, saveNotice, stepOfLevel, type EscalationRecord } from '../tickets/escalation.ts';
import type { DeliveryOutcome, Notice } from '../tickets/notice.ts';
import { breachNotice, type NoticeContext } from '../tickets/notice-text.ts';
import { breachKey, clockDueMs, ms, toTicket, type Row, type Ticket } from '../tickets/ticket.ts';
import { SLA_CLOCKS, type Priority, type SlaClock, type SlaSettings } from './sla-policy.ts';
import { SQ } from './sla-queries.ts';

export interface SlaBreach {
  ticketId: string;
  clock: string;
  priority: Priority;
  dueAtMs: number;
  breachedAtMs: number;
}

export interface SlaWatchOptions {
  db: Db;
  directory: OnCallDirectory;
  settings: SlaSettings;
  appUrl?: string;
  /** Zone of the times in notice texts. @defaultValue Asia/Shanghai */
  timeZone?: string;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

/** When each clock's stage was reached, for the current round. */
function metAtMs(t: Ticket, clock: SlaClock): number | null {
  switch (clock) {
    case 'dispatch':
      return ms(t.dispatchedAt);
    case 'acknowledge':
      return ms(t.acknowledgedAt);
    case 'on_site':
      return ms(t.onSiteAt);
    case 'resolve':
      return ms(t.resolvedAt);
    case 'follow_up':
      return ms(t.followedUpAt);
  }
}

/**
 * SLA clocks and the escalation chain, run by the caller's scheduler through `check(nowMs)` (no
 * timers here, so tests drive it with a ManualClock). Each breach is recorded once; while nobody
 * acknowledges, the chain notifies the technician, repeats, then the supervisor, then the director.
 */
export class SlaWatch {
  readonly #db: Db;
  readonly #directory: OnCallDirectory;
  #settings: SlaSettings;
  readonly #appUrl: string | undefined;
  readonly #timeZone: string | undefined;
  readonly #log: SlaWatchOptions['log'];
  readonly #listeners: Array<(notice: Notice) => void> = [];
  /** Failed deliveries to people whose other channels were still trying, by notice and person. */
  readonly #undecided = new Map<string, DeliveryOutcome>();

  constructor(options: SlaWatchOptions) {
    this.#db = options.db;
    this.#directory = options.directory;
    this.#settings = options.settings;
    this.#appUrl = options.appUrl;
    this.#timeZone = options.timeZone;
    this.#log = options.log;
  }

  /** New SLA limits (from the API): later checks judge by them. */
  updateSettings(settings: SlaSettings): void {
    this.#settings = settings;
  }

  onNotice(listener: (notice: Notice) => void): void {
    this.#listeners.push(listener);
  }

  #emit(notices: ReadonlyArray<Notice | undefined>): void {
    for (const n of notices) if (n) for (const l of this.#listeners) l(n);
  }

  #ctx(nowMs: number): NoticeContext {
    return { nowMs, ...(this.#timeZone ? { timeZone: this.#timeZone } : {}), ...(this.#appUrl ? { appUrl: this.#appUrl } : {}) };
  }

  async check(nowMs: number): Promise<{ breaches: SlaBreach[]; escalations: EscalationRecord[] }> {
    const tickets = (await this.#db.query<Row>(SQ.watched)).map(toTicket);
    const answers = new Map<string, Promise<OnCallAnswer | undefined>>();
    const onCall = (district: string | null): Promise<OnCallAnswer | undefined> => {
      const key = district ?? '';
      let a = answers.get(key);
      if (!a) {
        a = this.#directory.whoIsOnCall(district ?? undefined, nowMs).catch((err: unknown) => {
          this.#log?.warn({ err, district }, 'On-call lookup failed during SLA check');
          return undefined;
        });
        answers.set(key, a);
      }
      return a;
    };
    const breaches = await this.#breaches(tickets, nowMs, onCall);
    const escalations = await this.#escalate(tickets, nowMs, onCall);
    for (const outcome of [...this.#undecided.values()]) {
      const e = await this.onDeliveryOutcome(outcome);
      if (e) escalations.push(e);
    }
    return { breaches, escalations };
  }

  async #breaches(tickets: Ticket[], nowMs: number, onCall: (d: string | null) => Promise<OnCallAnswer | undefined>): Promise<SlaBreach[]> {
    const candidates: Array<{ ticket: Ticket; key: string; dueMs: number }> = [];
    for (const t of tickets) {
      for (const clock of SLA_CLOCKS) {
        const dueMs = clockDueMs(this.#settings, clock, t.priority, Date.parse(t.slaStartedAt), ms(t.resolvedAt), t.conditions);
        if (dueMs === undefined) continue;
        // Met late also counts: a stage reached after its limit is a breach even between checks.
        const met = metAtMs(t, clock);
        if ((met ?? nowMs) > dueMs) candidates.push({ ticket: t, key: breachKey(clock, t.round), dueMs });
      }
    }
    if (candidates.length === 0) return [];
    const known = new Set(
      (await this.#db.query<{ ticket_id: string; clock: string }>(SQ.breachKeysOf, [[...new Set(candidates.map((c) => c.ticket.id))]])).map((r) => `${r.ticket_id}/${r.clock}`),
    );
    const out: SlaBreach[] = [];
    for (const c of candidates) {
      if (known.has(`${c.ticket.id}/${c.key}`)) continue;
      const answer = await onCall(c.ticket.district);
      const supervisor = answer?.supervisor?.id ?? null;
      const recipients = [...new Set([c.ticket.assignee, supervisor].filter((x): x is string => !!x))];
      const now = new Date(nowMs).toISOString();
      const dueIso = new Date(c.dueMs).toISOString();
      const notices = await this.#db.transaction(async (tx) => {
        const ins = await tx.query(SQ.insertBreach, [c.ticket.id, c.key, c.ticket.priority, dueIso, now]);
        if (ins.length === 0) return undefined;
        const ctx = this.#ctx(nowMs);
        const list: Array<Notice | undefined> = [];
        if (recipients.length) {
          const n = breachNotice(`${c.ticket.id}:breach:${c.key}`, c.ticket, recipients, c.key, dueIso, ctx);
          await saveNotice(tx, n, null);
          list.push(n);
        }
        // The breach is escalated to the supervisor (and recorded) once per clock.
        if (supervisor) {
          const step = stepOfLevel('supervisor', this.#settings.escalation.repeats);
          // The breach notice already reached the supervisor: record the escalation without a second push.
          await recordEscalation(tx, c.ticket, { ticketId: c.ticket.id, step, level: 'supervisor', target: supervisor, reason: `sla_breach:${c.key}`, atMs: nowMs, causeKey: `breach:${c.ticket.id}:${c.key}`, notify: false }, ctx);
        }
        return list;
      });
      if (!notices) continue;
      out.push({ ticketId: c.ticket.id, clock: c.key, priority: c.ticket.priority, dueAtMs: c.dueMs, breachedAtMs: nowMs });
      this.#emit(notices);
    }
    return out;
  }

  /**
   * One step per check and ticket, the priority's gap after the previous one, until acknowledged or
   * the chain's top level has been repeated `topRepeats` times. The director is not paged before
   * the ticket's own acknowledge limit: a low ticket with a day to be acknowledged stays with the
   * technician and the supervisor until then.
   */
  async #escalate(tickets: Ticket[], nowMs: number, onCall: (d: string | null) => Promise<OnCallAnswer | undefined>): Promise<EscalationRecord[]> {
    const out: EscalationRecord[] = [];
    for (const t of tickets) {
      if (t.status !== 'opened' && t.status !== 'dispatched') continue;
      const lastMs = ms(t.escalatedAt) ?? ms(t.dispatchedAt) ?? Date.parse(t.openedAt);
      if (nowMs - lastMs < this.#settings.escalation.repeatNotifyMs[t.priority]) continue;
      const chain = chainFor(this.#settings, t.priority);
      let next = t.escalationStep + 1;
      let level = levelOfStep(next, chain);
      // Nobody to repeat to: straight to the supervisor.
      if (level === 'repeat' && !t.assignee) {
        next = stepOfLevel('supervisor', chain.repeats);
        level = 'supervisor';
      }
      if (level === undefined || level === 'technician') continue;
      if (level === 'director' && nowMs <= (clockDueMs(this.#settings, 'acknowledge', t.priority, Date.parse(t.slaStartedAt), ms(t.resolvedAt)) ?? 0)) continue;
      const answer = level === 'repeat' ? undefined : await onCall(t.district);
      const target = level === 'repeat' ? t.assignee : level === 'supervisor' ? (answer?.supervisor?.id ?? null) : (answer?.director?.id ?? null);
      const result = await this.#db.transaction(async (tx) => {
        const moved = await tx.query(SQ.advanceStep, [t.id, t.escalationStep, next, new Date(nowMs).toISOString()]);
        if (moved.length === 0) return undefined;
        return recordEscalation(tx, t, { ticketId: t.id, step: next, level, target, reason: 'no_ack', atMs: nowMs, causeKey: `chain:${t.id}:${t.round}:${next}` }, this.#ctx(nowMs));
      });
      if (!result) continue;
      out.push(result.record);
      this.#emit([result.notice]);
    }
    return out;
  }

  /**
   * A person the notice could not reach on any channel escalates to the next level above them
   * (technician → supervisor → director), once per notice and recipient. Judged per person, when
   * their last channel finishes: one failing channel is no escalation when another reached them.
   */
  async onDeliveryOutcome(outcome: DeliveryOutcome): Promise<EscalationRecord | undefined> {
    if (outcome.status !== 'failed') return undefined;
    const key = `${outcome.noticeId}\u0000${outcome.recipientId}`;
    const channels = await this.#db.query<{ status: string }>(SQ.deliveryStatesOf, [outcome.noticeId, outcome.recipientId]);
    if (channels.some((c) => c.status === 'delivered')) return undefined;
    if (channels.some((c) => c.status === 'pending')) {
      // Judged again when that channel finishes, or at the next check if it ends without an outcome (no open stream).
      this.#undecided.set(key, outcome);
      return undefined;
    }
    this.#undecided.delete(key);
    if (!channels.some((c) => c.status === 'failed')) return undefined;
    const noticeRow = (await this.#db.query<{ ticket_id: string; kind: string }>(SQ.noticeById, [outcome.noticeId]))[0];
    if (!noticeRow || noticeRow.kind === 'customer.notice') return undefined;
    const ticketRow = (await this.#db.query<Row>(SQ.ticketById, [noticeRow.ticket_id]))[0];
    if (!ticketRow) return undefined;
    const ticket = toTicket(ticketRow);
    if (ticket.status === 'closed' || ticket.status === 'cancelled') return undefined;
    const [person, answer] = await Promise.all([
      this.#directory.person(outcome.recipientId).catch(() => undefined),
      this.#directory.whoIsOnCall(ticket.district ?? undefined, outcome.atMs).catch(() => undefined),
    ]);
    const role = person?.role ?? (outcome.recipientId === answer?.supervisor?.id ? 'supervisor' : outcome.recipientId === answer?.director?.id ? 'director' : 'technician');
    if (role === 'director') return undefined;
    const level = role === 'technician' ? 'supervisor' : 'director';
    const target = (level === 'supervisor' ? answer?.supervisor?.id : answer?.director?.id) ?? null;
    const step = stepOfLevel(level, this.#settings.escalation.repeats);
    const result = await this.#db.transaction(async (tx) => {
      const t = toTicket((await tx.query<Row>(SQ.ticketForUpdate, [ticket.id]))[0]!);
      const r = await recordEscalation(tx, t, { ticketId: t.id, step, level, target, reason: 'delivery_failed', atMs: outcome.atMs, causeKey: `delivery:${outcome.noticeId}:${outcome.recipientId}` }, this.#ctx(outcome.atMs));
      // The chain carries on from the level reached, unless someone already acknowledged.
      if (r) await tx.query(SQ.raiseStep, [t.id, step, new Date(outcome.atMs).toISOString()]);
      return r;
    });
    if (!result) return undefined;
    this.#emit([result.notice]);
    return result.record;
  }
}
