import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { SEVERITIES, type AlertEvent, type AlertSubject, type Condition, type DeviceKind, type Severity } from '../contracts/messages.ts';
import { manualEntryFor, type ManualEntry } from './catalog/manual.ts';
import { bilingual } from './catalog/messages.ts';
import { payloadText, type StoreDeadLetterSink } from './store/dead-letters.ts';
import { journalLineCheck, replayJournalLines } from './store/journal-lines.ts';
import { inScope, rulesWithSource, rulesWithTarget, type Inhibition } from './inhibition.ts';

/** One condition on one device or gateway, from its raise to its clear. */
export interface Alert {
  id: string;
  subject: AlertSubject;
  subjectId: string;
  /** The device, or for a gateway alert the gateway itself. */
  deviceId: string;
  gatewayId: string;
  kind?: DeviceKind;
  vendor?: string;
  condition: Condition;
  severity: Severity;
  state: 'active' | 'cleared';
  raisedAt: string;
  clearedAt: string | null;
  raisedAtMs: number;
  clearedAtMs: number | null;
  /** The manual's cause and remedy, zh-CN first with English beside. */
  cause: string;
  remedy: string;
  manual: ManualEntry;
  detail?: Record<string, unknown>;
  clearDetail?: Record<string, unknown>;
  unregistered?: boolean;
  /** Kept but inhibited by a more specific alert (alerts/inhibition.ts): no ticket or push of its own while it is. */
  inhibited?: Inhibition;
  /** Historical: found in a late reading judged in event time, raised and cleared in the past (processors/LATE-READINGS.md). */
  late?: true;
  /** How long after its device time the reading that raised it was delivered, ms. */
  delayMs?: number;
  /** A control-room operator saw it (the first who did): distinct from a technician accepting its ticket. */
  seen?: AlertSeen;
}

export interface AlertSeen {
  /** The person, or the desk token's name. */
  by: string;
  at: string;
}

/** What applying an event did: the alert it raised or cleared, or nothing because it was a repeat. */
export type AlertChange = { type: 'raised' | 'cleared'; alert: Alert };

/** A change with its place in the book's change sequence (1, 2, 3, … over the book's whole life, kept across restarts). */
export type SequencedAlertChange = AlertChange & { seq: number };

/** Listens to the change feed: `firstSeq` is the sequence number of `changes[0]`, the rest follow it one by one. */
export type AlertChangeListener = (changes: readonly AlertChange[], firstSeq: number) => void;

export interface AlertQuery {
  state?: 'active' | 'cleared';
  deviceId?: string;
  gatewayId?: string;
  condition?: Condition;
  limit: number;
}

/** `seq` is absent in journals written before the change sequence existed. */
type JournalLine = { seq?: number } & (
  | { op: 'raise'; alert: Alert }
  | { op: 'clear'; id: string; key: string; clearedAtMs: number; clearDetail?: Record<string, unknown> }
  /** A flapping raise that reopened the alert it had cleared (issue 15 #4). */
  | { op: 'reopen'; id: string; key: string; atMs: number; detail?: Record<string, unknown> }
  /**
   * An active alert marked inhibited, or released (`inhibited: null`) (issue 15 #7). Only a release
   * is a change (raised again, with its `seq`); a mark has no `seq`.
   */
  | { op: 'inhibit'; id: string; inhibited: Inhibition | null }
  /** An operator saw the alert: a mark, not a change (no `seq`). */
  | { op: 'seen'; id: string; seen: AlertSeen }
);

