import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { DeadLetter } from '../contracts/messages.ts';
import { STORE_DEAD_LETTER_REASONS, type StoreDeadLetter, type StoreDeadLetterSink } from '../alerts/store/dead-letters.ts';

/**
 * The runner's side of the stores' dead letters: each is logged, counted — ticket changes in
 * `gas_ticket_dead_letters_total{reason}`, skipped journal lines in
 * `gas_journal_dead_letters_total{journal}` — and handed to `keep` (the dead-letter log).
 */
export function storeDeadLetterSink(registry: Registry, log: Pick<Logger, 'warn'>, keep?: (letter: StoreDeadLetter) => void): StoreDeadLetterSink {
  const tickets = new Counter({ name: 'gas_ticket_dead_letters_total', help: 'Alert changes the ticket store refused as they were: stored made safe and flagged (ticket_sanitised) or not at all (ticket_rejected)', labelNames: ['reason'], registers: [registry] });
  const journals = new Counter({ name: 'gas_journal_dead_letters_total', help: 'Journal lines skipped at start because they are not records of their journal, by journal file', labelNames: ['journal'], registers: [registry] });
  for (const reason of STORE_DEAD_LETTER_REASONS) if (reason !== 'journal_record_corrupt') tickets.inc({ reason }, 0);
  return (letter) => {
    if (letter.reason === 'journal_record_corrupt') {
      journals.inc({ journal: letter.source });
      log.warn({ journal: letter.source, reason: letter.reason, problem: letter.message }, 'Journal line skipped at start: not a record of its journal');
    } else {
      tickets.inc({ reason: letter.reason });
    }
    keep?.(letter);
  };
}

/** A store's dead letter in the dead-letter log's shape: the journal or `tickets` as its topic. */
export function asDeadLetter(letter: StoreDeadLetter): DeadLetter {
  return {
    reason: letter.reason,
    message: letter.message,
    topic: letter.source,
    ...(letter.deviceId !== undefined ? { deviceId: letter.deviceId } : {}),
    payload: letter.payload,
    receivedAtMs: letter.atMs,
  };
}
