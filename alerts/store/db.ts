/**
 * The SQL the service stages speak: one schema, one set of queries, run on PostgreSQL when
 * `DATABASE_URL` is set and on PGlite (embedded, PostgreSQL-compatible) under DATA_DIR otherwise.
 * Parameters are `$1, $2, …` as in PostgreSQL.
 */
export interface Db {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** Runs `work` in one transaction; rolls back if it throws. */
  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** How long close() waits for the statements in flight before it closes anyway, ms. */
export const CLOSE_GRACE_MS = 5_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The statements and transactions in flight on a store, so that close() lets them finish — and the
 * statements they lead to, such as the audit entry written once a change has committed — before
 * the connection goes. Closing at once lost those entries when a stop came while a request whose
 * client had hung up was still being handled: the API had closed, the request had not.
 */
export class InFlight {
  #count = 0;

  track<T>(work: Promise<T>): Promise<T> {
    this.#count++;
    return work.finally(() => {
      this.#count--;
    });
  }

  /** Resolves once nothing was in flight for a whole turn of the event loop, or after `limitMs`. */
  async settled(limitMs = CLOSE_GRACE_MS): Promise<void> {
    const deadline = performance.now() + limitMs;
    while (performance.now() < deadline) {
      await nextTurn();
      if (this.#count > 0) continue;
      // What a finished statement leads to is queued behind it: give it the turn to ask.
      await nextTurn();
      if (this.#count === 0) return;
    }
  }
}
