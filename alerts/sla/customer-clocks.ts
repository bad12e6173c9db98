import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../app/errors.ts';
import type { OnCallAnswer, OnCallDirectory } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { saveNotice } from '../tickets/escalation.ts';
import type { Notice } from '../tickets/notice.ts';
import type { NoticeContext } from '../tickets/notice-text.ts';
import { customerBreachNotice, reclassifyAsJustified } from '../tickets/person-tickets.ts';
import { ms, toTicket, type Row, type Ticket } from '../tickets/ticket.ts';
import { OPEN_STATUSES } from '../tickets/ticket-lifecycle.ts';
import { Q } from '../tickets/ticket-queries.ts';
import { parseSlaSettings, type SlaSettings } from './sla-policy.ts';

const HOUR = 3_600_000;

/**
 * The clocks a person-opened ticket runs for the customer (service-rules.md, time limits), in
 * milliseconds. They stop when the customer is told something (`POST …/customer-contacts`), not
 * when the technician moves the ticket.
 */
export const CustomerClockSettingsSchema = Type.Object(
  {
    reportReplyWithinMs: Type.Integer({ minimum: 1, default: 12 * HOUR, description: '报修 opened → first reply to the customer (hotline, 003:156–160)' }),
    complaintReplyWithinMs: Type.Integer({ minimum: 1, default: 24 * HOUR, description: '投诉 opened → first reply to the customer (002:397)' }),
    complaintCompleteWithinMs: Type.Integer({ minimum: 1, default: 48 * HOUR, description: '投诉 opened (or reopened) → handled to completion, i.e. resolved (002:397)' }),
    updateGapMs: Type.Integer({ minimum: 1, default: 48 * HOUR, description: 'Longest gap between updates to a customer still waiting (004:45, 54, 64)' }),
  },
  { additionalProperties: false },
);
export type CustomerClockSettings = Static<typeof CustomerClockSettingsSchema>;

export function parseCustomerClockSettings(input: unknown = {}): CustomerClockSettings {
  const value = Value.Default(CustomerClockSettingsSchema, Value.Clone(input ?? {}));
  if (!Value.Check(CustomerClockSettingsSchema, value)) {
    const first = Value.Errors(CustomerClockSettingsSchema, value).First();
    throw new ConfigError(`Customer clock settings: ${first ? `${first.path} ${first.message}` : 'invalid'}`);
  }
  return value as CustomerClockSettings;
}

/** One customer clock of one ticket: breached when it was met after `dueMs`, or is still running past it. */
export interface CustomerClock {
  /** `reply`, `complete` (`complete#<round>` after a reopen), `customer_update#<n>` for the n-th gap. */
  key: string;
  dueMs: number;
  /** When it stopped; null while it runs. */
  metMs: number | null;
}

/**
 * The customer clocks of a ticket with the times its customer was contacted (oldest first). The
 * update gaps run while the customer waits: from the opening, each contact, or the reopen, to the
 * next contact, or to the resolve (then nobody is waiting for news any more).
 */
export function customerClocks(settings: CustomerClockSettings, t: Ticket, contactsMs: readonly number[]): CustomerClock[] {
  if (t.origin === 'alert') return [];
  const openedMs = Date.parse(t.openedAt);
  const firstContact = contactsMs[0] ?? null;
  const out: CustomerClock[] = [{ key: 'reply', dueMs: openedMs + (t.origin === 'report' ? settings.reportReplyWithinMs : settings.complaintReplyWithinMs), metMs: firstContact }];
  const roundStartMs = Date.parse(t.slaStartedAt);
  const resolvedMs = ms(t.resolvedAt);
  if (t.origin === 'complaint') {
    out.push({ key: t.round === 0 ? 'complete' : `complete#${t.round}`, dueMs: roundStartMs + settings.complaintCompleteWithinMs, metMs: resolvedMs });
  }
  const waiting = OPEN_STATUSES.includes(t.status);
  for (let n = 0; n <= contactsMs.length; n++) {
    const startMs = n === 0 ? openedMs : contactsMs[n - 1]!;
    const endMs = contactsMs[n] ?? (waiting ? null : resolvedMs !== null && resolvedMs > startMs ? resolvedMs : undefined);
    // Resolved before this gap began: nobody is waiting for news.
    if (endMs === undefined) continue;
    // A reopen starts the wait again: a gap still open at the reopen counts from it.
    const fromMs = endMs === null || endMs > roundStartMs ? Math.max(startMs, roundStartMs) : startMs;
    out.push({ key: `customer_update#${n}`, dueMs: fromMs + settings.updateGapMs, metMs: endMs });
  }
  return out;
}

export interface CustomerClockBreach {
  ticketId: string;
  clock: string;
  dueAtMs: number;
  breachedAtMs: number;
  /** A communication complaint that became justified with this breach. */
  reclassified: boolean;
}

