import { existsSync, readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DeviceRecordSchema, type DeviceRecord, type DeviceRecords } from '../contracts/device-record.ts';
import { ConfigError } from '../app/errors.ts';
import { jsonProblem, type JsonBounds } from '../contracts/safe-json.ts';

const checkRecord = TypeCompiler.Compile(DeviceRecordSchema);

/**
 * Registry records are flat facts; unknown fields are kept, but nested at most this deep and with
 * no unsafe text (contracts/safe-json.ts), so writing the edits file or answering GET never overflows.
 */
export const RECORD_BOUNDS: JsonBounds = { maxDepth: 8, maxStringChars: 4096 };

/** The first problem with a record, naming the field, or undefined when it is valid. */
export function recordProblem(record: unknown): string | undefined {
  // Before the schema check, which recurses.
  const unsafe = jsonProblem(record, RECORD_BOUNDS);
  if (unsafe) return `${unsafe.path === '' ? 'record' : unsafe.path.slice(1)}: ${unsafe.message}`;
  if (checkRecord.Check(record)) {
    // A point needs both: one alone would put the device on the equator or the prime meridian.
    const { lat, lon } = record as DeviceRecord;
    if ((lat === undefined) !== (lon === undefined)) return `${lat === undefined ? 'lat' : 'lon'}: lat and lon are given together`;
    return undefined;
  }
  const e = checkRecord.Errors(record).First();
  return e ? `${e.path === '' ? 'record' : e.path.slice(1)}: ${e.message}` : 'invalid record';
}

const NUMERIC_FIELDS = new Set(['qmaxM3h', 'qminM3h', 'l1LelPct', 'l2LelPct', 'reportIntervalS', 'lowBatteryV', 'reportWindowMin', 'serviceIntervalDays', 'lat', 'lon']);

/** CSV cells are text: numeric columns become numbers, empty cells are left out. */
function fromCsvRow(row: Record<string, string>): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const [field, cell] of Object.entries(row)) {
    if (cell === '') continue;
    record[field] = NUMERIC_FIELDS.has(field) && /^-?\d+(\.\d+)?$/.test(cell) ? Number(cell) : cell;
  }
  return record;
}

/** Reads a registry file (a JSON array, `{"devices": [...]}`, or CSV with a header row); refuses it whole, naming the first bad record. */
export function readRegistryFile(file: string): DeviceRecord[] {
  const text = readFileSync(file, 'utf8');
  let rows: unknown[];
  if (extname(file).toLowerCase() === '.csv') {
    rows = (parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[]).map(fromCsvRow);
  } else {
    const parsed = JSON.parse(text) as unknown;
    rows = Array.isArray(parsed) ? parsed : ((parsed as { devices?: unknown[] }).devices ?? []);
  }
  rows.forEach((row, i) => {
    const problem = recordProblem(row);
    if (problem) throw new ConfigError(`registry ${file}, record ${i + 1}: ${problem}`);
  });
  return rows as DeviceRecord[];
}

/**
 * The device registry: the facts about each device that its readings do not carry. Loaded from the
 * `REGISTRY` file at start; edits through the API are kept in `editsFile` so they survive restarts
 * and win over the file.
 */
export class DeviceRegistry implements DeviceRecords {
  readonly #records = new Map<string, DeviceRecord>();
  readonly #edits = new Map<string, DeviceRecord>();
  readonly #listeners: Array<(deviceId: string) => void> = [];

  constructor(records: readonly DeviceRecord[], private readonly editsFile?: string) {
    for (const r of records) this.#set(r);
    if (editsFile && existsSync(editsFile)) {
      for (const [i, r] of (JSON.parse(readFileSync(editsFile, 'utf8')) as DeviceRecord[]).entries()) {
        // An edit kept before records were bounded would break every later edit: refused at start, by name.
        const problem = recordProblem(r);
        if (problem) throw new ConfigError(`registry edits ${editsFile}, record ${i + 1} (${String(r?.deviceId)}): ${problem}; remove or fix it`);
        this.#edits.set(r.deviceId, r);
        this.#set(r);
      }
    }
  }

  #set(record: DeviceRecord): void {
    this.#records.set(record.deviceId, record);
  }

  get size(): number {
    return this.#records.size;
  }

  get(deviceId: string): DeviceRecord | undefined {
    return this.#records.get(deviceId);
  }

  records(): IterableIterator<DeviceRecord> {
    return this.#records.values();
  }

  onChange(listener: (deviceId: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Creates or replaces a record (already checked with `recordProblem` at the edge) and keeps the edit. */
  put(record: DeviceRecord): DeviceRecord {
    this.#set(record);
    this.#edits.set(record.deviceId, record);
    if (this.editsFile) {
      mkdirSync(dirname(this.editsFile), { recursive: true });
      writeFileSync(`${this.editsFile}.tmp`, JSON.stringify([...this.#edits.values()]));
      renameSync(`${this.editsFile}.tmp`, this.editsFile);
    }
    for (const l of this.#listeners) l(record.deviceId);
    return record;
  }
}
