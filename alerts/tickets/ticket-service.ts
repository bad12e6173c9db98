import type { Condition, Severity } from '../../contracts/messages.ts';
import type { Clock } from '../../app/clock.ts';
import type { Alert, AlertChange } from '../alert-book.ts';
import type { OnCallDirectory } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { isDataError, safeText, safeValue } from '../store/data-errors.ts';
import { payloadText, type StoreDeadLetterReason, type StoreDeadLetterSink } from '../store/dead-letters.ts';
import { parseSlaSettings, type Priority, type SlaSettings } from '../sla/sla-policy.ts';
import { ConditionsActiveError, IllegalTransitionError, SafetyConditionsActiveError, TicketConflictError, TicketInputError, TicketNotFoundError } from './errors.ts';
import { recordEscalation, saveNotice, stepOfLevel, type EscalationRecord } from './escalation.ts';
import type { Notice } from './notice.ts';
import { customerNotice, dispatchedNotice, priorityRaisedNotice, reopenedNotice, type NoticeContext } from './notice-text.ts';
import { isSafetyAlert, maxPriority, priorityOf, SAFETY_CONDITIONS, worstPriority } from './priority.ts';
import {
  complaintToSupervisorNotice,
  personDispatchedNotice,
  personReopenedNotice,
  PersonTicketInputError,
  planPersonTicket,
  reclassifyAsJustified,
  sameForm,
  type CustomerContactInput,
  type PersonTicketInput,
} from './person-tickets.ts';
import {
  iso,
  ms,
  stageDueMs,
  toTicket,
  type Row,
  type Ticket,
  type TicketCustomerContact,
  type TicketDetail,
  type TicketManualEntry,
  type TicketOrigin,
  type TicketSubject,
} from './ticket.ts';
import { ticketDeliveries } from '../push/delivery-report.ts';
import { gatewaySite } from './gateway-site.ts';
import type { IncidentScope } from './storm-folder.ts';
import { nextStatus, OPEN_STATUSES, type TicketAction, type TicketStatus } from './ticket-lifecycle.ts';
import { listTicketsSql, Q, updateTicketSql, type TicketColumn, type TicketOrder } from './ticket-queries.ts';
import { parseTicketSettings, type TicketSettings } from './options.ts';

/** What the registry knows about a device (or gateway): where it is and whose it is. */
export interface DeviceInfo {
  district?: string;
  address?: string;
  customer?: string;
  /** The customer's mobile (a registry record's own field): customer notices carry it for SMS. */
  customerPhone?: string;
  /** Where it is, WGS-84 (converted from the registry's system by the caller). */
  lat?: number;
  lon?: number;
}
export type DeviceLookup = (deviceId: string) => DeviceInfo | undefined;

/** The pino subset the service uses. */
export interface TicketLog {
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface TicketServiceOptions {
  db: Db;
  clock: Clock;
  directory: OnCallDirectory;
  lookupDevice?: DeviceLookup;
  /** Parsed or raw; see TicketSettingsSchema. */
  settings?: Partial<TicketSettings>;
  sla?: SlaSettings;
  log?: TicketLog;
  /**
   * The alarm the safety lane already pushed for any of a ticket's alerts: the ticket's dispatch
   * to the same person takes that push's notice id and is not sent again.
   */
  priorAlarm?: (alertIds: readonly string[]) => { notice: { id: string }; recipients: readonly string[]; atMs: number } | undefined;
  /** Alert changes the store refused as they were (see `#quarantine`): the runner logs, counts and keeps them. */
  onDeadLetter?: StoreDeadLetterSink;
}

export type OpenOutcome =
  | { outcome: 'opened' | 'added' | 'duplicate'; ticket: Ticket }
  | { outcome: 'customer_notice'; noticeId: string | null };

export interface ResolveInput {
  remedyDone: string;
  partsUsed?: unknown[];
  notes?: string;
  /** Resolve although a leak is still active: a supervisor's decision, with why. */
  overrideReason?: string;
  /** The preventive service was done: recorded as the device's last service (a MAINTENANCE_DUE ticket's resolve implies it). */
  serviceDone?: boolean;
}

/** A resolve that recorded a device's preventive service, at pipeline time `atMs`. */
export type ServiceDoneListener = (done: { deviceId: string; ticketId: string; atMs: number; actor: string }) => void;

export interface FollowUpInput {
  satisfied: boolean;
  notes?: string;
}

export interface TicketListQuery {
  status?: TicketStatus | readonly TicketStatus[];
  deviceId?: string;
  assignee?: string;
  district?: string;
  priority?: Priority | readonly Priority[];
  origin?: TicketOrigin | readonly TicketOrigin[];
  /** @defaultValue 'newest' */
  order?: TicketOrder;
  /** @defaultValue 100, at most 1000 */
  limit?: number;
}

/** How old an alarm push may be for a ticket's routing to take it as its dispatch. */
const ALARM_ADOPT_WITHIN_MS = 3_600_000;

/** Changes per transaction when a batch is applied. */
const BATCH_CHANGES = 200;

/** Alert ids refused outright that reconcile no longer offers again (the oldest are forgotten first). */
const REJECTED_KEPT = 10_000;

/** What committed transactions hand on: notices to send, new tickets to route. */
interface Committed {
  notices: Notice[];
  routes: Set<string>;
}

const CUSTOMER_CONDITIONS: ReadonlySet<Condition> = new Set(['LOW_BALANCE', 'NO_BALANCE']);

const isoOf = (msValue: number | null): string | null => (msValue === null ? null : new Date(msValue).toISOString());
const asArray = <T>(v: T | readonly T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? [...(v as T[])] : [v as T]);

function manualOf(alert: Alert): TicketManualEntry {
  const m = alert.manual;
  return { condition: alert.condition, title: m.title, cause: m.cause, remedy: m.remedy, toolCard: m.toolCard, parts: m.parts, source: m.source };
}

/**
 * Turns alerts into service tickets and carries them through their lifecycle. Every write and
 * its audit event share one transaction; notices are handed to listeners after the commit.
 */
export class TicketService {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #directory: OnCallDirectory;
  readonly #lookup: DeviceLookup;
  readonly #settings: TicketSettings;
  #sla: SlaSettings;
  readonly #log: TicketLog | undefined;
  readonly #priorAlarm: TicketServiceOptions['priorAlarm'];
  readonly #onDeadLetter: StoreDeadLetterSink | undefined;
  /** Alerts the store refused even made safe: offering them again would fail the same way. */
  readonly #rejected = new Set<string>();
  readonly #listeners: Array<(notice: Notice) => void> = [];
  readonly #serviceDoneListeners: ServiceDoneListener[] = [];
  /** Alert changes are applied one batch after another, in arrival order. */
  #chain: Promise<void> = Promise.resolve();