export interface CustomerClockWatchOptions {
  db: Db;
  directory: OnCallDirectory;
  settings: CustomerClockSettings;
  /** The SLA limits in force: a complaint made justified is due again at its new priority. */
  sla?: () => SlaSettings;
  appUrl?: string;
  /** Zone of the times in notice texts. @defaultValue Asia/Shanghai */
  timeZone?: string;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

const CQ = {
  /** Person-opened tickets whose clocks may still run, with their contact times, oldest first. */
  watched: `SELECT t.*, ARRAY(SELECT cc.at FROM customer_contacts cc WHERE cc.ticket_id = t.id ORDER BY cc.at, cc.id) AS contact_times
    FROM tickets t WHERE t.origin <> 'alert' AND t.status IN ('opened', 'dispatched', 'acknowledged', 'on_site', 'resolved') ORDER BY t.opened_at`,
  breachKeysOf: 'SELECT ticket_id, clock FROM sla_breaches WHERE ticket_id = ANY($1::text[])',
  insertBreach: `INSERT INTO sla_breaches (ticket_id, clock, priority, due_at, breached_at) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)
    ON CONFLICT (ticket_id, clock) DO NOTHING RETURNING ticket_id`,
} as const;

/**
 * The customer clocks of 报修 and 投诉 tickets, run by the caller's scheduler through `check(nowMs)`
 * (no timers here, like SlaWatch). Each breach is recorded once in `sla_breaches` and audited on
 * the ticket; the assignee and the district's supervisor are notified. A communication complaint
 * whose clock is breached becomes justified (000:702).
 */
export class CustomerClockWatch {
  readonly #db: Db;
  readonly #directory: OnCallDirectory;
  readonly #settings: CustomerClockSettings;
  readonly #sla: () => SlaSettings;
  readonly #appUrl: string | undefined;
  readonly #timeZone: string | undefined;
  readonly #log: CustomerClockWatchOptions['log'];
  readonly #listeners: Array<(notice: Notice) => void> = [];

  constructor(options: CustomerClockWatchOptions) {
    this.#db = options.db;
    this.#directory = options.directory;
    this.#settings = options.settings;
    const defaults = parseSlaSettings({});
    this.#sla = options.sla ?? (() => defaults);
    this.#appUrl = options.appUrl;
    this.#timeZone = options.timeZone;
    this.#log = options.log;
  }

  onNotice(listener: (notice: Notice) => void): void {
    this.#listeners.push(listener);
  }

  #ctx(nowMs: number): NoticeContext {
    return { nowMs, ...(this.#timeZone ? { timeZone: this.#timeZone } : {}), ...(this.#appUrl ? { appUrl: this.#appUrl } : {}) };
  }

  async check(nowMs: number): Promise<CustomerClockBreach[]> {
    const rows = await this.#db.query<Row>(CQ.watched);
    const candidates: Array<{ ticket: Ticket; clock: CustomerClock }> = [];
    for (const row of rows) {
      const ticket = toTicket(row);
      const contacts = ((row.contact_times ?? []) as unknown[]).map((v) => ms(v)!);
      for (const clock of customerClocks(this.#settings, ticket, contacts)) {
        // Met late also counts: a reply given after its limit is a breach even between checks.
        if ((clock.metMs ?? nowMs) > clock.dueMs) candidates.push({ ticket, clock });
      }
    }
    if (candidates.length === 0) return [];
    const known = new Set(
      (await this.#db.query<{ ticket_id: string; clock: string }>(CQ.breachKeysOf, [[...new Set(candidates.map((c) => c.ticket.id))]])).map((r) => `${r.ticket_id}/${r.clock}`),
    );
    const supervisors = new Map<string, Promise<OnCallAnswer | undefined>>();
    const onCall = (district: string | null): Promise<OnCallAnswer | undefined> => {
      const key = district ?? '';
      let a = supervisors.get(key);
      if (!a) {
        a = this.#directory.whoIsOnCall(district ?? undefined, nowMs).catch((err: unknown) => {
          this.#log?.warn({ err, district }, 'On-call lookup failed during the customer clock check');
          return undefined;
        });
        supervisors.set(key, a);
      }
      return a;
    };
    const out: CustomerClockBreach[] = [];
    for (const { ticket, clock } of candidates) {
      if (known.has(`${ticket.id}/${clock.key}`)) continue;
      const supervisor = (await onCall(ticket.district))?.supervisor?.id;
      const recipients = [...new Set([ticket.assignee, supervisor].filter((x): x is string => !!x))];
      const now = new Date(nowMs).toISOString();
      const dueIso = new Date(clock.dueMs).toISOString();
      const result = await this.#db.transaction(async (tx) => {
        const ins = await tx.query(CQ.insertBreach, [ticket.id, clock.key, ticket.priority, dueIso, now]);
        if (ins.length === 0) return undefined;
        await tx.query(Q.insertEvent, [ticket.id, now, 'system', 'customer_clock_breached', ticket.status, ticket.status, JSON.stringify({ clock: clock.key, dueAt: dueIso, notified: recipients })]);
        const reclassified = await reclassifyAsJustified(tx, ticket.id, `customer_clock_breached:${clock.key}`, 'system', nowMs, this.#sla());
        const after = reclassified ? toTicket((await tx.query<Row>(Q.ticketById, [ticket.id]))[0]!) : ticket;
        let notice: Notice | undefined;
        if (recipients.length) {
          notice = customerBreachNotice(`${ticket.id}:customer-breach:${clock.key}`, after, recipients, clock.key, dueIso, this.#ctx(nowMs));
          await saveNotice(tx, notice, null);
        }
        return { notice, reclassified };
      });
      if (!result) continue;
      out.push({ ticketId: ticket.id, clock: clock.key, dueAtMs: clock.dueMs, breachedAtMs: nowMs, reclassified: result.reclassified });
      if (result.notice) for (const l of this.#listeners) l(result.notice);
    }
    return out;
  }
}
