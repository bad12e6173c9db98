import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Db } from './db.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { openDb } from './open-db.ts';
import { PgliteDb } from './pglite-db.ts';

/**
 * Test helpers: ticket stores started from one migrated PGlite image instead of PGlite's initdb
 * and every migration (~2.5 s a store here; from the image ~0.4 s). The image is kept in the
 * system's temp folder under a hash of the migrations and PGlite's version, so test files share
 * it, and a changed migration or another PGlite (whose data directory may differ) makes a new one.
 */

/** PGlite's package version (its package.json is not exported: found beside its entry file). */
function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  let dir = dirname(entry);
  while (!dir.endsWith('pglite') && dirname(dir) !== dir) dir = dirname(dir);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

let migratedImage: Promise<Blob> | undefined;

function imageOfMigrations(): Promise<Blob> {
  migratedImage ??= (async () => {
    const migrations = loadMigrations();
    const key = createHash('sha256').update(JSON.stringify({ pglite: pgliteVersion(), migrations })).digest('hex').slice(0, 16);
    const file = join(tmpdir(), `gas-test-store-${key}.tar`);
    try {
      return new Blob([await readFile(file)]);
    } catch {
      // Not made yet (or being made by another test process, which is fine: both write the same).
    }
    const db = await PgliteDb.open();
    let image: Blob;
    try {
      await migrate(db, migrations);
      image = await db.image();
    } finally {
      await db.close();
    }
    const partial = `${file}.${process.pid}.partial`;
    await writeFile(partial, Buffer.from(await image.arrayBuffer()));
    await rename(partial, file);
    return image;
  })();
  return migratedImage;
}

/** A fresh in-memory ticket store with every migration applied. */
export async function openTestDb(options: { inThread?: boolean } = {}): Promise<Db> {
  return openDb({ image: await imageOfMigrations(), ...options });
}

/** Creates the embedded store's folder `dir` migrated, as a pipeline finds it after its first start. */
export async function seedTestStoreDir(dir: string): Promise<void> {
  const db = await PgliteDb.open({ dir, image: await imageOfMigrations() });
  await db.close();
}