/** What replay needs of a stored alert; one that lacks it is skipped and dead-lettered, never replayed. */
const StoredAlert = Type.Object({
  id: Type.String(),
  subject: Type.Union([Type.Literal('device'), Type.Literal('gateway')]),
  subjectId: Type.String(),
  deviceId: Type.String(),
  gatewayId: Type.String(),
  condition: Type.String(),
  severity: Type.String(),
  state: Type.Union([Type.Literal('active'), Type.Literal('cleared')]),
  raisedAtMs: Type.Number(),
  clearedAtMs: Type.Union([Type.Number(), Type.Null()]),
  manual: Type.Object({}),
});
const StoredAlertCheck = journalLineCheck(StoredAlert);
const Seq = Type.Optional(Type.Integer({ minimum: 1 }));
const JournalLineCheck = journalLineCheck(
  Type.Union([
    Type.Object({ seq: Seq, op: Type.Literal('raise'), alert: StoredAlert }),
    Type.Object({ seq: Seq, op: Type.Literal('clear'), id: Type.String(), key: Type.String(), clearedAtMs: Type.Number(), clearDetail: Type.Optional(Type.Object({})) }),
    Type.Object({ seq: Seq, op: Type.Literal('reopen'), id: Type.String(), key: Type.String(), atMs: Type.Number(), detail: Type.Optional(Type.Object({})) }),
    Type.Object({ seq: Seq, op: Type.Literal('inhibit'), id: Type.String(), inhibited: Type.Union([Type.Object({ by: Type.String(), alertId: Type.String(), since: Type.String() }), Type.Null()]) }),
    Type.Object({ op: Type.Literal('seen'), id: Type.String(), seen: Type.Object({ by: Type.String(), at: Type.String() }) }),
  ]),
);

/** The change log as the snapshot keeps it: sequence, r(aised)|c(leared), alert id. */
type SnapshotChange = [number, 'r' | 'c', string];

export interface AlertBookOptions {
  /** Folder for the journal and snapshot; omit for memory only (tests). */
  dir?: string;
  /** Cleared alerts kept for queries; older ones stay in the journal's compacted history file only. */
  historyLimit: number;
  /** Journal lines before it is folded into the snapshot. */
  compactAfterLines: number;
  /** fsync the journal after each append: survives power loss, not just a killed process. */
  fsync: boolean;
  /**
   * Most recent changes kept, in order, for `changesSince` (the alert stream's Last-Event-ID replay).
   * @defaultValue 20000
   */
  changeLogLimit?: number;
  /** Stored records that cannot be replayed at start (skipped): the runner logs, counts and keeps them. */
  onDeadLetter?: StoreDeadLetterSink;
}

const DEFAULT_CHANGE_LOG_LIMIT = 20_000;

/** An alert as its raise showed it, for replaying a raise whose alert has been cleared since. */
function asRaised(alert: Alert): Alert {
  if (alert.state === 'active') return alert;
  const { clearDetail: _cleared, ...rest } = alert;
  return { ...rest, state: 'active', clearedAt: null, clearedAtMs: null };
}

const SEVERITY_RANK = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

const keyOf = (subjectId: string, condition: Condition): string => `${subjectId}/${condition}`;

/** The id a raise of `key` at `atMs` gets: a replayed or redelivered raise reproduces it. */
const alertId = (atMs: number, key: string): string => `${atMs.toString(36)}-${hash36(key)}`;

/** FNV-1a, for alert ids that a replayed raise reproduces exactly. */
function hash36(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(36);
}

/**
 * The alert store: one active alert per (subject, condition). Applying events is idempotent — a
 * raise for an active alert, a clear for none, or an event older than the last edge of its key
 * changes nothing — so redelivered and replayed events never duplicate an alert. Every change is
 * appended to a JSON-lines journal before `apply` returns, and the journal is replayed on start.
 */
export class AlertBook {
  readonly #active = new Map<string, Alert>();
  readonly #byId = new Map<string, Alert>();
  readonly #history: Alert[] = [];
  /** Device time of the last edge per key, so stale replays are recognised after a clear. */
  readonly #lastEdgeAtMs = new Map<string, number>();
  /** The last cleared alert per key while it is in the history, for a flapping raise to reopen. */
  readonly #lastCleared = new Map<string, Alert>();
  readonly #listeners: AlertChangeListener[] = [];
  readonly #seenListeners: Array<(alert: Alert) => void> = [];
  /** Last change sequence number handed out. */
  #seq = 0;
  /** The most recent changes, contiguous in `seq`, oldest first. */
  #changeLog: Array<{ seq: number; type: AlertChange['type']; alert: Alert }> = [];
  #journalLines = 0;
  #ignored = 0;

