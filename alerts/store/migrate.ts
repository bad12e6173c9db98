import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';
import { MigrationError } from './errors.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Any fixed number: every process that migrates this database takes the same lock. */
const MIGRATION_LOCK = 72_390_001;

export interface Migration {
  version: string;
  name: string;
  sql: string;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const out: Migration[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.sql')) continue;
    const match = /^(\d{3})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`Migration file ${file} is not named NNN_name.sql`);
    if (out.some((m) => m.version === match[1])) throw new MigrationError(`Two migrations numbered ${match[1]}`);
    out.push({ version: match[1]!, name: match[2]!, sql: readFileSync(join(dir, file), 'utf8') });
  }
  return out;
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in order, in one transaction
 * under an advisory lock, so two processes starting at once apply each file exactly once.
 * Returns the versions applied now.
 */
export async function migrate(db: Db, migrations: readonly Migration[] = loadMigrations()): Promise<string[]> {
  try {
    return await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await tx.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const done = new Set((await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).map((r) => r.version));
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await tx.query(m.sql);
        await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    });
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    throw new MigrationError(`Migrating the ticket store failed: ${(err as Error).message}`, { cause: err });
  }
}
