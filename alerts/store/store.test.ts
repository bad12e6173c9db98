import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeWithServers } from '../../sinks/influx/integration-env.ts';
import type { Db } from './db.ts';
import { MigrationError } from './errors.ts';
import { loadMigrations, migrate } from './migrate.ts';
import { openDb } from './open-db.ts';
import { PgliteDb } from './pglite-db.ts';
import { TICKET_STORE_NICE } from './pglite-worker-protocol.ts';
import { WorkerDb } from './worker-db.ts';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'store-test-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/**
 * A change, then — once it has committed — its audit entry, as the API's onSend hook writes it,
 * with the store closed in between (a stop while a request is still being handled): both land,
 * and the store takes nothing after it closed.
 */
async function closeLetsWorkFinish(open: () => Promise<Db>): Promise<void> {
  const db = await open();
  await db.query('CREATE TABLE audited (id int PRIMARY KEY, what text)');
  const change = db
    .transaction(async (tx) => {
      await tx.query("INSERT INTO audited VALUES (1, 'change')");
      await new Promise((resolve) => setTimeout(resolve, 20));
      await tx.query("UPDATE audited SET what = 'changed' WHERE id = 1");
    })
    .then(() => db.query("INSERT INTO audited VALUES (2, 'audit')"));
  const closed = db.close();
  await change;
  await closed;
  await expect(db.query('SELECT 1')).rejects.toThrow();
  const again = await open();
  expect(await again.query('SELECT id, what FROM audited ORDER BY id')).toEqual([
    { id: 1, what: 'changed' },
    { id: 2, what: 'audit' },
  ]);
  await again.close();
}

describe('closing a store', () => {
  it('the embedded store in its worker lets the work in flight and what it leads to finish first', async () => {
    const dir = join(tempDir(), 'tickets-db');
    await closeLetsWorkFinish(() => openDb({ dir }));
  });

  it('PGlite in the process does too', async () => {
    const dir = join(tempDir(), 'pglite');
    await closeLetsWorkFinish(() => PgliteDb.open({ dir }));
  });
});

describeWithServers({ TEST_DATABASE_URL: 'postgres' }, 'closing a PostgreSQL store', (env) => {
  it('lets the work in flight and what it leads to finish first', async () => {
    const schema = `close_${process.pid}_${Date.now().toString(36)}`;
    try {
      await closeLetsWorkFinish(() => openDb({ databaseUrl: env.TEST_DATABASE_URL!, schema }));
    } finally {
      const db = await openDb({ databaseUrl: env.TEST_DATABASE_URL! });
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await db.close();
    }
  });
});

describe('ticket store', () => {
  it('keeps data in the PGlite folder across a reopen, and does not migrate twice', async () => {
    const dir = join(tempDir(), 'tickets-db');
    let db = await openDb({ dir });
    await db.query("INSERT INTO ticket_comments (ticket_id, at, author, body) SELECT 'x', now(), 'a', 'b' WHERE false");
    await db.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', ['900', 'marker']);
    await db.close();
    db = await openDb({ dir });
    const rows = await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(expect.arrayContaining(['001', '900']));
    expect(new Set(rows.map((r) => r.version)).size).toBe(rows.length);
    await db.close();
  });

  it('applies migrations in order, records them, and rolls a failing one back entirely', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', '001_a.sql'), 'CREATE TABLE a (x int); INSERT INTO a VALUES (1);');
    writeFileSync(join(dir, 'm', '002_b.sql'), 'CREATE TABLE b (x int);');
    const db = await PgliteDb.open();
    expect(await migrate(db, loadMigrations(join(dir, 'm')))).toEqual(['001', '002']);
    expect(await migrate(db, loadMigrations(join(dir, 'm')))).toEqual([]);
    writeFileSync(join(dir, 'm', '003_c.sql'), 'CREATE TABLE c (x int);');
    writeFileSync(join(dir, 'm', '004_bad.sql'), 'CREATE TABLE d (x nonsense_type);');
    const err = await migrate(db, loadMigrations(join(dir, 'm'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).code).toBe('GAS_DB_MIGRATION_FAILED');
    expect(await db.query("SELECT to_regclass('c') AS c")).toEqual([{ c: null }]);
    await db.close();
  });

  it('refuses badly named migration files', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '1_x.sql'), '');
    expect(() => loadMigrations(dir)).toThrow(MigrationError);
  });

  it('our migrations are numbered 001–009 (010+ belong to on-call)', () => {
    expect(loadMigrations().find((m) => m.name === 'tickets')?.version).toBe('001');
  });

  it('reports an unreachable PostgreSQL as GAS_DB_UNAVAILABLE', async () => {
    await expect(openDb({ databaseUrl: 'postgres://nobody:x@127.0.0.1:1/none' })).rejects.toMatchObject({ code: 'GAS_DB_UNAVAILABLE', retryable: true });
  });
});

describe('the embedded store in its worker', () => {
  it('answers rows with their types, keeps SQLSTATE codes, and commits or rolls back a transaction as one', async () => {
    const db = await openDb({});
    expect(db).toBeInstanceOf(WorkerDb);
    await db.query('CREATE TABLE w (id int PRIMARY KEY, at timestamptz, doc jsonb)');
    await db.query('INSERT INTO w VALUES ($1, $2, $3)', [1, new Date('2026-01-02T03:04:05Z'), JSON.stringify({ a: [1] })]);
    const [row] = await db.query<{ id: number; at: Date; doc: unknown }>('SELECT * FROM w');
    expect(row).toEqual({ id: 1, at: new Date('2026-01-02T03:04:05Z'), doc: { a: [1] } });
    await expect(db.query('INSERT INTO w VALUES (1, now(), null)')).rejects.toMatchObject({ code: '23505' });

    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO w VALUES (2, now(), null)');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A statement outside waits for the transaction, so it sees either all of it or none.
    const inside = db.transaction(async (tx) => {
      await tx.query('INSERT INTO w VALUES (3, now(), null)');
      await tx.query('INSERT INTO w VALUES (4, now(), null)');
      return 'done';
    });
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM w');
    expect(await inside).toBe('done');
    expect(await outside).toEqual([{ n: 3 }]);
    expect(await db.query('SELECT id FROM w ORDER BY id')).toEqual([{ id: 1 }, { id: 3 }, { id: 4 }]);
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'GAS_DB_UNAVAILABLE' });
  });

  it('a failed statement inside a transaction fails the transaction, not the store', async () => {
    const db = await openDb({});
    await db.query('CREATE TABLE v (id int PRIMARY KEY)');
    await expect(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO v VALUES (1)');
        await tx.query('INSERT INTO v VALUES (1)');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await db.query('SELECT count(*)::int AS n FROM v')).toEqual([{ n: 0 }]);
    await db.close();
  });

  it.runIf(process.platform === 'linux')('runs below the alarm path: its thread alone at the ticket store nice value', async () => {
    // Field 19 of /proc/self/task/TID/stat, counted after the command name's closing parenthesis.
    const niceOfThreads = (): number[] =>
      readdirSync('/proc/self/task').flatMap((tid) => {
        try {
          return [Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16])];
        } catch {
          return [];
        }
      });
    const before = niceOfThreads().filter((n) => n === TICKET_STORE_NICE).length;
    const db = await openDb({});
    const during = niceOfThreads();
    expect(during.filter((n) => n === TICKET_STORE_NICE).length).toBe(before + 1);
    // This thread, and with it ingest, the detectors and the safety lane, keeps its own.
    expect(readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ')[16]).not.toBe(String(TICKET_STORE_NICE));
    await db.close();
  });
});
