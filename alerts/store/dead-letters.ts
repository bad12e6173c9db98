import type { StoreRejectReason } from '../../contracts/messages.ts';

/**
 * Records the stores set aside instead of letting one stop the rest: an alert change the ticket
 * store refused, or a journal line that cannot be replayed at start. The component hands each to
 * its sink; the runner logs, counts and keeps them with the edge's dead letters.
 */
/**
 * `ticket_sanitised`: refused by the ticket store as it was, stored with its text made safe and
 * flagged; `ticket_rejected`: refused even made safe, no ticket; `journal_record_corrupt`: a
 * stored line that is not a record of its journal, skipped at start.
 */
export type StoreDeadLetterReason = StoreRejectReason;

export const STORE_DEAD_LETTER_REASONS: readonly StoreDeadLetterReason[] = ['ticket_sanitised', 'ticket_rejected', 'journal_record_corrupt'];

export interface StoreDeadLetter {
  reason: StoreDeadLetterReason;
  /** What failed, for whoever repairs it (the store's error message, or the rule the line broke). */
  message: string;
  /** `tickets`, or the journal's file name. */
  source: string;
  alertId?: string;
  deviceId?: string;
  /** The record as it was, truncated. */
  payload: string;
  atMs: number;
}

export type StoreDeadLetterSink = (letter: StoreDeadLetter) => void;

const PAYLOAD_MAX_CHARS = 2048;

/** The record as text for the letter; never throws (cycles, BigInt) and is bounded. */
export function payloadText(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > PAYLOAD_MAX_CHARS ? `${text.slice(0, PAYLOAD_MAX_CHARS)}…` : text;
}
