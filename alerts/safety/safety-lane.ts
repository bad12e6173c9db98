import type { Clock } from '../../app/clock.ts';
import type { Alert, AlertChange } from '../alert-book.ts';
import type { OnCallAnswer, Person } from '../oncall/directory.ts';
import type { Notice } from '../tickets/notice.ts';
import { alarmNotice } from '../tickets/notice-text.ts';
import { PRIORITY_RANK } from '../sla/sla-policy.ts';
import { isSafetyAlert, priorityOf, worstPriority } from '../tickets/priority.ts';
import type { DeviceInfo, DeviceLookup } from '../tickets/ticket-service.ts';
import type { AlarmJournal, AlarmPush } from './alarm-journal.ts';

export interface SafetyLaneOptions {
  journal: AlarmJournal;
  directory: {
    /** From memory; undefined until the directory is loaded. */
    whoIsOnCallNow(district: string | undefined, atMs: number): OnCallAnswer | undefined;
    whoIsOnCall(district: string | undefined, atMs: number): Promise<OnCallAnswer>;
  };
  lookupDevice: DeviceLookup;
  /** Sends at once; the delivery bookkeeping follows behind. */
  push: { dispatchFresh(notice: Notice, people?: readonly Person[]): Promise<unknown> };
  clock: Clock;
  appUrl?: string;
  log: { warn(obj: Record<string, unknown>, msg: string): void; error(obj: Record<string, unknown>, msg: string): void };
}

/** The person(s) an alarm goes to: the technician on call, else whoever a ticket would escalate to. */
function reachable(answer: OnCallAnswer): Person[] {
  if (answer.technician) return [answer.technician];
  return [answer.supervisor, answer.director].filter((p): p is Person => p !== undefined).slice(0, 1);
}

/**
 * The alarm path, ahead of all bookkeeping: a leak (or any critical condition) is pushed to the
 * technician on call the moment the alert book has journaled it, from the on-call directory's
 * in-memory copy — no SQL, no ticket, no queue in between. The conditions one reading raised on
 * one device go out as one push at the worst priority. The push is journaled before it is sent;
 * the ticket opened afterwards adopts it as its dispatch (see TicketService `priorAlarm`).
 */
export class SafetyLane {
  readonly #o: SafetyLaneOptions;

  constructor(options: SafetyLaneOptions) {
    this.#o = options;
  }

  /** Wire to AlertBook.onChange before the ticket service, so nothing queues ahead of it. */
  onAlertChanges(changes: readonly AlertChange[]): void {
    let groups: Map<string, Alert[]> | undefined;
    for (const c of changes) {
      if (c.type !== 'raised' || !isSafetyAlert(c.alert)) continue;
      groups ??= new Map();
      const group = groups.get(c.alert.subjectId);
      if (group) group.push(c.alert);
      else groups.set(c.alert.subjectId, [c.alert]);
    }
    if (!groups) return;
    for (const group of groups.values()) this.#raise(group);
  }

  /** The alarm push that covered any of these alerts (for the ticket's dispatch). */
  priorPush(alertIds: Iterable<string>): AlarmPush | undefined {
    return this.#o.journal.pushFor(alertIds);
  }

  /**
   * After a restart: alarms pushed within `withinMs` go through the dispatcher's recorded path,
   * which sends only those whose delivery was never recorded (a crash right after the journal).
   */
  resume(withinMs: number, redispatch: (notice: Notice) => void): number {
    const entries = this.#o.journal.since(this.#o.clock.now() - withinMs);
    for (const e of entries) redispatch(e.notice);
    return entries.length;
  }

  #raise(alerts: Alert[]): void {
    if (this.#o.journal.pushFor(alerts.map((a) => a.id))) return; // replayed after a restart
    const nowMs = this.#o.clock.now();
    const info = this.#o.lookupDevice(alerts[0]!.subjectId) ?? {};
    const answer = this.#o.directory.whoIsOnCallNow(info.district, nowMs);
    if (answer) return this.#send(alerts, info, answer, nowMs);
    // The directory's copy is not loaded yet (first seconds after start): one read, then send.
    this.#o.directory.whoIsOnCall(info.district, nowMs).then(
      (a) => this.#send(alerts, info, a, nowMs),
      (err: unknown) => this.#o.log.error({ err, alertIds: alerts.map((a) => a.id) }, 'Alarm push impossible: no on-call answer; the ticket routes it'),
    );
  }

  #send(alerts: Alert[], info: DeviceInfo, answer: OnCallAnswer, nowMs: number): void {
    const people = reachable(answer);
    if (people.length === 0) {
      this.#o.log.warn({ alertIds: alerts.map((a) => a.id), district: info.district }, 'Alarm: nobody to push to; the ticket escalates it');
      return;
    }
    // Worst first, so the push leads with the condition that matters most.
    const ordered = [...alerts].sort((a, b) => PRIORITY_RANK[priorityOf(b)] - PRIORITY_RANK[priorityOf(a)]);
    const priority = worstPriority(alerts);
    const notice = alarmNotice(
      `alarm:${alerts[0]!.id}`,
      { alerts: ordered, priority, ...(info.district ? { district: info.district } : {}), ...(info.address ? { address: info.address } : {}), ...(info.customer ? { customer: info.customer } : {}) },
      people.map((p) => p.id),
      { nowMs, ...(this.#o.appUrl ? { appUrl: this.#o.appUrl } : {}) },
    );
    this.#o.journal.record({ notice, alertIds: alerts.map((a) => a.id), recipients: notice.recipients, atMs: nowMs });
    this.#o.push.dispatchFresh(notice, people).catch((err: unknown) => this.#o.log.error({ err, noticeId: notice.id }, 'Alarm push failed'));
  }
}
