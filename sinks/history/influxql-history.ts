import type { Logger } from 'pino';
import { DEVICE_TAG_KINDS, DETECTOR_MEASUREMENT } from '../influx/line-protocol.ts';
import { HistoryUnavailableError } from './errors.ts';
import { KIND_FIELDS, MERGE, type HistoryField } from './fields.ts';
import { bucketMsFor, type HistoryAnswer, type HistoryPoint, type HistoryQuery, type ReadingsHistory } from './readings-history.ts';

/** InfluxDB 1.x, as the sink writes to it (INFLUXQL_URL, INFLUX_DATABASE, INFLUX_USERNAME/PASSWORD). */
export interface InfluxQlHistoryOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** @defaultValue 10000 */
  requestTimeoutMs?: number;
}

interface Series {
  name: string;
  columns: string[];
  values: unknown[][];
}

interface QueryBody {
  results?: Array<{ statement_id?: number; series?: Series[]; error?: string }>;
  error?: string;
}

/** Channels assumed per alarm controller when sizing the raw query of its detectors (more: the answer is bucketed). */
const CHANNELS_PER_CONTROLLER = 16;

/** An InfluxQL string literal (ids are plain by the registry's rules; quotes are escaped all the same). */
const literal = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const ident = (s: string) => `"${s}"`;

/**
 * A device's readings from InfluxDB 1.x with InfluxQL, in the schema of sinks/influx/README.md:
 * the kind's measurement, narrowed by the `device` tag (industrial kinds) or by the registry's
 * `gateway` tag and the `deviceId` field (the mass kinds), plus `gas_detector` for a controller's
 * highest channel. Up to `limit` readings come back as they are; more are one query again with
 * `GROUP BY time(bucket)` and the aggregate of each field's merge rule (fields.ts): max, min, last.
 * Status is then the bucket's last, not the union the local store gives.
 */
export class InfluxQlHistory implements ReadingsHistory {
  readonly #options: InfluxQlHistoryOptions;
  readonly #log: Logger;

  constructor(options: InfluxQlHistoryOptions, log: Logger) {
    this.#options = options;
    this.#log = log;
  }

  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    const fields = this.#fields(q);
    const controller = q.kind === 'alarm_controller';
    const where = this.#where(q);
    const detectorsWhere = `${ident('device')} = ${literal(q.deviceId)} AND ${this.#timeRange(q)}`;
    const columns = [...fields.map(ident), ident('status')].join(', ');
    const detectorLimit = (q.limit + 1) * CHANNELS_PER_CONTROLLER;
    const raw = [`SELECT ${columns} FROM ${ident(q.kind)} WHERE ${where} ORDER BY time ASC LIMIT ${q.limit + 1}`];
    if (controller) raw.push(`SELECT "lelPct", "sensorFault", "detector" FROM ${ident(DETECTOR_MEASUREMENT)} WHERE ${detectorsWhere} ORDER BY time ASC LIMIT ${detectorLimit}`);
    const [rows, detectorRows = []] = await this.#run(raw);
    const readings = new Map<number, HistoryPoint>();
    for (const row of rows!) readings.set(row.time, this.#point(row, fields));
    if (readings.size <= q.limit && detectorRows.length < detectorLimit) {
      for (const row of detectorRows) {
        const point = this.#at(readings, row.time);
        const lel = row.lelPct;
        if (typeof lel === 'number' && !(lel <= (point.values.lelPct ?? -Infinity))) point.values.lelPct = lel;
        if (lel === null && row.sensorFault === true) point.status = [...(point.status ?? []), `ch${String(row.detector)} --F`];
      }
      return { source: 'influxdb', bucketMs: null, points: this.#sorted(readings) };
    }

    const bucketMs = bucketMsFor(q.fromMs, q.toMs, q.limit);
    const aggregates = [...fields.map((f) => `${MERGE[f]}(${ident(f)}) AS ${ident(f)}`), `last("status") AS "status"`].join(', ');
    const grouped = [`SELECT ${aggregates} FROM ${ident(q.kind)} WHERE ${where} GROUP BY time(${bucketMs}ms) fill(none)`];
    if (controller) grouped.push(`SELECT max("lelPct") AS "lelPct" FROM ${ident(DETECTOR_MEASUREMENT)} WHERE ${detectorsWhere} GROUP BY time(${bucketMs}ms) fill(none)`);
    const [buckets, detectorBuckets = []] = await this.#run(grouped);
    const points = new Map<number, HistoryPoint>();
    for (const row of buckets!) points.set(row.time, this.#point(row, fields));
    for (const row of detectorBuckets) if (typeof row.lelPct === 'number') this.#at(points, row.time).values.lelPct = row.lelPct;
    return { source: 'influxdb', bucketMs, points: this.#sorted(points) };
  }

  /** The kind's fields in its own measurement (a controller's lelPct lives in gas_detector). */
  #fields(q: HistoryQuery): HistoryField[] {
    return KIND_FIELDS[q.kind].filter((f) => !(q.kind === 'alarm_controller' && f === 'lelPct'));
  }

  #timeRange(q: HistoryQuery): string {
    return `time >= ${Math.trunc(q.fromMs)}ms AND time <= ${Math.trunc(q.toMs)}ms`;
  }

  #where(q: HistoryQuery): string {
    if (DEVICE_TAG_KINDS.has(q.kind)) return `${ident('device')} = ${literal(q.deviceId)} AND ${this.#timeRange(q)}`;
    // The mass kinds keep deviceId as a field: the gateway tag narrows the scan to ~100 devices' series.
    const gateway = q.gatewayId ? `${ident('gateway')} = ${literal(q.gatewayId)} AND ` : '';
    return `${gateway}${ident('deviceId')} = ${literal(q.deviceId)} AND ${this.#timeRange(q)}`;
  }

