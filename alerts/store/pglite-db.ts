import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { InFlight, type Db } from './db.ts';

type Runner = Pick<PGlite, 'query' | 'exec'> | Transaction;

/**
 * Without parameters a statement goes through the simple protocol, so a migration file with
 * several statements runs as one call (the same rule as node-postgres); the last result's rows
 * are returned.
 */
async function run<Row>(runner: Runner, sql: string, params?: readonly unknown[]): Promise<Row[]> {
  if (params === undefined || params.length === 0) {
    const results = await runner.exec(sql);
    return (results.at(-1)?.rows ?? []) as Row[];
  }
  const result = await runner.query<Row>(sql, params as unknown[]);
  return result.rows;
}

function txDb(tx: Transaction): Db {
  const db: Db = {
    query: (sql, params) => run(tx, sql, params),
    // One level of transaction: nested work joins the outer one.
    transaction: (work) => work(db),
    close: async () => {},
  };
  return db;
}

/** The embedded default: PGlite persisted under `dir`, or in memory when `dir` is omitted (tests). */
export class PgliteDb implements Db {
  readonly #pg: PGlite;
  readonly #inFlight = new InFlight();

  private constructor(pg: PGlite) {
    this.#pg = pg;
  }

  /**
   * `image`: start from a data directory saved by `image()` instead of creating a cluster (about
   * 2 s of PGlite's initdb on these machines); the store suites start each test from one migrated image.
   */
  static async open(options: { dir?: string; image?: Blob } = {}): Promise<PgliteDb> {
    if (options.dir) mkdirSync(options.dir, { recursive: true });
    const pg = new PGlite({ ...(options.dir ? { dataDir: options.dir } : {}), ...(options.image ? { loadDataDir: options.image } : {}) });
    await pg.waitReady;
    return new PgliteDb(pg);
  }

  /** The whole data directory as it is now, uncompressed (PGlite's dumpDataDir). */
  image(): Promise<Blob> {
    return this.#pg.dumpDataDir('none');
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.#inFlight.track(run<Row>(this.#pg, sql, params));
  }

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return this.#inFlight.track(this.#pg.transaction((tx) => work(txDb(tx))));
  }

  /** After the work in flight, and what it leads to, has finished (at most CLOSE_GRACE_MS). */
  async close(): Promise<void> {
    await this.#inFlight.settled();
    if (!this.#pg.closed) await this.#pg.close();
  }
}
