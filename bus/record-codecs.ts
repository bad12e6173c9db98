import type { Message } from 'kafkajs';
import type { Reading } from '../contracts/messages.ts';

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

/**
 * A record of readings: those of one published batch that belong in one partition, with the fields
 * every reading of an uplink shares written once. Ingest publishes the readings of one MQTT
 * message, so one record per partition instead of one per reading, and one parse per record.
 */
interface ReadingsRecord {
  /** Format version; a record without it is a lone Reading (the format before batching). */
  v: 1;
  gatewayId: string;
  receivedAtMs: number;
  readings: Array<Omit<Reading, 'gatewayId' | 'receivedAtMs'>>;
}

/**
 * Readings grouped per partition (by the device's placement key), in their published order within
 * each partition, so per-device order and a gas alarm's place beside its valve hold.
 */
export function readingRecords(partitionOfDevice: (deviceId: string) => number): RecordCodec<Reading> {
  return {
    encode(readings) {
      // Records open per (partition, gateway, arrival): ingest's batches share the last two.
      const open = new Map<string, ReadingsRecord & { partition: number }>();
      const records: Array<ReadingsRecord & { partition: number }> = [];
      for (const r of readings) {
        const partition = partitionOfDevice(r.deviceId);
        const group = `${partition}\u0000${r.gatewayId}\u0000${r.receivedAtMs}`;
        let record = open.get(group);
        if (record === undefined) {
          record = { v: 1, gatewayId: r.gatewayId, receivedAtMs: r.receivedAtMs, readings: [], partition };
          open.set(group, record);
          records.push(record);
        }
        const { gatewayId: _g, receivedAtMs: _r, ...rest } = r;
        record.readings.push(rest);
      }
      return records.map(({ partition, ...record }) => ({ partition, key: null, value: JSON.stringify(record) }));
    },
    decode(value, into) {
      const parsed = JSON.parse(value.toString('utf8')) as ReadingsRecord | Reading;
      if (!('v' in parsed)) {
        into.push(parsed);
        return 1;
      }
      if (parsed.v !== 1 || !Array.isArray(parsed.readings)) throw new Error(`readings record of unknown format ${String(parsed.v)}`);
      const { gatewayId, receivedAtMs } = parsed;
      for (const r of parsed.readings as Reading[]) {
        r.gatewayId = gatewayId;
        r.receivedAtMs = receivedAtMs;
        into.push(r);
      }
      return parsed.readings.length;
    },
  };
}
