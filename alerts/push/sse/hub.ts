import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { StoreDeadLetterSink } from '../../store/dead-letters.ts';
import { journalLineCheck, replayJournalLines } from '../../store/journal-lines.ts';
import type { Notice } from '../../tickets/notice.ts';

/** One event on a technician's live stream, in the shape of an SSE frame. */
export interface SseEvent {
  /** The hub's sequence number as text (`"1"`, `"2"`, …): one sequence for all people, kept across restarts. */
  id: string;
  event: Notice['kind'];
  data: string;
  noticeId: string;
}

export type SseListener = (event: SseEvent) => void;

/** Why a reconnect could not be replayed in full: the client should reload (GET its tickets). */
export type SseResetReason = 'unknown_id' | 'not_retained';

/** Why a subscription ended without the reader closing it. */
export type SseEndReason = 'slow_client' | 'shutdown';

/** An open stream: an async iterator of events that ends on `close()`. */
export interface SseSubscription extends AsyncIterableIterator<SseEvent> {
  close(): void;
  /** Set when `lastEventId` was given but what followed it is not all kept; the retained rest is still replayed. */
  readonly reset: SseResetReason | undefined;
  /** The id of the last event handed out, or the position the stream started at. */
  readonly lastEventId: string;
  /** Set when the subscription ended on its own: the reader fell too far behind, or the hub closed. */
  readonly endReason: SseEndReason | undefined;
  /** Called once when the subscription ends on its own (not on `close()`), before a waiting `next()` resolves. */
  onEnd(listener: (reason: SseEndReason) => void): void;
}

export interface SseHubOptions {
  /**
   * Events kept per person for Last-Event-ID replay.
   * @defaultValue 50
   */
  bufferSize?: number;
  /**
   * Events a stream may fall behind (published but not yet taken by its reader) before it is ended
   * as `slow_client`; at most `bufferSize`, so the reconnect replays all of them.
   * @defaultValue 25
   */
  maxBacklogEvents?: number;
  /** Folder for the replay journal (`sse-events.jsonl`); omit to keep events in memory only. */
  dir?: string;
  log?: Logger;
  /** Journal lines that cannot be replayed at start (skipped): the runner logs, counts and keeps them. */
  onDeadLetter?: StoreDeadLetterSink;
  /** Unused since ids are a persisted sequence; accepted so existing callers keep compiling. */
  startedAtMs?: number;
}