  constructor(private readonly options: AlertBookOptions) {
    if (options.dir) {
      mkdirSync(options.dir, { recursive: true });
      this.#load(options.dir);
    }
  }

  get ignoredRepeats(): number {
    return this.#ignored;
  }

  onChange(listener: AlertChangeListener): void {
    this.#listeners.push(listener);
  }

  /** Listens to operators' acknowledgements (`markSeen`): marks, outside the change sequence. */
  onSeen(listener: (alert: Alert) => void): void {
    this.#seenListeners.push(listener);
  }

  /**
   * A control-room operator saw the alert: the first acknowledgement stands (a second one changes
   * nothing and returns the alert as it is). Journaled; undefined when the alert is not known here.
   */
  markSeen(id: string, by: string, atMs: number): Alert | undefined {
    const alert = this.#byId.get(id);
    if (!alert || alert.seen) return alert;
    alert.seen = { by, at: new Date(atMs).toISOString() };
    this.#journal([{ op: 'seen', id, seen: alert.seen }]);
    for (const l of this.#seenListeners) l(alert);
    return alert;
  }

  /** Sequence number of the latest change (0 before the first). */
  get lastChangeSeq(): number {
    return this.#seq;
  }

  /**
   * The changes after sequence number `afterSeq`, oldest first, at most `limit`; `undefined` when
   * some of them are no longer kept (older than the change log) or `afterSeq` is ahead of this book.
   * A replayed raise shows the alert as it was raised, even if it has been cleared since.
   */
  changesSince(afterSeq: number, limit = Number.POSITIVE_INFINITY): SequencedAlertChange[] | undefined {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0 || afterSeq > this.#seq) return undefined;
    const first = this.#changeLog[0]?.seq ?? this.#seq + 1;
    if (afterSeq < first - 1) return undefined;
    const start = afterSeq - first + 1;
    return this.#changeLog
      .slice(start, start + Math.min(limit, this.#changeLog.length))
      .map((e) => ({ seq: e.seq, type: e.type, alert: e.type === 'raised' ? asRaised(e.alert) : e.alert }));
  }

  #logChange(seq: number, type: AlertChange['type'], alert: Alert): void {
    const last = this.#changeLog[this.#changeLog.length - 1];
    // A hole (a journal line that no longer applied) makes everything before it unreplayable.
    if (last && last.seq !== seq - 1) this.#changeLog = [];
    this.#changeLog.push({ seq, type, alert });
  }

  #trimChangeLog(): void {
    const limit = this.options.changeLogLimit ?? DEFAULT_CHANGE_LOG_LIMIT;
    // Trimmed in steps of a quarter, so the splice is not paid on every change.
    if (this.#changeLog.length > limit + Math.ceil(limit / 4)) this.#changeLog.splice(0, this.#changeLog.length - limit);
  }

  apply(events: readonly AlertEvent[]): AlertChange[] {
    const changes: AlertChange[] = [];
    const lines: JournalLine[] = [];
    for (const event of events) {
      const key = keyOf(event.subjectId, event.condition);
      const lastEdge = this.#lastEdgeAtMs.get(key);
      const current = this.#active.get(key);
      if (event.late) {
        this.#applyHistorical(event, key, current, lines, changes);
        continue;
      }
      if (event.type === 'raise') {
        if (current || (lastEdge !== undefined && event.atMs < lastEdge)) {
          this.#ignored++;
          continue;
        }
        // Flapping (the engine marks the raise): the alert cleared moments ago is reopened, not doubled.
        const flapped = event.detail?.flapping === true ? this.#lastCleared.get(key) : undefined;
        if (flapped) {
          this.#reopen(flapped, key, event.atMs, event.detail);
          const seq = ++this.#seq;
          this.#logChange(seq, 'raised', flapped);
          lines.push({ op: 'reopen', seq, id: flapped.id, key, atMs: event.atMs, detail: event.detail });
          changes.push({ type: 'raised', alert: flapped });
          this.#inhibitOnRaise(flapped, event.atMs, lines);
          continue;
        }
        const alert = this.#newAlert(event, key);
        this.#recordRaise(alert, key, lines, changes);
        this.#inhibitOnRaise(alert, event.atMs, lines);
      } else {
        if (!current || event.atMs < current.raisedAtMs) {
          this.#ignored++;
          continue;
        }
        this.#recordClear(current, key, event, lines, changes);
        this.#releaseOnClear(current, lines, changes);
      }
    }
    if (lines.length > 0) {
      this.#trimChangeLog();
      this.#journal(lines);
    }
    const firstSeq = this.#seq - changes.length + 1;
    if (changes.length > 0) for (const l of this.#listeners) l(changes, firstSeq);
    return changes;
  }

  /**
   * A historical alert's raise or clear (`late`): it lives in the past, so the last-edge order of
   * live alerts does not apply to it; its id is known already when it is a redelivery. It neither
   * inhibits nor is inhibited: what stands now is judged on live alerts.
   */
  #applyHistorical(event: AlertEvent, key: string, current: Alert | undefined, lines: JournalLine[], changes: AlertChange[]): void {
    if (event.type === 'raise') {
      if (current || this.#byId.has(alertId(event.atMs, key))) {
        this.#ignored++;
        return;
      }
      this.#recordRaise(this.#newAlert(event, key), key, lines, changes);
      return;
    }
    if (!current?.late || event.atMs < current.raisedAtMs) {
      this.#ignored++;
      return;
    }
    this.#recordClear(current, key, event, lines, changes);
  }

  /** A raise as a change: applied, sequenced, kept for replay, its journal line queued. */
  #recordRaise(alert: Alert, key: string, lines: JournalLine[], changes: AlertChange[]): void {
    this.#raise(alert, key);
    const seq = ++this.#seq;
    this.#logChange(seq, 'raised', alert);
    lines.push({ op: 'raise', seq, alert });
    changes.push({ type: 'raised', alert });
  }

  /** A clear as a change, likewise. */
  #recordClear(alert: Alert, key: string, event: AlertEvent, lines: JournalLine[], changes: AlertChange[]): void {
    this.#clear(alert, key, event.atMs, event.detail);
    const seq = ++this.#seq;
    this.#logChange(seq, 'cleared', alert);
    lines.push({ op: 'clear', seq, id: alert.id, key, clearedAtMs: event.atMs, clearDetail: event.detail });
    changes.push({ type: 'cleared', alert });
  }