  constructor(options: TicketServiceOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#directory = options.directory;
    this.#lookup = options.lookupDevice ?? (() => undefined);
    this.#settings = parseTicketSettings(options.settings ?? {});
    this.#sla = options.sla ?? parseSlaSettings({});
    this.#log = options.log;
    this.#priorAlarm = options.priorAlarm;
    this.#onDeadLetter = options.onDeadLetter;
  }

  get settings(): TicketSettings {
    return this.#settings;
  }

  /** New SLA limits (from the API): they apply to due dates computed from now on. */
  updateSla(settings: SlaSettings): void {
    this.#sla = settings;
  }

  /** Told after each resolve that records a service (the pipeline writes it into the registry). */
  onServiceDone(listener: ServiceDoneListener): void {
    this.#serviceDoneListeners.push(listener);
  }

  onNotice(listener: (notice: Notice) => void): void {
    this.#listeners.push(listener);
  }

  #emit(notices: ReadonlyArray<Notice | undefined>): void {
    for (const n of notices) if (n) for (const l of this.#listeners) l(n);
  }

  #ctx(nowMs: number): NoticeContext {
    return { nowMs, timeZone: this.#settings.timeZone, ...(this.#settings.appUrl ? { appUrl: this.#settings.appUrl } : {}) };
  }

  // --- alerts → tickets ----------------------------------------------------------------------