/** The text of one SSE frame (`id`, `event`, `data` lines, blank line). */
export function formatSseFrame(e: SseEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\n${e.data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`;
}

interface Stored {
  seq: number;
  event: SseEvent;
}

interface PersonLog {
  events: Stored[];
  /** Highest sequence number dropped from `events`: a client behind it has missed something. */
  droppedThrough: number;
}

type JournalLine = { t: 'e'; seq: number; personId: string; notice: Notice } | { t: 'floor'; personId: string; seq: number };

const JOURNAL = 'sse-events.jsonl';

/** What replay needs of a line; anything else is skipped and dead-lettered. */
const JournalLineCheck = journalLineCheck(
  Type.Union([
    Type.Object({ t: Type.Literal('e'), seq: Type.Integer({ minimum: 1 }), personId: Type.String(), notice: Type.Object({ id: Type.String(), kind: Type.String() }) }),
    Type.Object({ t: Type.Literal('floor'), personId: Type.String(), seq: Type.Integer({ minimum: 0 }) }),
  ]),
);

const toEvent = (seq: number, notice: Notice): SseEvent => ({ id: String(seq), event: notice.kind, data: JSON.stringify(notice), noticeId: notice.id });

/**
 * Per-person live streams. Publishing reaches every open stream of that person; the last
 * `bufferSize` events per person are kept so a reconnecting app replays what it missed
 * (Last-Event-ID). Ids are one sequence over all people; with `dir` the kept events and the
 * sequence are journalled to a file, so ids stay valid and replay works across a restart.
 *
 * A subscription is a cursor into the person's kept events, not a queue: a reader that does not
 * keep up costs no memory, and is ended as `slow_client` once it is `maxBacklogEvents` behind.
 */
export class SseHub {
  readonly #bufferSize: number;
  readonly #maxBacklog: number;
  readonly #dir: string | undefined;
  readonly #log: Logger | undefined;
  readonly #onDeadLetter: StoreDeadLetterSink | undefined;
  #seq = 0;
  #journalLines = 0;
  readonly #listeners = new Map<string, Set<SseListener>>();
  readonly #people = new Map<string, PersonLog>();
  /** End of every open subscription, so the hub can end them all. */
  readonly #subs = new Set<(reason: SseEndReason) => void>();

  constructor(options: SseHubOptions = {}) {
    this.#bufferSize = options.bufferSize ?? 50;
    this.#maxBacklog = Math.max(1, Math.min(options.maxBacklogEvents ?? 25, this.#bufferSize));
    this.#dir = options.dir;
    this.#log = options.log;
    this.#onDeadLetter = options.onDeadLetter;
    if (this.#dir) {
      mkdirSync(this.#dir, { recursive: true });
      this.#load(this.#dir);
    }
  }

  /** Sequence number of the latest event (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Keeps the event and hands it to open streams; returns how many streams it reached. */
  publish(personId: string, notice: Notice): { event: SseEvent; listeners: number } {
    const seq = ++this.#seq;
    const event = toEvent(seq, notice);
    this.#keep(personId, seq, event);
    this.#append([{ t: 'e', seq, personId, notice }]);
    const listeners = [...(this.#listeners.get(personId) ?? [])];
    for (const l of listeners) l(event);
    return { event, listeners: listeners.length };
  }

  /** Kept events after `lastEventId`; none when the id is absent or not one of this hub's. */
  missedSince(personId: string, lastEventId?: string): SseEvent[] {
    if (lastEventId === undefined) return [];
    const start = this.#startOf(personId, lastEventId);
    return start.reset === 'unknown_id' ? [] : this.#after(personId, start.cursor).map((s) => s.event);
  }

  /** Registers a listener; replays missed events first when `lastEventId` is given. Returns unsubscribe. */
  listen(personId: string, listener: SseListener, lastEventId?: string): () => void {
    for (const e of this.missedSince(personId, lastEventId)) listener(e);
    return this.#addListener(personId, listener);
  }

  /** An async iterator over a person's events (missed ones first), for the fastify SSE route. */
  subscribe(personId: string, options: { lastEventId?: string } = {}): SseSubscription {
    const start = options.lastEventId === undefined ? { cursor: this.#seq, reset: undefined } : this.#startOf(personId, options.lastEventId);
    let cursor = start.cursor;
    let wake: ((r: IteratorResult<SseEvent>) => void) | undefined;
    let closed = false;
    let endReason: SseEndReason | undefined;
    const endListeners: Array<(reason: SseEndReason) => void> = [];
    const take = (): SseEvent | undefined => {
      const next = this.#after(personId, cursor, 1)[0];
      if (!next) return undefined;
      cursor = next.seq;
      return next.event;
    };
    const end = (reason: SseEndReason | undefined): void => {
      if (closed) return;
      closed = true;
      endReason = reason;
      this.#subs.delete(end);
      unsubscribe();
      if (reason) for (const l of endListeners) l(reason);
      wake?.({ value: undefined, done: true });
      wake = undefined;
    };
    const unsubscribe = this.#addListener(personId, () => {
      if (wake) {
        const w = wake;
        wake = undefined;
        const e = take();
        if (e) w({ value: e, done: false });
        else wake = w;
        return;
      }
      if (this.#after(personId, cursor).length > this.#maxBacklog || this.#dropped(personId) > cursor) end('slow_client');
    });
    const sub: SseSubscription = {
      next: () => {
        if (closed) return Promise.resolve({ value: undefined, done: true });
        if (this.#dropped(personId) > cursor) {
          end('slow_client');
          return Promise.resolve({ value: undefined, done: true });
        }
        const e = take();
        if (e) return Promise.resolve({ value: e, done: false });
        return new Promise((resolve) => (wake = resolve));
      },
      return: () => {
        end(undefined);
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => sub,
      close: () => end(undefined),
      reset: start.reset,
      get lastEventId() {
        return String(cursor);
      },
      get endReason() {
        return endReason;
      },
      onEnd: (listener) => void endListeners.push(listener),
    };
    this.#subs.add(end);
    return sub;
  }

  listenerCount(personId: string): number {
    return this.#listeners.get(personId)?.size ?? 0;
  }

  /** Ends every open stream (reason `shutdown`). */
  close(): void {
    for (const end of [...this.#subs]) end('shutdown');
    this.#subs.clear();
    this.#listeners.clear();
  }

  // --- cursors -------------------------------------------------------------------------------

  /** Where a stream resuming after `lastEventId` starts, and whether it missed events no longer kept. */
  #startOf(personId: string, lastEventId: string): { cursor: number; reset: SseResetReason | undefined } {
    const n = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : Number.NaN;
    // An id of another hub (an earlier format, a wiped data folder): nothing to replay from.
    if (!Number.isSafeInteger(n) || n > this.#seq) return { cursor: this.#seq, reset: 'unknown_id' };
    const dropped = this.#dropped(personId);
    return dropped > n ? { cursor: dropped, reset: 'not_retained' } : { cursor: n, reset: undefined };
  }

  #dropped(personId: string): number {
    return this.#people.get(personId)?.droppedThrough ?? 0;
  }

  #after(personId: string, cursor: number, limit = Number.POSITIVE_INFINITY): Stored[] {
    const events = this.#people.get(personId)?.events ?? [];
    let i = events.length;
    while (i > 0 && events[i - 1]!.seq > cursor) i--;
    return events.slice(i, i + Math.min(limit, events.length));
  }

  #addListener(personId: string, listener: SseListener): () => void {
    const set = this.#listeners.get(personId) ?? new Set();
    set.add(listener);
    this.#listeners.set(personId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(personId) === set) this.#listeners.delete(personId);
    };
  }

  #keep(personId: string, seq: number, event: SseEvent): void {
    const log = this.#people.get(personId) ?? { events: [], droppedThrough: 0 };
    log.events.push({ seq, event });
    if (log.events.length > this.#bufferSize) {
      const dropped = log.events.splice(0, log.events.length - this.#bufferSize);
      log.droppedThrough = Math.max(log.droppedThrough, dropped[dropped.length - 1]!.seq);
    }
    this.#people.set(personId, log);
  }

  // --- persistence ---------------------------------------------------------------------------

  /** Appends to the journal; a failing disk costs replay after a restart, never the live push. */
  #append(lines: readonly JournalLine[]): void {
    if (!this.#dir) return;
    try {
      appendFileSync(join(this.#dir, JOURNAL), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      this.#journalLines += lines.length;
      if (this.#journalLines > 2 * this.#kept() + 1000) this.#compact(this.#dir);
    } catch (err) {
      this.#log?.error({ err, dir: this.#dir }, 'SSE replay journal write failed; events stay in memory');
    }
  }

  #kept(): number {
    let n = 0;
    for (const p of this.#people.values()) n += p.events.length;
    return n;
  }

  /** Rewrites the journal with only what is kept, atomically (temp file, then rename). */
  #compact(dir: string): void {
    const lines: JournalLine[] = [];
    for (const [personId, p] of this.#people) {
      if (p.droppedThrough > 0) lines.push({ t: 'floor', personId, seq: p.droppedThrough });
      for (const s of p.events) lines.push({ t: 'e', seq: s.seq, personId, notice: JSON.parse(s.event.data) as Notice });
    }
    const file = join(dir, JOURNAL);
    writeFileSync(`${file}.tmp`, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    renameSync(`${file}.tmp`, file);
    this.#journalLines = lines.length;
  }

  #load(dir: string): void {
    const file = join(dir, JOURNAL);
    if (!existsSync(file)) return;
    // A line cut short by a crash mid-write, or corrupted, is skipped; the rest replay.
    const { skipped } = replayJournalLines(readFileSync(file, 'utf8'), JournalLineCheck, { source: JOURNAL, nowMs: Date.now(), onDeadLetter: this.#onDeadLetter }, (parsed) => {
      const line = parsed as JournalLine;
      this.#journalLines++;
      if (line.t === 'floor') {
        const p = this.#people.get(line.personId) ?? { events: [], droppedThrough: 0 };
        p.droppedThrough = Math.max(p.droppedThrough, line.seq);
        this.#people.set(line.personId, p);
      } else {
        this.#seq = Math.max(this.#seq, line.seq);
        this.#keep(line.personId, line.seq, toEvent(line.seq, line.notice));
      }
    });
    if (skipped > 0) this.#log?.warn({ skipped, file }, 'SSE replay journal lines skipped: not events of this journal');
  }
}
