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