  /**
   * Wire to AlertBook.onChange (behind the storm folder). Batches are applied in order, each in
   * transactions of up to BATCH_CHANGES changes — not one per alert, so a storm costs a few
   * hundred statements per commit instead of a commit per alert — and the tickets they open are
   * routed after the commit. A failed batch is reported through the returned promise and
   * repaired by `reconcile`.
   */
  onAlertChanges(changes: readonly AlertChange[]): Promise<void> {
    return this.#enqueue(async () => {
      for (let i = 0; i < changes.length; i += BATCH_CHANGES) await this.#applyBatch(changes.slice(i, i + BATCH_CHANGES));
    });
  }

  /**
   * A storm folded into one incident: the devices' alerts of one condition in one district (or
   * behind one gateway) go onto that district's or gateway's open ticket, or a new one listing
   * every device, which is routed once. A device that already has an open ticket of its own keeps
   * its alert there.
   */
  openIncident(scope: IncidentScope, condition: Condition, alerts: readonly Alert[]): Promise<void> {
    return this.#enqueue(async () => {
      let done: Committed;
      try {
        done = await this.#storeIncident(scope, condition, alerts);
      } catch (err) {
        if (!isDataError(err)) throw err;
        // One poisoned alert fails the incident's transaction: the alerts go one by one instead, each its own ticket.
        this.#log?.warn({ err, [scope.subject]: scope.id, condition, alerts: alerts.length }, 'Incident refused by the ticket store; its alerts are applied one by one');
        return this.#applyBatch(alerts.map((alert) => ({ type: 'raised', alert })));
      }
      await this.#handOn(done);
    });
  }

  async #storeIncident(scope: IncidentScope, condition: Condition, alerts: readonly Alert[]): Promise<Committed> {
    const nowMs = this.#clock.now();
    const notices: Notice[] = [];
    const routes = new Set<string>();
    await this.#db.transaction(async (tx) => {
      const ids = alerts.map((a) => a.id);
      const known = new Set((await tx.query<{ alert_id: string }>(Q.alertsKnown, [ids])).map((r) => r.alert_id));
      const fresh = alerts.filter((a) => !known.has(a.id));
      if (fresh.length === 0) return;
      const own = new Map((await tx.query<{ id: string; subject_id: string }>(Q.openDeviceTickets, [fresh.map((a) => a.subjectId)])).map((r) => [r.subject_id, r.id]));
      const folded: Alert[] = [];
      for (const a of fresh) {
        if (own.has(a.subjectId)) await this.#openIn(tx, a, nowMs, routes, notices);
        else folded.push(a);
      }
      if (folded.length === 0) return;
      // One alert row stands for the incident, carrying the device list; the rest join it.
      const lead = folded[0]!;
      const gateways = [...new Set(folded.map((a) => a.gatewayId).filter(Boolean))];
      const incident: Alert = {
        ...lead,
        subject: 'gateway',
        subjectId: scope.id,
        deviceId: scope.id,
        gatewayId: scope.subject === 'gateway' ? scope.id : gateways.length === 1 ? gateways[0]! : '',
        detail: { ...lead.detail, devices: folded.map((a) => a.subjectId), folded: folded.length, gateways },
      };
      const out = await this.#openIn(tx, incident, nowMs, routes, notices, { recordAlert: false, subject: scope.subject });
      const ticketId = out.id;
      for (const a of folded) {
        await tx.query(Q.insertTicketAlert, [a.id, ticketId, a.condition, a.severity, new Date(a.raisedAtMs).toISOString(), a.detail ? JSON.stringify({ ...a.detail, deviceId: a.subjectId }) : JSON.stringify({ deviceId: a.subjectId })]);
      }
      await tx.query(Q.insertEvent, [ticketId, new Date(nowMs).toISOString(), 'system', 'incident', null, null, JSON.stringify({ condition, [scope.subject]: scope.id, gateways, devices: folded.length })]);
    });
    return { notices, routes };
  }

  /** Sends what committed and routes the tickets it opened. */
  async #handOn(done: Committed): Promise<void> {
    this.#emit(done.notices);
    for (const id of done.routes) await this.#route(id);
  }

  /** Resolves when every batch handed in so far is applied (or failed). */
  settled(): Promise<void> {
    return this.#chain;
  }

  #enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work);
    this.#chain = next.catch(() => {});
    return next;
  }

  /**
   * One transaction for the batch; when the store refuses it for what a change holds (see
   * `isDataError`), each change goes alone so only the poisoned one is lost, and that one is
   * quarantined. A store failure (down, restarting) is thrown for `reconcile` to repair. Only the
   * transactions fall back: routing runs after them, so its errors are never taken for bad data.
   */
  async #applyBatch(changes: readonly AlertChange[]): Promise<void> {
    const done: Committed = { notices: [], routes: new Set() };
    try {
      await this.#storeIsolated(changes, done);
    } finally {
      // What committed is handed on even when a later change met a store outage.
      await this.#handOn(done);
    }
  }

  async #storeIsolated(changes: readonly AlertChange[], done: Committed): Promise<void> {
    try {
      await this.#storeTogether(changes, done);
      return;
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (changes.length === 1) return this.#quarantine(changes[0]!, err, done);
      this.#log?.warn({ err, changes: changes.length }, 'Ticket batch refused by the store; its changes are applied one by one');
    }
    for (const change of changes) {
      try {
        await this.#storeTogether([change], done);
      } catch (err) {
        if (!isDataError(err)) throw err;
        await this.#quarantine(change, err, done);
      }
    }
  }

  /**
   * A change the store refused as it is. Its text is made safe (NUL, lone surrogates, control
   * characters, depth) and it is applied again flagged with the fields changed, so a leak keeps its
   * ticket; only when that is refused too is it left without a ticket, and reconcile stops offering
   * it. Either way it is dead-lettered as it arrived.
   */
  async #quarantine(change: AlertChange, cause: unknown, done: Committed): Promise<void> {
    const fields: string[] = [];
    const safe = safeValue(change.alert, fields) as Alert;
    const nowMs = this.#clock.now();
    // A time the store cannot hold (not finite, out of Date's range) becomes now.
    const validMs = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(new Date(v).getTime());
    if (!validMs(safe.raisedAtMs)) {
      safe.raisedAtMs = nowMs;
      fields.push('raisedAtMs');
    }
    if (safe.clearedAtMs !== null && safe.clearedAtMs !== undefined && !validMs(safe.clearedAtMs)) {
      safe.clearedAtMs = nowMs;
      fields.push('clearedAtMs');
    }
    let err = cause;
    if (fields.length > 0) {
      const flagged: Alert = { ...safe, detail: { ...safe.detail, sanitised: fields } };
      try {
        await this.#storeTogether([{ type: change.type, alert: flagged }], done);
        this.#deadLetter('ticket_sanitised', change.alert, cause, fields);
        return;
      } catch (again) {
        if (!isDataError(again)) throw again;
        err = again;
      }
    }
    this.#rejected.add(change.alert.id);
    if (this.#rejected.size > REJECTED_KEPT) this.#rejected.delete(this.#rejected.values().next().value!);
    this.#deadLetter('ticket_rejected', change.alert, err, fields);
  }

  #deadLetter(reason: StoreDeadLetterReason, alert: Alert, err: unknown, fields: readonly string[]): void {
    const message = `${(err as Error | undefined)?.message ?? 'refused by the ticket store'}${fields.length > 0 ? ` (made safe: ${fields.slice(0, 20).join(', ')})` : ''}`;
    this.#log?.warn({ err, alertId: payloadText(alert.id), deviceId: payloadText(alert.deviceId), condition: payloadText(alert.condition), reason, fields: fields.slice(0, 20) }, reason === 'ticket_sanitised'
      ? 'Alert refused by the ticket store as it was; stored with its text made safe and flagged'
      : 'Alert refused by the ticket store; dead-lettered without a ticket');
    this.#onDeadLetter?.({ reason, message, source: 'tickets', alertId: payloadText(alert.id), deviceId: payloadText(alert.deviceId), payload: payloadText(alert), atMs: this.#clock.now() });
  }

  /** One transaction; what it would hand on joins `done` only once it committed. */
  async #storeTogether(changes: readonly AlertChange[], done: Committed): Promise<void> {
    const nowMs = this.#clock.now();
    const notices: Notice[] = [];
    const routes = new Set<string>();
    await this.#db.transaction(async (tx) => {
      for (const change of changes) {
        if (change.type === 'raised') await this.#openIn(tx, change.alert, nowMs, routes, notices);
        else await this.#clearIn(tx, change.alert);
      }
    });
    done.notices.push(...notices);
    for (const id of routes) done.routes.add(id);
  }

  /** Opens the subject's ticket or adds the alert to it; a known alert id changes nothing. */
  async openTicketFor(alert: Alert): Promise<OpenOutcome> {
    const nowMs = this.#clock.now();
    const notices: Notice[] = [];
    const routes = new Set<string>();
    const result = await this.#db.transaction((tx) => this.#openIn(tx, alert, nowMs, routes, notices));
    this.#emit(notices);
    for (const id of routes) await this.#route(id);
    if (result.outcome === 'customer_notice') return { outcome: 'customer_notice', noticeId: result.noticeId };
    return { outcome: result.outcome, ticket: await this.#mustGet(this.#db, result.id) };
  }

  /**
   * The ticket side of one raise, inside the caller's transaction: a new ticket is added to
   * `routes` (routed after the commit), a customer notice to `notices`.
   */
  async #openIn(
    tx: Db,
    alert: Alert,
    nowMs: number,
    routes: Set<string>,
    notices: Notice[],
    /** An incident's ticket: its alerts are recorded by the caller, its subject may be a district. */
    incident?: { recordAlert: false; subject: TicketSubject },
  ): Promise<{ outcome: 'opened' | 'added' | 'duplicate'; id: string } | { outcome: 'customer_notice'; id: string; noticeId: string | null }> {
    if (CUSTOMER_CONDITIONS.has(alert.condition)) {
      const n = await this.#customerNoticeIn(tx, alert, nowMs);
      if (n) notices.push(n);
      return { outcome: 'customer_notice', id: '', noticeId: n?.id ?? null };
    }
    const now = new Date(nowMs).toISOString();
    const subject: TicketSubject = incident?.subject ?? alert.subject;
    const recordAlert = incident === undefined;
    const subjectId = subject === 'gateway' && !incident ? alert.gatewayId || alert.subjectId : alert.subjectId;
    const devices = subject !== 'device' && Array.isArray(alert.detail?.devices) ? (alert.detail.devices as unknown[]).map(String) : [];
    // A district's incident is the district's, a gateway's ticket its site's: no one device's address or customer stands for either.
    const info = subject === 'district' ? { district: subjectId } : subject === 'gateway' ? gatewaySite(subjectId, devices, this.#lookup) : (this.#lookup(subjectId) ?? {});
    const alertPriority = priorityOf(alert);

    await tx.query(Q.subjectLock, [`ticket:${subject}:${subjectId}`]);
    if (recordAlert) {
      const known = await tx.query<{ ticket_id: string }>(Q.alertById, [alert.id]);
      if (known.length > 0) {
        // A flapping condition comes back under its own alert id (the engine holds one alert): active again on its ticket, the device not normal.
        if (alert.detail?.flapping === true && (await tx.query(Q.reraiseTicketAlert, [alert.id])).length > 0) {
          const ticketId = known[0]!.ticket_id;
          await tx.query(Q.setDeviceNormal, [ticketId, null, now]);
          await tx.query(Q.insertEvent, [ticketId, now, 'device', 'condition_reraised', null, null, JSON.stringify({ alertId: alert.id, condition: alert.condition, flapping: true, changes: alert.detail.changes ?? null })]);
        }
        return { outcome: 'duplicate', id: known[0]!.ticket_id };
      }
    }
    // A historical alert (a late reading's) says so on the ticket: when it happened is not when it came in.
    const detail = alert.late ? { ...alert.detail, late: true, delayMs: alert.delayMs ?? null } : alert.detail;
    const alertRow = [alert.id, undefined, alert.condition, alert.severity, new Date(alert.raisedAtMs).toISOString(), detail ? JSON.stringify(detail) : null];

    const open = (await tx.query<Row>(Q.openTicketForSubject, [subject, subjectId]))[0];
    if (open) {
      const t = toTicket(open);
      alertRow[1] = t.id;
      if (recordAlert) await tx.query(Q.insertTicketAlert, alertRow);
      const priority = maxPriority(t.priority, alertPriority);
      const conditions = t.conditions.includes(alert.condition) ? t.conditions : [...t.conditions, alert.condition];
      const manual = t.manual.some((m) => m.condition === alert.condition) ? t.manual : [...t.manual, manualOf(alert)];
      // The worst condition's manual entry leads, so the push shows it first.
      if (priority !== t.priority) manual.sort((a, b) => (a.condition === alert.condition ? -1 : b.condition === alert.condition ? 1 : 0));
      const allDevices = [...new Set([...t.devices, ...devices])];
      const due = stageDueMs(this.#sla, t.status, priority, Date.parse(t.slaStartedAt), ms(t.resolvedAt), conditions);
      await this.#update(tx, t.id, {
        conditions,
        manual: JSON.stringify(manual),
        priority,
        devices: allDevices,
        device_normal_at: null,
        sla_due_at: isoOf(due),
        updated_at: now,
      });
      await tx.query(Q.insertEvent, [t.id, now, 'system', 'condition_added', t.status, t.status, JSON.stringify({ alertId: alert.id, condition: alert.condition, severity: alert.severity, priority })]);
      // A worse fault on a ticket already out: the assignee hears it now, not at the next repeat (a leak the safety lane pushed already).
      if (priority !== t.priority && t.assignee && OPEN_STATUSES.includes(t.status) && !isSafetyAlert(alert)) {
        const after = { ...t, conditions, priority, manual, devices: allDevices, slaDueAt: isoOf(due) };
        const n = priorityRaisedNotice(`${t.id}:priority:${alert.id}`, after, [t.assignee], t.priority, alert.condition, this.#ctx(nowMs));
        await saveNotice(tx, n, null);
        notices.push(n);
      }
      return { outcome: 'added', id: t.id };
    }

    const since = new Date(alert.raisedAtMs - this.#settings.repeatWindowMs).toISOString();
    const repeatOf = (await tx.query<{ id: string }>(Q.recentResolvedForSubject, [subject, subjectId, since]))[0]?.id ?? null;
    const due = stageDueMs(this.#sla, 'opened', alertPriority, nowMs, null);
    const inserted = await tx.query<{ id: string }>(Q.insertTicket, [
      subject,
      subjectId,
      subject === 'device' ? alert.deviceId : null,
      alert.gatewayId || null,
      alert.kind ?? null,
      alert.vendor ?? null,
      info.district ?? null,
      info.address ?? null,
      info.customer ?? null,
      [alert.condition],
      devices,
      alertPriority,
      now,
      isoOf(due),
      repeatOf,
      JSON.stringify([manualOf(alert)]),
      // A district's incident has no one point: the map places it among its devices.
      subject === 'district' ? null : (info.lat ?? null),
      subject === 'district' ? null : (info.lon ?? null),
    ]);
    const id = inserted[0]!.id;
    alertRow[1] = id;
    if (recordAlert) await tx.query(Q.insertTicketAlert, alertRow);
    await tx.query(Q.insertEvent, [id, now, 'system', 'open', null, 'opened', JSON.stringify({ alertId: alert.id, condition: alert.condition, severity: alert.severity, priority: alertPriority, repeatOf })]);
    if (this.#settings.autoDispatch) routes.add(id);
    return { outcome: 'opened', id };
  }

  async #customerNoticeIn(tx: Db, alert: Alert, nowMs: number): Promise<Notice | undefined> {
    const info = this.#lookup(alert.deviceId) ?? {};
    const rows = await tx.query<{ id: string }>(Q.insertCustomerNotice, [alert.id, alert.deviceId, info.customer ?? null, info.district ?? null, alert.condition, new Date(nowMs).toISOString()]);
    if (rows.length === 0) return undefined;
    const n = customerNotice(`customer:${alert.id}`, alert.condition, alert.deviceId, info.customer ?? null, info.address ?? null, this.#ctx(nowMs), info.customerPhone);
    await saveNotice(tx, n, null);
    return n;
  }

  /** Records the cleared condition and, when none is left, that the device is normal; never resolves. */
  alertCleared(alert: Alert): Promise<void> {
    return this.#db.transaction((tx) => this.#clearIn(tx, alert));
  }

  async #clearIn(tx: Db, alert: Alert): Promise<void> {
    const clearedMs = alert.clearedAtMs ?? this.#clock.now();
    const cleared = new Date(clearedMs).toISOString();
    const now = new Date(this.#clock.now()).toISOString();
    if (CUSTOMER_CONDITIONS.has(alert.condition)) {
      await tx.query(Q.resolveCustomerNotice, [alert.id, cleared]);
      return;
    }
    const rows = await tx.query<{ ticket_id: string; condition: string }>(Q.clearTicketAlert, [alert.id, cleared]);
    if (rows.length === 0) return;
    const ticketId = rows[0]!.ticket_id;
    const t = await this.#mustGet(tx, ticketId, true);
    await tx.query(Q.insertEvent, [ticketId, now, 'device', 'condition_cleared', t.status, t.status, JSON.stringify({ alertId: alert.id, condition: alert.condition, clearedAt: cleared })]);
    if (t.activeConditions.length === 0) {
      await tx.query(Q.setDeviceNormal, [ticketId, cleared, now]);
      await tx.query(Q.insertEvent, [ticketId, now, 'device', 'device_normal', t.status, t.status, JSON.stringify({ at: cleared })]);
    }
  }

  /**
   * On start: alerts applied before a crash get their tickets, clears seen while down are
   * recorded, and tickets opened but never routed are routed now. A record the store refuses is
   * quarantined (see `#applyBatch`) and one refused outright is not offered again, so neither a
   * start nor the retries after a store outage fail on it.
   */
  async reconcile(
    activeAlerts: Iterable<Alert>,
    clearedAlerts: Iterable<Alert> = [],
    /** Where active alerts without a ticket go (the storm folder); applied here in batches otherwise. */
    openMissing: (missing: Alert[]) => Promise<void> = (missing) => this.onAlertChanges(missing.map((alert) => ({ type: 'raised', alert }))),
  ): Promise<{ opened: number; cleared: number; routed: number }> {
    let opened = 0;
    let cleared = 0;
    const active = [...activeAlerts].filter((a) => !this.#rejected.has(a.id));
    const missing: Alert[] = [];
    for (let i = 0; i < active.length; i += BATCH_CHANGES * 5) {
      const chunk = active.slice(i, i + BATCH_CHANGES * 5);
      // An alert quarantined for its id is stored under the id made safe (text cannot hold a NUL).
      const known = new Set((await this.#db.query<{ alert_id: string }>(Q.alertsKnown, [chunk.map((a) => safeText(a.id))])).map((r) => r.alert_id));
      for (const a of chunk) if (!known.has(safeText(a.id))) missing.push(a);
    }
    if (missing.length > 0) await openMissing(missing);
    // Customer notices have no ticket link and are offered again each time, changing nothing.
    opened += missing.filter((a) => !CUSTOMER_CONDITIONS.has(a.condition)).length;
    for (const a of clearedAlerts) {
      if (this.#rejected.has(a.id)) continue;
      try {
        if (!CUSTOMER_CONDITIONS.has(a.condition)) {
          // Raised and cleared while the store was down: the fault still gets its ticket, marked normal again.
          const known = await this.#db.query(Q.alertById, [a.id]);
          if (known.length === 0) {
            const r = await this.openTicketFor(a);
            if (r.outcome === 'opened' || r.outcome === 'added') opened++;
          }
        }
        await this.alertCleared(a);
      } catch (err) {
        if (!isDataError(err)) throw err;
        await this.#applyBatch(CUSTOMER_CONDITIONS.has(a.condition) ? [{ type: 'cleared', alert: a }] : [{ type: 'raised', alert: a }, { type: 'cleared', alert: a }]);
      }
      cleared++;
    }
    let routed = 0;
    if (this.#settings.autoDispatch) {
      for (const row of await this.#db.query<Row>(Q.unroutedOpenTickets)) {
        try {
          await this.#route(String(row.id));
          routed++;
        } catch (err) {
          // A stored ticket routing cannot read: left for the dispatch SLA rather than failing the start.
          if (!isDataError(err)) throw err;
          this.#log?.warn({ err, ticketId: String(row.id) }, 'Unrouted ticket could not be routed; left for the dispatch SLA');
        }
      }
    }
    return { opened, cleared, routed };
  }

  /**
   * Tickets opened while nobody was on call for their district (escalated, unassigned) go to the
   * technician who is on call now — at the next shift's start at the latest, since the service
   * stage calls this with every SLA check. Returns the tickets dispatched.
   */
  async dispatchWaiting(): Promise<string[]> {
    if (!this.#settings.autoDispatch) return [];
    const nowMs = this.#clock.now();
    const dispatched: string[] = [];
    for (const row of await this.#db.query<{ id: string; district: string | null }>(Q.waitingForTechnician)) {
      const answer = await this.#directory.whoIsOnCall(row.district ?? undefined, nowMs);
      const tech = answer.technician?.id;
      if (!tech) continue;
      try {
        await this.#transition(row.id, 'dispatch', 'system', () => ({ set: {}, detail: { assignee: tech, auto: true, waited: 'nobody_on_call' } }), tech);
        dispatched.push(row.id);
      } catch (err) {
        // Dispatched or closed by hand meanwhile.
        if (!(err instanceof IllegalTransitionError)) throw err;
      }
    }
    return dispatched;
  }

  /** Dispatches to the district's on-call technician, or escalates to the supervisor when nobody is. */
  async #route(ticketId: string): Promise<void> {
    const nowMs = this.#clock.now();
    const ticket = await this.#mustGet(this.#db, ticketId);
    let answer;
    try {
      answer = await this.#directory.whoIsOnCall(ticket.district ?? undefined, nowMs);
    } catch (err) {
      // Left unrouted: the dispatch SLA and the next reconcile pick it up.
      this.#log?.warn({ err, ticketId }, 'On-call lookup failed; ticket left opened');
      return;
    }
    const prior = this.#priorAlarm ? this.#priorAlarm((await this.#db.query<{ alert_id: string }>(Q.alertIdsOf, [ticketId])).map((r) => r.alert_id)) : undefined;
    // Only the first routing of a fresh alarm stands in for it; a ticket reopened later is pushed anew.
    const adopted = (personId: string | undefined): string | undefined =>
      personId !== undefined && prior && prior.atMs >= nowMs - ALARM_ADOPT_WITHIN_MS && prior.recipients.includes(personId) ? prior.notice.id : undefined;
    if (answer.technician) {
      try {
        const tech = answer.technician.id;
        await this.#transition(ticketId, 'dispatch', 'system', () => ({ set: { routed_at: new Date(nowMs).toISOString() }, detail: { assignee: tech, auto: true } }), tech, adopted(tech));
      } catch (err) {
        // Someone dispatched it by hand meanwhile.
        if (!(err instanceof IllegalTransitionError)) throw err;
      }
      return;
    }
    const target = answer.supervisor ?? answer.director;
    const level = answer.supervisor ? 'supervisor' : 'director';
    const step = stepOfLevel(level, this.#sla.escalation.repeats);
    const now = new Date(nowMs).toISOString();
    const out = await this.#db.transaction(async (tx) => {
      const t = await this.#mustGet(tx, ticketId, true);
      if (t.status !== 'opened') return undefined;
      await this.#update(tx, ticketId, { routed_at: now, escalation_step: step, escalated_at: now, updated_at: now });
      return recordEscalation(tx, t, { ticketId, step, level, target: target?.id ?? null, reason: 'nobody_on_call', atMs: nowMs }, this.#ctx(nowMs));
    });
    // The alarm already reached this person: the escalation is on record, the phone rings once.
    if (!adopted(target?.id)) this.#emit([out?.notice]);
  }

  // --- tickets opened by people ---------------------------------------------------------------

  /**
   * 受理/登记: a fault phoned in (报修) or a complaint (投诉), routed like a device ticket. It never
   * takes in device alerts (its subject is its own case). A form sent again under its requestId
   * returns the first ticket (`created: false`); an urgent or major complaint goes straight to the
   * supervisor (001:197).
   */
  async openByPerson(input: PersonTicketInput, actor: string): Promise<{ ticket: Ticket; created: boolean }> {
    const device = input.deviceId !== undefined ? this.#lookup(input.deviceId) : undefined;
    const plan = planPersonTicket(input, device);
    const nowMs = this.#clock.now();
    const now = new Date(nowMs).toISOString();
    const out = await this.#db.transaction(async (tx) => {
      if (input.requestId !== undefined) {
        await tx.query(Q.subjectLock, [`ticket:request:${input.requestId}`]);
        const prior = (await tx.query<Row>(Q.ticketByRequestId, [input.requestId]))[0];
        if (prior) {
          const t = toTicket(prior);
          if (!sameForm(t, input)) throw new TicketConflictError(`requestId ${input.requestId} already opened ticket ${t.id} for another form`);
          return { id: t.id, created: false };
        }
      }
      const id = (await tx.query<{ id: string }>(Q.nextTicketId))[0]!.id;
      await tx.query(Q.insertPersonTicket, [
        id,
        input.deviceId ?? null,
        plan.district,
        input.address,
        device?.customer || input.contact.name,
        plan.priority,
        now,
        isoOf(stageDueMs(this.#sla, 'opened', plan.priority, nowMs, null)),
        input.origin,
        input.contact.name,
        input.contact.phone,
        input.description,
        plan.complaintClass,
        plan.complaintKind,
        input.requestId ?? null,
      ]);
      await tx.query(Q.insertEvent, [id, now, actor, 'open', null, 'opened', JSON.stringify({
        origin: input.origin,
        priority: plan.priority,
        complaintClass: plan.complaintClass,
        complaintKind: plan.complaintKind,
        major: input.major ?? false,
        deviceId: input.deviceId ?? null,
        requestId: input.requestId ?? null,
      })]);
      return { id, created: true };
    });
    if (out.created) {
      if (plan.toSupervisor) await this.#complaintToSupervisor(out.id, input.major ? 'major_complaint' : 'urgent_complaint');
      if (this.#settings.autoDispatch) await this.#route(out.id);
    }
    return { ticket: await this.#mustGet(this.#db, out.id), created: out.created };
  }

  /** Tells the district's supervisor of a complaint at once, once per round, with its escalation on record. */
  async #complaintToSupervisor(ticketId: string, reason: string): Promise<void> {
    const nowMs = this.#clock.now();
    const ticket = await this.#mustGet(this.#db, ticketId);
    let supervisor: string | undefined;
    try {
      supervisor = (await this.#directory.whoIsOnCall(ticket.district ?? undefined, nowMs)).supervisor?.id;
    } catch (err) {
      // The breach of its clocks reaches the supervisor later through the watches.
      this.#log?.warn({ err, ticketId }, 'On-call lookup failed; complaint not escalated to the supervisor');
      return;
    }
    const ctx = this.#ctx(nowMs);
    const notice = await this.#db.transaction(async (tx) => {
      const t = await this.#mustGet(tx, ticketId, true);
      const step = stepOfLevel('supervisor', this.#sla.escalation.repeats);
      const r = await recordEscalation(tx, t, { ticketId, step, level: 'supervisor', target: supervisor ?? null, reason, atMs: nowMs, causeKey: `complaint:${ticketId}:${t.round}`, notify: false }, ctx);
      if (!r || !supervisor) return undefined;
      const n = complaintToSupervisorNotice(`${ticketId}:complaint:${t.round}`, t, supervisor, reason, ctx);
      await saveNotice(tx, n, step);
      return n;
    });
    this.#emit([notice]);
  }

  /** What the waiting customer was told, by `actor`: stops the reply clocks, restarts the update-gap clock. */
  async recordCustomerContact(id: string, input: CustomerContactInput, actor: string): Promise<TicketCustomerContact> {
    if (!input.message.trim()) throw new PersonTicketInputError('message', 'say what the customer was told');
    const now = new Date(this.#clock.now()).toISOString();
    const channel = input.channel ?? 'phone';
    return this.#db.transaction(async (tx) => {
      const t = await this.#mustGet(tx, id, true);
      const rows = await tx.query<{ id: string }>(Q.insertCustomerContact, [id, now, actor, channel, input.message]);
      await tx.query(Q.insertEvent, [id, now, actor, 'customer_contact', t.status, t.status, JSON.stringify({ contactId: rows[0]!.id, channel, message: input.message })]);
      return { id: rows[0]!.id, at: now, actor, channel, message: input.message };
    });
  }

  // --- lifecycle -----------------------------------------------------------------------------

  dispatch(id: string, assignee: string, actor: string): Promise<Ticket> {
    if (!assignee) throw new TicketInputError('dispatch needs an assignee');
    return this.#transition(id, 'dispatch', actor, (t) => ({ set: {}, detail: { assignee, previous: t.assignee } }), assignee);
  }

  acknowledge(id: string, actor: string): Promise<Ticket> {
    return this.#transition(id, 'acknowledge', actor, () => ({ set: {} }));
  }

  arriveOnSite(id: string, actor: string): Promise<Ticket> {
    return this.#transition(id, 'arrive_on_site', actor, () => ({ set: {} }));
  }

  /**
   * Resolves once the remedy is recorded. While a safety condition of the ticket is still active the
   * resolve is refused (SafetyConditionsActiveError), unless `overrideReason` is given — the API
   * lets only a supervisor or an admin give one — and the override is kept in the history.
   */
  async resolve(id: string, input: ResolveInput, actor: string): Promise<Ticket> {
    if (!input.remedyDone?.trim()) throw new TicketInputError('resolve needs remedyDone: what was done');
    const overrideReason = input.overrideReason?.trim() || undefined;
    let serviceDone = false as boolean;
    const resolved = await this.#transition(id, 'resolve', actor, (t) => {
      const live = t.activeConditions.filter((c) => SAFETY_CONDITIONS.has(c)).sort();
      if (live.length > 0 && !overrideReason) throw new SafetyConditionsActiveError(id, live);
      serviceDone = t.deviceId !== null && (input.serviceDone === true || t.conditions.includes('MAINTENANCE_DUE'));
      return {
        set: { remedy_done: input.remedyDone, parts_used: JSON.stringify(input.partsUsed ?? []), notes: input.notes ?? null },
        detail: {
          remedyDone: input.remedyDone,
          partsUsed: input.partsUsed ?? [],
          notes: input.notes ?? null,
          ...(live.length > 0 ? { safetyOverride: { by: actor, reason: overrideReason, activeConditions: live } } : {}),
          ...(serviceDone ? { serviceDone: true } : {}),
        },
      };
    });
    if (serviceDone) {
      const done = { deviceId: resolved.deviceId!, ticketId: resolved.id, atMs: Date.parse(resolved.resolvedAt ?? '') || this.#clock.now(), actor };
      for (const l of this.#serviceDoneListeners) l(done);
    }
    return resolved;
  }

  /**
   * 回访: satisfied closes the ticket; unsatisfied sends it back to the same technician, and a
   * communication complaint whose customer is still unhappy is justified now (000:702).
   */
  async followUp(id: string, input: FollowUpInput, actor: string): Promise<Ticket> {
    const action: TicketAction = input.satisfied ? 'follow_up_satisfied' : 'follow_up_unsatisfied';
    let reclassified = false;
    const t = await this.#transition(id, action, actor, (before) => ({
      set: { satisfaction: input.satisfied ? 'satisfied' : 'unsatisfied', follow_up_notes: input.notes ?? null },
      detail: { satisfied: input.satisfied, notes: input.notes ?? null },
      ...(input.satisfied || before.complaintClass !== 'communication'
        ? {}
        : { then: async (tx: Db) => void (reclassified = await reclassifyAsJustified(tx, id, 'follow_up_unsatisfied', actor, this.#clock.now(), this.#sla)) }),
    }));
    if (!reclassified) return t;
    await this.#complaintToSupervisor(id, 'follow_up_unsatisfied');
    return this.#mustGet(this.#db, id);
  }

  /** Refused while the ticket's conditions are active (a cancelled ticket would leave them with none). */
  cancel(id: string, reason: string, actor: string): Promise<Ticket> {
    return this.#transition(id, 'cancel', actor, (t) => {
      if (t.activeConditions.length > 0) throw new ConditionsActiveError(id, [...t.activeConditions].sort());
      return { set: {}, detail: { reason } };
    });
  }

  async reopen(id: string, reason: string, actor: string): Promise<Ticket> {
    const t = await this.#transition(id, 'reopen', actor, () => ({ set: { routed_at: null }, detail: { reason } }));
    // Never assigned (cancelled before dispatch): route it like a new ticket.
    if (t.status === 'opened' && this.#settings.autoDispatch) {
      await this.#route(id);
      return this.#mustGet(this.#db, id);
    }
    return t;
  }

  async comment(id: string, body: string, author: string): Promise<TicketDetail['comments'][number]> {
    if (!body.trim()) throw new TicketInputError('empty comment');
    const now = new Date(this.#clock.now()).toISOString();
    return this.#db.transaction(async (tx) => {
      const t = await this.#mustGet(tx, id, true);
      const rows = await tx.query<{ id: string }>(Q.insertComment, [id, now, author, body]);
      await tx.query(Q.insertEvent, [id, now, author, 'comment', t.status, t.status, JSON.stringify({ commentId: rows[0]!.id })]);
      return { id: rows[0]!.id, at: now, author, body };
    });
  }

  /**
   * One lifecycle step: lock the ticket, check the transition table, set the stage's columns and
   * the SLA due time, write the audit event, then hand out notices after the commit.
   */
  async #transition(
    id: string,
    action: TicketAction,
    actor: string,
    /** `then` runs in the same transaction after the step is written. */
    step: (t: Ticket) => { set: Partial<Record<TicketColumn, unknown>>; detail?: Record<string, unknown>; then?: (tx: Db) => Promise<void> },
    newAssignee?: string,
    /** Id of the alarm push this dispatch stands for: saved under that id, not sent again. */
    adoptNoticeId?: string,
  ): Promise<Ticket> {
    const nowMs = this.#clock.now();
    const now = new Date(nowMs).toISOString();
    let carried: string | undefined;
    const notices = await this.#db.transaction(async (tx) => {
      const t = await this.#mustGet(tx, id, true);
      const assignee = newAssignee ?? t.assignee;
      const to = nextStatus(action, t.status, assignee !== null);
      if (to === undefined) throw new IllegalTransitionError(id, action, t.status);
      const { set, detail, then } = step(t);
      const cols: Partial<Record<TicketColumn, unknown>> = { ...set, status: to, updated_at: now };
      let round = t.round;
      let slaStartedMs = Date.parse(t.slaStartedAt);
      let resolvedMs = ms(t.resolvedAt);
      switch (action) {
        case 'dispatch':
          Object.assign(cols, { assignee, dispatched_at: now, escalation_step: 0, escalated_at: now });
          break;
        case 'acknowledge':
          cols.acknowledged_at = now;
          break;
        case 'arrive_on_site':
          cols.on_site_at = now;
          break;
        case 'resolve':
          resolvedMs = nowMs;
          Object.assign(cols, { resolved_at: now, follow_up_due_at: isoOf(nowMs + this.#sla.followUpWithinMs[t.priority]) });
          break;
        case 'follow_up_satisfied':
          Object.assign(cols, { followed_up_at: now, closed_at: now });
          break;
        case 'cancel':
          cols.cancelled_at = now;
          break;
        case 'follow_up_unsatisfied':
        case 'reopen': {
          // A new round: the SLA clocks start again and the stages are done again.
          const clash = await tx.query<Row>(Q.openTicketForSubject, [t.subject, t.subjectId]);
          if (clash.some((r) => String(r.id) !== id)) throw new TicketConflictError(`Ticket ${id} cannot be reopened: ${t.subject} ${t.subjectId} has open ticket ${String(clash[0]!.id)}`);
          round = t.round + 1;
          slaStartedMs = nowMs;
          resolvedMs = null;
          Object.assign(cols, {
            round,
            sla_started_at: now,
            dispatched_at: to === 'dispatched' ? now : null,
            acknowledged_at: null,
            on_site_at: null,
            resolved_at: null,
            // The unsatisfied follow-up stays in the audit trail; the new round needs its own.
            followed_up_at: null,
            closed_at: null,
            cancelled_at: null,
            follow_up_due_at: null,
            escalation_step: 0,
            escalated_at: now,
          });
          break;
        }
      }
      cols.sla_due_at = isoOf(stageDueMs(this.#sla, to, t.priority, slaStartedMs, resolvedMs, t.conditions));
      await this.#update(tx, id, cols);
      const ev = await tx.query<{ id: string }>(Q.insertEvent, [id, now, actor, action, t.status, to, detail ? JSON.stringify(detail) : null]);
      if (action === 'follow_up_satisfied') {
        // The satisfied follow-up passes through followed_up on its way to closed; both are audited.
        await tx.query(Q.insertEvent, [id, now, actor, 'close', 'followed_up', 'closed', null]);
      }
      await then?.(tx);
      if (to === 'closed') carried = await this.#carryOver(tx, t, nowMs);
      const after = await this.#mustGet(tx, id);
      const out: Notice[] = [];
      const ctx = this.#ctx(nowMs);
      if (action === 'dispatch') out.push((after.origin === 'alert' ? dispatchedNotice : personDispatchedNotice)(adoptNoticeId ?? `${id}:dispatch:${ev[0]!.id}`, after, assignee!, ctx));
      if ((action === 'reopen' || action === 'follow_up_unsatisfied') && after.assignee) {
        out.push((after.origin === 'alert' ? reopenedNotice : personReopenedNotice)(`${id}:reopen:${ev[0]!.id}`, after, [after.assignee], String(detail?.reason ?? detail?.notes ?? 'follow-up unsatisfied'), ctx));
      }
      for (const n of out) await saveNotice(tx, n, action === 'dispatch' ? 0 : null);
      return { out, after };
    });
    this.#emit(adoptNoticeId ? notices.out.filter((n) => n.id !== adoptNoticeId) : notices.out);
    if (carried !== undefined && this.#settings.autoDispatch) await this.#route(carried);
    return notices.after;
  }

  /**
   * Conditions still active when their ticket is closed (the customer satisfied, the device still
   * reporting) move to a new ticket linked to it (`repeatOf`), so an active condition always has a
   * live ticket: a closed leak that still reads 70 %LEL is worked again, not forgotten. Returns the
   * new ticket's id.
   */
  async #carryOver(tx: Db, t: Ticket, nowMs: number): Promise<string | undefined> {
    const still = await tx.query<{ alert_id: string; condition: Condition; severity: Severity; detail: Record<string, unknown> | null }>(Q.activeAlertsOfTicket, [t.id]);
    if (still.length === 0) return undefined;
    const now = new Date(nowMs).toISOString();
    const conditions = [...new Set(still.map((a) => a.condition))];
    const priority = worstPriority(still.map((a) => ({ condition: a.condition, severity: a.severity, detail: a.detail ?? undefined })));
    const manual = t.manual.filter((m) => conditions.includes(m.condition));
    const due = stageDueMs(this.#sla, 'opened', priority, nowMs, null);
    const [row] = await tx.query<{ id: string }>(Q.insertTicket, [t.subject, t.subjectId, t.deviceId, t.gatewayId, t.kind, t.vendor, t.district, t.address, t.customer, conditions, t.devices, priority, now, isoOf(due), t.id, JSON.stringify(manual), t.lat, t.lon]);
    const id = row!.id;
    await tx.query(Q.moveActiveAlerts, [t.id, id]);
    await tx.query(Q.insertEvent, [t.id, now, 'system', 'carried_over', t.status, t.status, JSON.stringify({ to: id, conditions })]);
    await tx.query(Q.insertEvent, [id, now, 'system', 'open', null, 'opened', JSON.stringify({ carriedFrom: t.id, conditions, priority, repeatOf: t.id })]);
    return id;
  }

  async #update(tx: Db, id: string, cols: Partial<Record<TicketColumn, unknown>>): Promise<void> {
    const names = Object.keys(cols) as TicketColumn[];
    await tx.query(updateTicketSql(names), [id, ...names.map((n) => cols[n])]);
  }

  async #mustGet(db: Db, id: string, forUpdate = false): Promise<Ticket> {
    const row = (await db.query<Row>(forUpdate ? Q.ticketByIdForUpdate : Q.ticketById, [id]))[0];
    if (!row) throw new TicketNotFoundError(id);
    return toTicket(row);
  }

  // --- queries -------------------------------------------------------------------------------

  async list(q: TicketListQuery = {}): Promise<Ticket[]> {
    const limit = Math.min(Math.max(1, q.limit ?? 100), 1000);
    const { sql, params } = listTicketsSql({
      ...(q.status !== undefined ? { status: asArray(q.status) } : {}),
      ...(q.priority !== undefined ? { priority: asArray(q.priority) } : {}),
      ...(q.origin !== undefined ? { origin: asArray(q.origin) } : {}),
      ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}),
      ...(q.assignee !== undefined ? { assignee: q.assignee } : {}),
      ...(q.district !== undefined ? { district: q.district } : {}),
      ...(q.order !== undefined ? { order: q.order } : {}),
      limit,
    });
    return (await this.#db.query<Row>(sql, params)).map(toTicket);
  }

  /** The ticket with its history, alerts, comments, breaches and escalations; undefined when unknown. */
  async get(id: string): Promise<TicketDetail | undefined> {
    const row = (await this.#db.query<Row>(Q.ticketById, [id]))[0];
    if (!row) return undefined;
    const [events, alerts, comments, breaches, escalations, contacts] = await Promise.all([
      this.#db.query<Row>(Q.eventsOf, [id]),
      this.#db.query<Row>(Q.alertsOf, [id]),
      this.#db.query<Row>(Q.commentsOf, [id]),
      this.#db.query<Row>(Q.breachesOf, [id]),
      this.#db.query<Row>(Q.escalationsOf, [id]),
      this.#db.query<Row>(Q.customerContactsOf, [id]),
    ]);
    const acknowledgedBy = events.filter((e) => e.action === 'acknowledge').map((e) => String(e.actor));
    return {
      ...toTicket(row),
      history: events.map((e) => ({
        id: String(e.id),
        at: iso(e.at)!,
        actor: String(e.actor),
        action: String(e.action),
        fromStatus: (e.from_status ?? null) as string | null,
        toStatus: (e.to_status ?? null) as string | null,
        detail: (e.detail ?? null) as Record<string, unknown> | null,
      })),
      alerts: alerts.map((a) => ({
        alertId: String(a.alert_id),
        condition: a.condition as Condition,
        severity: a.severity as TicketDetail['alerts'][number]['severity'],
        raisedAt: iso(a.raised_at)!,
        clearedAt: iso(a.cleared_at),
        detail: (a.detail ?? null) as Record<string, unknown> | null,
      })),
      comments: comments.map((c) => ({ id: String(c.id), at: iso(c.at)!, author: String(c.author), body: String(c.body) })),
      breaches: breaches.map((b) => ({ clock: String(b.clock), priority: b.priority as Priority, dueAt: iso(b.due_at)!, breachedAt: iso(b.breached_at)! })),
      escalations: escalations.map((e) => ({ id: String(e.id), step: Number(e.step), level: String(e.level), target: (e.target ?? null) as string | null, at: iso(e.at)!, reason: String(e.reason) })),
      customerContacts: contacts.map((c) => ({ id: String(c.id), at: iso(c.at)!, actor: String(c.actor), channel: c.channel as TicketCustomerContact['channel'], message: String(c.message) })),
      deliveries: await ticketDeliveries(this.#db, id, acknowledgedBy),
    };
  }

  /**
   * Notices written since `sinceMs`, oldest first: after a crash between commit and hand-over the
   * composition root feeds them to the push dispatcher again, which drops ids it already delivered.
   */
  async noticesSince(sinceMs: number): Promise<Notice[]> {
    const rows = await this.#db.query<{ notice: Notice }>(Q.noticesSince, [new Date(sinceMs).toISOString()]);
    return rows.map((r) => r.notice);
  }

  async customerNotices(deviceId?: string, limit = 100): Promise<Row[]> {
    return this.#db.query<Row>(Q.customerNotices, [deviceId ?? null, limit]);
  }
}

export type { EscalationRecord };
