import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { payloadText, type StoreDeadLetterSink } from './dead-letters.ts';

/** A journal line's schema, compiled once: replay checks every line against it. */
export function journalLineCheck<S extends TSchema>(schema: S) {
  return TypeCompiler.Compile(schema);
}

/**
 * Replays a JSON-lines journal: each line that parses and matches its schema is handed to
 * `apply`; any other — a line torn by a crash mid-append, a corrupted or hand-edited one, one
 * `apply` cannot take — is skipped and dead-lettered, so one bad stored record never stops a start.
 */
export function replayJournalLines<S extends TSchema>(
  text: string,
  check: ReturnType<typeof journalLineCheck<S>>,
  journal: { source: string; nowMs: number; onDeadLetter?: StoreDeadLetterSink },
  apply: (line: Static<S>) => void,
): { applied: number; skipped: number } {
  let applied = 0;
  let skipped = 0;
  const skip = (line: string, message: string): void => {
    skipped++;
    journal.onDeadLetter?.({ reason: 'journal_record_corrupt', message, source: journal.source, payload: payloadText(line), atMs: journal.nowMs });
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      skip(line, `line ${i + 1}: not JSON (torn by a crash mid-append, or corrupted)`);
      continue;
    }
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      skip(line, `line ${i + 1}: ${first ? `${first.path || '/'} ${first.message}` : 'not a record of this journal'}`);
      continue;
    }
    try {
      apply(value);
      applied++;
    } catch (err) {
      skip(line, `line ${i + 1}: ${(err as Error).message}`);
    }
  }
  return { applied, skipped };
}
