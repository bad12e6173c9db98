import { loadMigrations, migrate } from '../store/migrate.ts';
import { PgliteDb } from '../store/pglite-db.ts';

/** An in-memory PGlite with only the on-call and delivery migrations (010–019, 090: people's messenger accounts, 092: their push preferences) applied. */
export async function oncallTestDb(): Promise<PgliteDb> {
  const db = await PgliteDb.open();
  await migrate(db, loadMigrations().filter((m) => (m.version >= '010' && m.version < '020') || m.version === '090' || m.version === '092'));
  return db;
}