  #point(row: Record<string, unknown> & { time: number }, fields: readonly HistoryField[]): HistoryPoint {
    const values: HistoryPoint['values'] = {};
    for (const f of fields) if (typeof row[f] === 'number') values[f] = row[f] as number;
    // Tokens sorted and once each, as the local store keeps them.
    return typeof row.status === 'string' && row.status !== '' ? { atMs: row.time, values, status: [...new Set(row.status.split(','))].sort() } : { atMs: row.time, values };
  }

  #at(points: Map<number, HistoryPoint>, time: number): HistoryPoint {
    let point = points.get(time);
    if (!point) points.set(time, (point = { atMs: time, values: {} }));
    return point;
  }

  #sorted(points: Map<number, HistoryPoint>): HistoryPoint[] {
    return [...points.values()].sort((a, b) => a.atMs - b.atMs);
  }

  /** Runs the statements in one request; each result as rows of column → value. */
  async #run(statements: string[]): Promise<Array<Array<Record<string, unknown> & { time: number }>>> {
    const { url, database, username, password, requestTimeoutMs = 10_000 } = this.#options;
    const params = new URLSearchParams({ db: database, epoch: 'ms', q: statements.join('; ') });
    const headers: Record<string, string> = {};
    if (username) headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    let body: QueryBody;
    try {
      const res = await fetch(`${url.replace(/\/+$/, '')}/query?${params}`, { headers, signal: AbortSignal.timeout(requestTimeoutMs) });
      const text = await res.text();
      if (!res.ok) throw new Error(`InfluxDB answered ${res.status}: ${text.slice(0, 300)}`);
      body = JSON.parse(text) as QueryBody;
      if (body.error) throw new Error(`InfluxDB: ${body.error}`);
    } catch (err) {
      this.#log.error({ err, url }, 'Readings history query failed');
      throw new HistoryUnavailableError('The readings history (InfluxDB) did not answer; try again later', { cause: err });
    }
    return statements.map((_, i) => {
      const result = body.results?.find((r) => (r.statement_id ?? 0) === i);
      // Nothing written yet to this database is an empty history, not a failure.
      if (result?.error && !/database not found/.test(result.error)) {
        this.#log.error({ error: result.error, statement: statements[i] }, 'Readings history query refused');
        throw new HistoryUnavailableError('The readings history (InfluxDB) refused the query');
      }
      const rows: Array<Record<string, unknown> & { time: number }> = [];
      for (const s of result?.series ?? []) for (const v of s.values) rows.push(Object.fromEntries(s.columns.map((c, j) => [c, v[j]])) as Record<string, unknown> & { time: number });
      return rows;
    });
  }
}
