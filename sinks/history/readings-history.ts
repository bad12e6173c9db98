import type { DeviceKind } from '../../contracts/messages.ts';
import type { HistoryField } from './fields.ts';

/** One point of a device's history: one reading, or several merged by the rules of fields.ts. */
export interface HistoryPoint {
  /** Device time: of the reading, of the newest reading merged in, or the start of a query bucket. */
  atMs: number;
  values: Partial<Record<HistoryField, number>>;
  status?: readonly string[];
}

export interface HistoryQuery {
  deviceId: string;
  kind: DeviceKind;
  /** The device's gateway as the registry names it: narrows an InfluxDB query to its series. */
  gatewayId?: string;
  fromMs: number;
  toMs: number;
  /** Most points in the answer; more are merged into equal buckets of time. */
  limit: number;
}

export interface HistoryAnswer {
  source: 'local' | 'influxdb';
  /** null: every stored point in the range; else the points are buckets this wide, aligned to the epoch. */
  bucketMs: number | null;
  points: HistoryPoint[];
}

/** Where `GET /devices/:id/readings` reads from: the local store or InfluxDB. */
export interface ReadingsHistory {
  query(q: HistoryQuery): Promise<HistoryAnswer>;
  /** The kind of a device the history holds, for devices neither the registry nor the processors know. */
  kindOf?(deviceId: string): DeviceKind | undefined;
}

/**
 * The bucket width that puts [fromMs, toMs] into at most `limit` epoch-aligned buckets, in whole
 * seconds (InfluxQL's GROUP BY time() aligns the same way).
 */
export function bucketMsFor(fromMs: number, toMs: number, limit: number): number {
  const raw = Math.ceil((toMs - fromMs) / Math.max(1, limit - 1));
  return Math.max(1000, Math.ceil(raw / 1000) * 1000);
}
