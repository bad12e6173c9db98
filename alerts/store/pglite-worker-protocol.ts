/**
 * Messages between the main thread's WorkerDb and the PGlite worker. Every request carries an id
 * the reply echoes; statements of one transaction carry the id of the `begin` that opened it.
 */
export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; params?: readonly unknown[]; tx?: number }
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' };

/** An error as it crosses the thread boundary: PGlite's SQLSTATE code and detail survive. */
export interface WorkerError {
  name: string;
  message: string;
  code?: string;
  detail?: string;
}

export type WorkerReply = { id: number; ok: true; rows?: unknown[] } | { id: number; ok: false; error: WorkerError };

/** What the worker is started with. */
export interface WorkerInit {
  dir?: string;
  /** A data directory to start from (PgliteDb.image). */
  image?: Blob;
}

/**
 * The worker thread's nice value on Linux (0 is normal, 19 the lowest). The technician's push for
 * an alarm goes out from memory before its ticket's SQL runs here, so when the cores are full the
 * event loops on the alarm path go first and the ticket trails. Measured on the Kafka path at 51k
 * readings/s, where a leak's ticket a tenth of a second makes this thread use 20 % of a core: push
 * p99 38.7 ms with the worker at 0 against 35.9 and 35.5 ms at 10 (600 probes each), the alerts
 * role's loop waiting for a core 151 against 113–124 ms a second. At 10 it still gets about a tenth
 * of a busy core's turns, and every idle one.
 */
export const TICKET_STORE_NICE = 10;
