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