  #newAlert(event: AlertEvent, key: string): Alert {
    const manual = manualEntryFor(event.condition, event.kind, event.vendor);
    return {
      id: alertId(event.atMs, key),
      subject: event.subject,
      subjectId: event.subjectId,
      deviceId: event.subjectId,
      gatewayId: event.gatewayId,
      kind: event.kind,
      vendor: event.vendor,
      condition: event.condition,
      severity: event.severity,
      state: 'active',
      raisedAt: new Date(event.atMs).toISOString(),
      clearedAt: null,
      raisedAtMs: event.atMs,
      clearedAtMs: null,
      cause: bilingual(manual.cause),
      remedy: bilingual(manual.remedy),
      manual,
      detail: event.detail,
      ...(event.unregistered ? { unregistered: true } : {}),
      ...(event.late ? { late: true } : {}),
      ...(event.delayMs !== undefined ? { delayMs: event.delayMs } : {}),
    };
  }

  #raise(alert: Alert, key: string): void {
    this.#active.set(key, alert);
    this.#byId.set(alert.id, alert);
    // A historical alert's past raise must not let older live replays back in.
    if (!alert.late) this.#lastEdgeAtMs.set(key, alert.raisedAtMs);
  }

  /**
   * Inhibition on a raise (alerts/inhibition.ts): the new alert is marked when an active source
   * covers it, and active targets it covers are marked. Marks are journaled; the raise itself goes
   * out as usual, and the ticket side leaves an inhibited one alone.
   */
  #inhibitOnRaise(alert: Alert, atMs: number, lines: JournalLine[]): void {
    for (const rule of rulesWithTarget(alert.condition)) {
      if (alert.inhibited) break;
      const source = this.#active.get(keyOf(rule.scope === 'device' ? alert.subjectId : alert.gatewayId, rule.source));
      if (source && inScope(rule, source, alert)) alert.inhibited = { by: source.condition, alertId: source.id, since: new Date(atMs).toISOString() };
    }
    for (const rule of rulesWithSource(alert.condition)) {
      const targets = rule.scope === 'device'
        ? rule.targets.map((t) => this.#active.get(keyOf(alert.subjectId, t)))
        : [...this.#active.values()];
      for (const target of targets) {
        if (!target || target.inhibited || !inScope(rule, alert, target)) continue;
        target.inhibited = { by: alert.condition, alertId: alert.id, since: new Date(atMs).toISOString() };
        lines.push({ op: 'inhibit', id: target.id, inhibited: target.inhibited });
      }
    }
  }

  /**
   * A source cleared: the targets it inhibited stand on their own again, unless another active
   * source covers them. A released target goes out once more as raised, so the ticket side opens
   * its ticket now (one it had from before its inhibition changes nothing).
   */
  #releaseOnClear(source: Alert, lines: JournalLine[], changes: AlertChange[]): void {
    const rules = rulesWithSource(source.condition);
    if (rules.length === 0) return;
    // A device-scope source looks at its own device's targets only; a gateway-scope one at every active alert.
    const candidates = rules.every((r) => r.scope === 'device')
      ? rules.flatMap((r) => r.targets.map((t) => this.#active.get(keyOf(source.subjectId, t))))
      : [...this.#active.values()];
    for (const target of candidates) {
      if (!target || target.inhibited?.alertId !== source.id) continue;
      let other: Alert | undefined;
      for (const rule of rulesWithTarget(target.condition)) {
        const s = this.#active.get(keyOf(rule.scope === 'device' ? target.subjectId : target.gatewayId, rule.source));
        if (s && inScope(rule, s, target)) other = s;
      }
      if (other) {
        target.inhibited = { by: other.condition, alertId: other.id, since: target.inhibited.since };
        lines.push({ op: 'inhibit', id: target.id, inhibited: target.inhibited });
        continue;
      }
      delete target.inhibited;
      const seq = ++this.#seq;
      lines.push({ op: 'inhibit', seq, id: target.id, inhibited: null });
      this.#logChange(seq, 'raised', target);
      changes.push({ type: 'raised', alert: target });
    }
  }

  /** Makes a cleared alert active again, its detail joined by the flapping raise's (`flapping`, `changes`). */
  #reopen(alert: Alert, key: string, atMs: number, detail?: Record<string, unknown>): void {
    const at = this.#history.lastIndexOf(alert);
    if (at >= 0) this.#history.splice(at, 1);
    this.#lastCleared.delete(key);
    alert.state = 'active';
    alert.clearedAt = null;
    alert.clearedAtMs = null;
    delete alert.clearDetail;
    alert.detail = { ...alert.detail, ...detail, reopenedAt: new Date(atMs).toISOString() };
    this.#active.set(key, alert);
    this.#lastEdgeAtMs.set(key, atMs);
  }

  #clear(alert: Alert, key: string, atMs: number, detail?: Record<string, unknown>): void {
    alert.state = 'cleared';
    alert.clearedAtMs = atMs;
    alert.clearedAt = new Date(atMs).toISOString();
    if (detail) alert.clearDetail = detail;
    // A flapping alert's final clear carries every change counted while it was held: the alert shows that count.
    if (detail?.flapping === true && alert.detail?.flapping === true) alert.detail = { ...alert.detail, changes: detail.changes };
    this.#active.delete(key);
    this.#history.push(alert);
    if (alert.late) {
      this.#lastEdgeAtMs.set(key, Math.max(this.#lastEdgeAtMs.get(key) ?? atMs, atMs));
    } else {
      this.#lastEdgeAtMs.set(key, atMs);
      // Only a live alert is reopened by a flapping raise.
      this.#lastCleared.set(key, alert);
    }
    if (this.#history.length > this.options.historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.options.historyLimit);
      for (const a of dropped) {
        this.#byId.delete(a.id);
        const k = keyOf(a.subjectId, a.condition);
        if (this.#lastCleared.get(k) === a) this.#lastCleared.delete(k);
      }
    }
  }

  get(id: string): Alert | undefined {
    return this.#byId.get(id);
  }

  active(): IterableIterator<Alert> {
    return this.#active.values();
  }

  activeFor(subjectId: string): Alert[] {
    const out: Alert[] = [];
    for (const a of this.#active.values()) if (a.subjectId === subjectId) out.push(a);
    return out;
  }

  /** Active ones first, most severe first and newest first within a severity; then cleared ones, newest first. */
  query(q: AlertQuery): Alert[] {
    const out: Alert[] = [];
    const match = (a: Alert): boolean =>
      (q.deviceId === undefined || a.deviceId === q.deviceId) &&
      (q.gatewayId === undefined || a.gatewayId === q.gatewayId) &&
      (q.condition === undefined || a.condition === q.condition);
    if (q.state !== 'cleared') {
      // Most severe first: a limit cuts the least severe, never a leak behind a storm of power alerts.
      const active = [...this.#active.values()].filter(match).sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.raisedAtMs - a.raisedAtMs);
      out.push(...active.slice(0, q.limit));
    }
    if (q.state !== 'active') {
      for (let i = this.#history.length - 1; i >= 0 && out.length < q.limit; i--) {
        const a = this.#history[i]!;
        if (match(a)) out.push(a);
      }
    }
    return out;
  }

  countActiveByCondition(): Map<Condition, number> {
    const counts = new Map<Condition, number>();
    for (const a of this.#active.values()) counts.set(a.condition, (counts.get(a.condition) ?? 0) + 1);
    return counts;
  }

  // --- persistence -------------------------------------------------------------------------

  #journal(lines: readonly JournalLine[]): void {
    if (!this.options.dir) return;
    const file = join(this.options.dir, 'alerts.journal');
    appendFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    if (this.options.fsync) {
      const fd = openSync(file, 'r+');
      fsyncSync(fd);
      closeSync(fd);
    }
    this.#journalLines += lines.length;
    if (this.#journalLines >= this.options.compactAfterLines) this.compact();
  }

  /** Folds the journal into the snapshot: write the snapshot atomically, then start an empty journal. */
  compact(): void {
    if (!this.options.dir) return;
    const snapshotFile = join(this.options.dir, 'alerts.json');
    const changes: SnapshotChange[] = this.#changeLog.map((e) => [e.seq, e.type === 'raised' ? 'r' : 'c', e.alert.id]);
    writeFileSync(
      `${snapshotFile}.tmp`,
      JSON.stringify({ version: 1, seq: this.#seq, changes, active: [...this.#active.values()], history: this.#history, lastEdgeAtMs: [...this.#lastEdgeAtMs] }),
    );
    renameSync(`${snapshotFile}.tmp`, snapshotFile);
    writeFileSync(join(this.options.dir, 'alerts.journal'), '');
    this.#journalLines = 0;
  }

  #load(dir: string): void {
    const snapshotFile = join(dir, 'alerts.json');
    if (existsSync(snapshotFile)) this.#loadSnapshot(snapshotFile);
    const journalFile = join(dir, 'alerts.journal');
    if (!existsSync(journalFile)) return;
    // A line cut short by a crash mid-write, or corrupted, is skipped: the lines around it are intact.
    replayJournalLines(readFileSync(journalFile, 'utf8'), JournalLineCheck, { source: 'alerts.journal', nowMs: Date.now(), onDeadLetter: this.options.onDeadLetter }, (parsed) => {
      const line = parsed as JournalLine;
      this.#journalLines++;
      if (line.op === 'seen') {
        const alert = this.#byId.get(line.id);
        if (alert) alert.seen = line.seen;
        return;
      }
      if (line.op === 'inhibit') {
        const alert = this.#byId.get(line.id);
        if (alert && line.inhibited) alert.inhibited = line.inhibited as Inhibition;
        else if (alert) delete alert.inhibited;
        if (line.seq === undefined) return;
        this.#seq = Math.max(this.#seq, line.seq);
        if (alert) this.#logChange(line.seq, 'raised', alert);
        return;
      }
      const seq = line.seq ?? this.#seq + 1;
      this.#seq = Math.max(this.#seq, seq);
      if (line.op === 'raise') {
        const key = keyOf(line.alert.subjectId, line.alert.condition);
        if (!this.#active.has(key)) {
          this.#raise(line.alert, key);
          this.#logChange(seq, 'raised', line.alert);
        }
      } else if (line.op === 'reopen') {
        const alert = this.#byId.get(line.id);
        if (alert && alert.state === 'cleared' && !this.#active.has(line.key)) {
          this.#reopen(alert, line.key, line.atMs, line.detail);
          this.#logChange(seq, 'raised', alert);
        }
      } else {
        const alert = this.#active.get(line.key);
        if (alert && alert.id === line.id) {
          this.#clear(alert, line.key, line.clearedAtMs, line.clearDetail);
          this.#logChange(seq, 'cleared', alert);
        }
      }
    });
    this.#trimChangeLog();
  }

  /**
   * The snapshot's alerts that can be replayed; a stored alert that cannot is skipped and
   * dead-lettered. A snapshot that is not one at all is set aside as `alerts.json.corrupt` and the
   * book starts from the journal alone, rather than not at all.
   */
  #loadSnapshot(file: string): void {
    const letter = (message: string, record: unknown): void =>
      this.options.onDeadLetter?.({ reason: 'journal_record_corrupt', message, source: 'alerts.json', payload: payloadText(record), atMs: Date.now() });
    const text = readFileSync(file, 'utf8');
    let snap: { active?: unknown; history?: unknown; lastEdgeAtMs?: unknown; seq?: unknown; changes?: unknown };
    try {
      snap = JSON.parse(text) as typeof snap;
      if (typeof snap !== 'object' || snap === null || !Array.isArray(snap.active) || !Array.isArray(snap.history)) throw new Error('no active and history lists');
    } catch (err) {
      renameSync(file, `${file}.corrupt`);
      letter(`snapshot unreadable (${(err as Error).message}); kept as alerts.json.corrupt, started from the journal`, text);
      return;
    }
    const replayable = (a: unknown, where: string): a is Alert => {
      if (StoredAlertCheck.Check(a)) return true;
      const first = StoredAlertCheck.Errors(a).First();
      letter(`${where}: ${first ? `${first.path || '/'} ${first.message}` : 'not an alert'}`, a);
      return false;
    };
    for (const a of snap.active as unknown[]) if (replayable(a, 'active alert')) this.#raise(a, keyOf(a.subjectId, a.condition));
    for (const a of snap.history as unknown[]) {
      if (!replayable(a, 'cleared alert')) continue;
      this.#history.push(a);
      this.#byId.set(a.id, a);
      this.#lastCleared.set(keyOf(a.subjectId, a.condition), a);
    }
    for (const entry of Array.isArray(snap.lastEdgeAtMs) ? (snap.lastEdgeAtMs as unknown[]) : []) {
      if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number') this.#lastEdgeAtMs.set(entry[0], entry[1]);
    }
    this.#seq = Number.isSafeInteger(snap.seq) ? (snap.seq as number) : 0;
    for (const change of Array.isArray(snap.changes) ? (snap.changes as SnapshotChange[]) : []) {
      const alert = Array.isArray(change) && Number.isSafeInteger(change[0]) ? this.#byId.get(change[2]) : undefined;
      // An alert no longer kept (past historyLimit): the changes up to it cannot be replayed.
      if (alert) this.#logChange(change[0], change[1] === 'r' ? 'raised' : 'cleared', alert);
      else this.#changeLog = [];
    }
  }
}
