import pg from 'pg';
import { InFlight, type Db } from './db.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

async function run<Row>(client: Queryable, sql: string, params?: readonly unknown[]): Promise<Row[]> {
  const result = (await client.query(sql, params === undefined || params.length === 0 ? undefined : (params as unknown[]))) as pg.QueryResult | pg.QueryResult[];
  // Several statements without parameters return one result each; keep the last, as PGlite does.
  const last = Array.isArray(result) ? result.at(-1) : result;
  return (last?.rows ?? []) as Row[];
}

export interface PgDbOptions {
  connectionString: string;
  /** Schema to use (search_path), e.g. one per test file; created when missing. */
  schema?: string;
  maxConnections?: number;
}

/** PostgreSQL over a pg.Pool (DATABASE_URL). */
export class PgDb implements Db {
  readonly #pool: pg.Pool;
  readonly #inFlight = new InFlight();

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async open(options: PgDbOptions): Promise<PgDb> {
    if (options.schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.schema)) throw new TypeError(`Bad schema name ${options.schema}`);
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 10,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    });
    // An idle client's error (server restart) must not crash the process; the next query reconnects.
    pool.on('error', () => {});
    if (options.schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    else await pool.query('SELECT 1');
    return new PgDb(pool);
  }

  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.#inFlight.track(run<Row>(this.#pool, sql, params));
  }

  transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    return this.#inFlight.track(this.#transaction(work));
  }

  async #transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    const tx: Db = {
      query: (sql, params) => run(client, sql, params),
      transaction: (inner) => inner(tx),
      close: async () => {},
    };
    try {
      await client.query('BEGIN');
      const result = await work(tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /** After the work in flight, and what it leads to, has finished (at most CLOSE_GRACE_MS). */
  async close(): Promise<void> {
    await this.#inFlight.settled();
    await this.#pool.end();
  }
}
