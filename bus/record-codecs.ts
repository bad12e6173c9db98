import type { Message } from 'kafkajs';
import type { Reading } from '../contracts/messages.ts';
import { COMPACT_READINGS_FORMAT, CompactReadingsWriter, readCompactReadings } from './compact-readings.ts';

/** How a channel's messages become Kafka records and back. */
export interface RecordCodec<T> {
  /** The records for these messages, in order; a record names its partition or carries a key. */
  encode(messages: readonly T[]): Message[];
  /** Appends the messages one record carries to `into`; returns how many. Throws on a record it cannot read. */
  decode(value: Buffer, into: T[]): number;
}

/** One message per record, JSON, keyed so that one key's messages stay in order on one partition. */
export function jsonRecords<T>(keyOf: (message: T) => string | undefined): RecordCodec<T> {
  return {
    encode: (messages) => messages.map((m) => ({ key: keyOf(m) ?? null, value: JSON.stringify(m) })),
    decode(value, into) {
      into.push(JSON.parse(value.toString('utf8')) as T);
      return 1;
    },
  };
}

/** The header of a readings record that may hold a gas alarm: its partition is worked on first (`ConsumeOptions.urgentFirst`). */
export const URGENT_HEADER = 'urgent';
const URGENT_HEADERS = { [URGENT_HEADER]: '1' };

/**
 * Readings grouped per partition (by the device's placement key), in their published order within
 * each partition, so per-device order and a gas alarm's place beside its valve hold. A record is
 * the readings of one publish (ingest: one MQTT message) that belong in one partition, in the
 * compact binary form of `compact-readings.ts`: one record and one decode per partition instead
 * of one per reading. A record whose readings `mayBeUrgent` says may raise a gas alarm carries
 * URGENT_HEADER. Records written before the compact form (a JSON array, or one reading's JSON)
 * are still read.
 */
export function readingRecords(partitionOfDevice: (deviceId: string) => number, mayBeUrgent?: (readings: readonly Reading[]) => boolean): RecordCodec<Reading> {
  const writer = new CompactReadingsWriter();
  return {
    encode(readings) {
      const byPartition = new Map<number, Reading[]>();
      for (const r of readings) {
        const partition = partitionOfDevice(r.deviceId);
        const list = byPartition.get(partition);
        if (list === undefined) byPartition.set(partition, [r]);
        else list.push(r);
      }
      const records: Message[] = [];
      for (const [partition, list] of byPartition) {
        const value = writer.write(list) ?? JSON.stringify(list);
        records.push(mayBeUrgent?.(list) ? { partition, key: null, value, headers: URGENT_HEADERS } : { partition, key: null, value });
      }
      return records;
    },
    decode(value, into) {
      if (value[0] === COMPACT_READINGS_FORMAT) return readCompactReadings(value, into);
      const parsed = JSON.parse(value.toString('utf8')) as Reading[] | Reading;
      // A lone reading: a record written before readings were batched.
      if (!Array.isArray(parsed)) {
        into.push(parsed);
        return 1;
      }
      for (const r of parsed) into.push(r);
      return parsed.length;
    },
  };
}

/**
 * The readings records of one produce request, those of a partition joined into one record where
 * they are compact (their segments back to back, in order; marked urgent if any of them was), so
 * that Kafka and each consumer handle one record per partition per request instead of one per
 * MQTT message: at one reading per message that was a record, and kafkajs's per-record encoding,
 * per reading. A record that is not compact (JSON) stays as it is and ends its partition's join,
 * so a partition's records keep their order.
 */
export function joinReadingRecords(records: Message[]): Message[] {
  if (records.length < 2) return records;
  const out: Message[] = [];
  const joins: Array<{ at: number; partition: number; parts: Buffer[]; urgent: boolean }> = [];
  const open = new Map<number, (typeof joins)[number]>();
  for (const record of records) {
    const { partition, value } = record;
    const compact = partition !== undefined && Buffer.isBuffer(value) && value[0] === COMPACT_READINGS_FORMAT && record.key == null;
    if (!compact) {
      if (partition !== undefined) open.delete(partition);
      out.push(record);
      continue;
    }
    const urgent = record.headers?.[URGENT_HEADER] !== undefined;
    const joined = open.get(partition);
    if (joined === undefined) {
      const join = { at: out.length, partition, parts: [value], urgent };
      joins.push(join);
      open.set(partition, join);
      out.push(record);
    } else {
      joined.parts.push(value);
      joined.urgent ||= urgent;
    }
  }
  for (const { at, partition, parts, urgent } of joins) {
    if (parts.length === 1) continue;
    const value = Buffer.concat(parts);
    out[at] = urgent ? { partition, key: null, value, headers: URGENT_HEADERS } : { partition, key: null, value };
  }
  return out;
}
