import type { Db } from './db.ts';
import { DbUnavailableError } from './errors.ts';
import { migrate } from './migrate.ts';
import { PgDb } from './pg-db.ts';
import { PgliteDb } from './pglite-db.ts';
import { WorkerDb } from './worker-db.ts';

export interface OpenDbOptions {
  /** PostgreSQL when set (DATABASE_URL). */
  databaseUrl?: string;
  /** PGlite folder when no URL, e.g. `${DATA_DIR}/tickets-db`; omitted: in memory. */
  dir?: string;
  /** PostgreSQL schema (search_path); tests use one per file. */
  schema?: string;
  /** Embedded only: start from this data directory (PgliteDb.image), e.g. an already migrated one. */
  image?: Blob;
  /**
   * Embedded only: run PGlite on the calling thread instead of its worker. The worker is the
   * default because a PGlite statement is a synchronous WebAssembly turn that would otherwise
   * stall ingest, detection and the alert streams (a ticket storm is tens of thousands of them).
   */
  inThread?: boolean;
}

/** Opens the ticket store and brings its schema up to date before returning it. */
export async function openDb(options: OpenDbOptions): Promise<Db> {
  let db: Db;
  const embedded = { ...(options.dir ? { dir: options.dir } : {}), ...(options.image ? { image: options.image } : {}) };
  try {
    db = options.databaseUrl
      ? await PgDb.open({ connectionString: options.databaseUrl, ...(options.schema ? { schema: options.schema } : {}) })
      : options.inThread
        ? await PgliteDb.open(embedded)
        : await WorkerDb.open(embedded);
  } catch (err) {
    throw new DbUnavailableError(`Cannot open the ticket store: ${(err as Error).message}`, { cause: err });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return db;
}
