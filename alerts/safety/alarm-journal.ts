import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { StoreDeadLetterSink } from '../store/dead-letters.ts';
import { journalLineCheck, replayJournalLines } from '../store/journal-lines.ts';
import type { Notice } from '../tickets/notice.ts';

/** One alarm pushed ahead of its ticket: which alerts, to whom, and the notice itself. */
export interface AlarmPush {
  notice: Notice;
  alertIds: string[];
  recipients: string[];
  atMs: number;
}

const FILE = 'alarm-pushes.jsonl';

/** What replay needs of a line; anything else is skipped and dead-lettered. */
const AlarmPushLine = journalLineCheck(
  Type.Object({
    notice: Type.Object({ id: Type.String(), kind: Type.String(), recipients: Type.Array(Type.String()) }),
    alertIds: Type.Array(Type.String()),
    recipients: Type.Array(Type.String()),
    atMs: Type.Number(),
  }),
);

/**
 * The safety lane's own journal, appended synchronously before an alarm is sent: after a crash
 * the ticket opened for the same alerts takes that push as its dispatch instead of calling the
 * technician again, and a push whose delivery was never recorded is sent once more.
 */
export class AlarmJournal {
  readonly #byAlert = new Map<string, AlarmPush>();
  readonly #file: string | undefined;

  /**
   * `dir` omitted: memory only (tests). Entries older than `keepMs` are dropped on open; lines that
   * are not alarm pushes (torn by a crash, corrupted) go to `onDeadLetter` and are dropped too.
   */
  constructor(dir: string | undefined, nowMs: number, keepMs = 7 * 86_400_000, onDeadLetter?: StoreDeadLetterSink) {
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, FILE);
    const kept: AlarmPush[] = [];
    if (existsSync(this.#file)) {
      // A line torn by a crash mid-append is a push that was never sent.
      replayJournalLines(readFileSync(this.#file, 'utf8'), AlarmPushLine, { source: FILE, nowMs, onDeadLetter }, (line) => {
        const entry = line as AlarmPush;
        if (entry.atMs < nowMs - keepMs) return;
        kept.push(entry);
        this.#index(entry);
      });
    }
    const tmp = `${this.#file}.tmp`;
    writeFileSync(tmp, kept.map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(tmp, this.#file);
  }

  #index(entry: AlarmPush): void {
    for (const id of entry.alertIds) this.#byAlert.set(id, entry);
  }

  /** Durable when it returns (the file is appended synchronously). */
  record(entry: AlarmPush): void {
    if (this.#file) appendFileSync(this.#file, `${JSON.stringify(entry)}\n`);
    this.#index(entry);
  }

  /** The alarm push that covered any of these alerts, if one did. */
  pushFor(alertIds: Iterable<string>): AlarmPush | undefined {
    for (const id of alertIds) {
      const entry = this.#byAlert.get(id);
      if (entry) return entry;
    }
    return undefined;
  }

  /** Pushes made since `sinceMs`, oldest first. */
  since(sinceMs: number): AlarmPush[] {
    return [...new Set(this.#byAlert.values())].filter((e) => e.atMs >= sinceMs).sort((a, b) => a.atMs - b.atMs);
  }
}
