/** Test helpers shared by the ticket, SLA and store suites: alerts through a real AlertBook, a fake on-call directory, stores. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AlertEvent, Condition, DeviceKind, Severity } from '../../contracts/messages.ts';
import { AlertBook, type AlertChange } from '../alert-book.ts';
import type { OnCallAnswer, OnCallDirectory, Person } from '../oncall/directory.ts';
import type { Db } from '../store/db.ts';
import { openDb } from '../store/open-db.ts';
import { openTestDb } from '../store/testing.ts';

export const T0 = Date.parse('2026-11-22T08:00:00.000Z');
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export const people: Record<string, Person> = {
  'tech-wang': { id: 'tech-wang', name: '王工', role: 'technician' },
  'tech-li': { id: 'tech-li', name: '李工', role: 'technician' },
  'sup-zhao': { id: 'sup-zhao', name: '赵主管', role: 'supervisor' },
  'dir-qian': { id: 'dir-qian', name: '钱经理', role: 'director' },
};

/** Districts → who answers; a district not listed has a supervisor and director but no technician. */
export class FakeDirectory implements OnCallDirectory {
  technicians = new Map<string, string>([['east', 'tech-wang'], ['west', 'tech-li']]);

  async whoIsOnCall(district: string | undefined, _atMs: number): Promise<OnCallAnswer> {
    const tech = district ? this.technicians.get(district) : undefined;
    return {
      district: district ?? '',
      teamId: `team-${district ?? 'none'}`,
      ...(tech ? { technician: people[tech]! } : {}),
      supervisor: people['sup-zhao']!,
      director: people['dir-qian']!,
    };
  }

  async person(id: string): Promise<Person | undefined> {
    return people[id];
  }
}

export const devices: Record<string, { district: string; address: string; customer: string; lat?: number; lon?: number }> = {
  'HM-1': { district: 'east', address: '东区幸福路 1 号 101', customer: '张三', lat: 31.2304, lon: 121.4737 },
  'HM-2': { district: 'east', address: '东区幸福路 1 号 102', customer: '李四' },
  'HA-1': { district: 'west', address: '西区和平街 8 号', customer: '王五', lat: 31.2201, lon: 121.4412 },
  'HM-9': { district: 'north', address: '北区 9 号', customer: '赵六' },
  'GW-1': { district: 'east', address: '东区幸福路 1 号 机房', customer: '' },
};
export const lookupDevice = (id: string) => devices[id];

export function newBook(): AlertBook {
  return new AlertBook({ historyLimit: 1000, compactAfterLines: 100_000, fsync: false });
}

export function raise(book: AlertBook, deviceId: string, condition: Condition, atMs: number, opts: { severity?: Severity; kind?: DeviceKind; detail?: Record<string, unknown>; gateway?: boolean } = {}): AlertChange[] {
  const event: AlertEvent = {
    type: 'raise',
    subject: opts.gateway ? 'gateway' : 'device',
    subjectId: deviceId,
    gatewayId: opts.gateway ? deviceId : 'GW-1',
    ...(opts.gateway ? {} : { kind: opts.kind ?? 'household_meter' }),
    condition,
    severity: opts.severity ?? 'high',
    atMs,
    ...(opts.detail ? { detail: opts.detail } : {}),
  };
  return book.apply([event]);
}

export function clear(book: AlertBook, deviceId: string, condition: Condition, atMs: number, gateway = false): AlertChange[] {
  return book.apply([{ type: 'clear', subject: gateway ? 'gateway' : 'device', subjectId: deviceId, gatewayId: gateway ? deviceId : 'GW-1', condition, severity: 'high', atMs }]);
}

/** One isolated store; `open()` again reaches the same data, as a restarted process would. */
export interface TestStore {
  open(): Promise<Db>;
  dispose(): Promise<void>;
}

export interface TestStoreFactory {
  name: string;
  create(options?: { persistent?: boolean }): Promise<TestStore>;
}

/** In memory, except stores that must survive a reopen (restart tests): on disk, which is slower. */
export const pgliteStores: TestStoreFactory = {
  name: 'PGlite',
  async create(options = {}) {
    if (!options.persistent) {
      let shared: Db | undefined;
      return {
        // Reopening an in-memory store hands back the same database; closing it is deferred to dispose.
        open: async () => {
          shared ??= await openTestDb();
          return { query: (sql, params) => shared!.query(sql, params), transaction: (work) => shared!.transaction(work), close: async () => {} };
        },
        dispose: async () => shared?.close(),
      };
    }
    const dir = mkdtempSync(join(tmpdir(), 'tickets-db-'));
    return {
      open: () => openDb({ dir }),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

export function postgresStores(url: string): TestStoreFactory {
  return {
    name: 'PostgreSQL',
    async create() {
      const schema = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
      return {
        open: () => openDb({ databaseUrl: url, schema }),
        dispose: async () => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
          } finally {
            await client.end();
          }
        },
      };
    },
  };
}
