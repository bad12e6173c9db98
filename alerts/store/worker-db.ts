import { Worker } from 'node:worker_threads';
import { InFlight, type Db } from './db.ts';
import { DbUnavailableError } from './errors.ts';
import type { WorkerError, WorkerInit, WorkerReply, WorkerRequest } from './pglite-worker-protocol.ts';

const BOOT = new URL('./pglite-worker-boot.mjs', import.meta.url);

type Pending = { resolve: (rows: unknown[]) => void; reject: (err: Error) => void };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** A statement the database refused, with PostgreSQL's SQLSTATE code as PGlite gave it. */
export class WorkerQueryError extends Error {
  readonly code?: string;
  readonly detail?: string;

  constructor(e: WorkerError) {
    super(e.message);
    this.name = e.name;
    if (e.code !== undefined) this.code = e.code;
    if (e.detail !== undefined) this.detail = e.detail;
  }
}

/**
 * The embedded ticket store behind a worker thread: PGlite (WebAssembly, synchronous while a
 * statement runs) executes in `pglite-worker.ts`, and the main thread only posts statements and
 * reads rows back, so the store never stalls ingest, detection or the streams. Same `Db` contract
 * as PgliteDb: a transaction's statements run in order on one connection, and other statements
 * wait until it ends.
 */
export class WorkerDb implements Db {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #inFlight = new InFlight();
  #nextId = 1;
  #failed: Error | undefined;

  private constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (r: WorkerReply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.rows ?? []);
      else p.reject(new WorkerQueryError(r.error));
    });
    const fail = (err: Error): void => {
      this.#failed = new DbUnavailableError(`The ticket store's worker stopped: ${err.message}`, { cause: err });
      for (const p of this.#pending.values()) p.reject(this.#failed);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  static async open(init: WorkerInit = {}): Promise<WorkerDb> {
    const worker = new Worker(BOOT, { workerData: init });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; error?: WorkerError }) => {
        if (m.ready === undefined) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        if (m.ready) resolve();
        else {
          void worker.terminate();
          reject(new WorkerQueryError(m.error ?? { name: 'Error', message: 'PGlite did not start' }));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return new WorkerDb(worker);
  }

  #call(req: Request): Promise<unknown[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#nextId++;
    return this.#inFlight.track(new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...req, id });
    }));
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.#call({ op: 'query', sql, ...(params && params.length > 0 ? { params } : {}) }) as Promise<Row[]>;
  }

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    // Whole, so that close() waits for a transaction busy between two of its statements.
    return this.#inFlight.track(this.#transaction(work));
  }

  async #transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    const tx = this.#nextId;
    await this.#call({ op: 'begin' });
    const inTx: Db = {
      query: <Row>(sql: string, params?: readonly unknown[]) => this.#call({ op: 'query', sql, tx, ...(params && params.length > 0 ? { params } : {}) }) as Promise<Row[]>,
      // One level of transaction: nested work joins the outer one.
      transaction: (inner) => inner(inTx),
      close: async () => {},
    };
    let result: T;
    try {
      result = await work(inTx);
    } catch (err) {
      await this.#call({ op: 'rollback', tx }).catch(() => {});
      throw err;
    }
    await this.#call({ op: 'commit', tx });
    return result;
  }

  /** After the work in flight, and what it leads to, has finished (at most CLOSE_GRACE_MS). */
  async close(): Promise<void> {
    await this.#inFlight.settled();
    if (this.#failed) return;
    await this.#call({ op: 'close' }).catch(() => {});
    await this.#worker.terminate();
  }
}
