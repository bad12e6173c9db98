import type { DetectorChannel, DeviceKind, Reading } from '../contracts/messages.ts';
import { DEVICE_KINDS } from '../contracts/messages.ts';

/**
 * The readings records' binary form: what one record of the readings topic carries, written by
 * ingest and read by every processor and by the history, so that no hop parses or prints JSON.
 * JSON was 13 % of ingest's CPU (stringify) and 15 % of each consumer's (parse) at 50k readings/s.
 *
 *   u8 FORMAT · u16 texts · texts × u32 length (UTF-16 units) · u32 bytes · the texts as one
 *   UTF-8 run · u16 readings · readings
 *   reading: u32 fields · deviceId · u8 kind · at · f64 atMs · gatewayId · f64 receivedAtMs · the
 *            optional fields that `fields` flags: status, vendor, valve, flowMeterId, lamps,
 *            buzzer, backup, then NUMBER_FIELDS in their order, then the controller's channels
 *
 * Every text (device, gateway, time, vendor, status token) is a u16 index into the record's
 * texts, each written once and all decoded in one call (a call per text cost more than the rest of
 * the decoding): a record's readings mostly share their gateway, time, vendors and status tokens.
 * Numbers are float64, exactly as the edge accepted them.
 * A reading this layout cannot hold as it is (a field the v1 schema does not name — the wire format
 * keeps unknown fields —, a value of another type) is written whole as its JSON text instead
 * (`fields` = AS_JSON): rare, and lossless either way. All integers little-endian.
 *
 * A record may hold several such segments back to back, each from its FORMAT byte: the bus's
 * publisher joins the records of one partition that go in one produce request (`joinReadingRecords`).
 */
export const COMPACT_READINGS_FORMAT = 0x01;

const AS_JSON = 0x8000_0000;

// The optional fields' bits in `fields` (the order they are written in is the header's).
const STATUS = 1 << 0;
const VENDOR = 1 << 1;
const VOLUME = 1 << 2;
const BALANCE = 1 << 3;
const BATTERY = 1 << 4;
const VALVE = 1 << 5;
const EXTERNAL_POWER = 1 << 6;
const FLOW_METER_ID = 1 << 7;
const FLOW_METER_VOLUME = 1 << 8;
const FLOW = 1 << 9;
const TEMPERATURE = 1 << 10;
const PRESSURE = 1 << 11;
const LEL = 1 << 12;
const LAMPS = 1 << 13;
const BUZZER = 1 << 14;
const MAIN_POWER = 1 << 15;
const MAIN_LOAD = 1 << 16;
const BACKUP_V = 1 << 17;
const BACKUP = 1 << 18;
const DETECTORS = 1 << 19;

const NUMBER_FIELDS = [
  ['volumeM3', VOLUME], ['balanceM3', BALANCE], ['batteryV', BATTERY], ['externalPowerV', EXTERNAL_POWER],
  ['flowMeterVolumeM3', FLOW_METER_VOLUME], ['flowM3h', FLOW], ['temperatureC', TEMPERATURE], ['pressureKPa', PRESSURE],
  ['lelPct', LEL], ['mainPowerV', MAIN_POWER], ['mainLoadPct', MAIN_LOAD], ['backupV', BACKUP_V],
] as const;

const KIND_CODE = new Map<string, number>(DEVICE_KINDS.map((kind, i) => [kind, i]));
const VALVES = ['open', 'closed'] as const;
const BUZZERS = ['off', 'continuous', 'intermittent'] as const;
const BACKUPS = ['ok', 'undervoltage', 'open_circuit'] as const;
const codeOf = (values: readonly string[]) => new Map<string, number>(values.map((v, i) => [v, i]));
const VALVE_CODE = codeOf(VALVES);
const BUZZER_CODE = codeOf(BUZZERS);
const BACKUP_CODE = codeOf(BACKUPS);

// Lamps: two bits per lamp, "reported" and "lit".
const LAMP_KEYS = ['power', 'fault', 'alarm'] as const;

// A detector channel: u8 flags, then the channel (f64 or string), lelPct unless null, status.
const CHANNEL_IS_TEXT = 1;
const LEL_NULL = 2;
const STATUS_TEXT = 4;
const STATUS_LIST = 8;

const MAX_COUNT = 0xffff;

export class CompactReadingsError extends Error {
  readonly code = 'GAS_COMPACT_READINGS_CORRUPT';
  override name = 'CompactReadingsError';
}

/**
 * Writes readings into compact records. One writer per producing stage: it keeps a scratch
 * buffer that grows to the largest record written, so a record costs one allocation, its own.
 */
export class CompactReadingsWriter {
  #scratch = Buffer.allocUnsafe(64 * 1024);
  #view = new DataView(this.#scratch.buffer, this.#scratch.byteOffset, this.#scratch.byteLength);
  #at = 0;
  readonly #strings = new Map<string, number>();
  readonly #texts: string[] = [];

  /**
   * The record for these readings, or undefined when they do not fit its u16 counts (more than
   * 65,535 readings or distinct texts; an MQTT message holds at most 5,000 readings, each a few texts).
   */
  write(readings: readonly Reading[]): Buffer | undefined {
    if (readings.length > MAX_COUNT) return undefined;
    this.#at = 0;
    this.#strings.clear();
    this.#texts.length = 0;
    for (let i = 0; i < readings.length; i++) {
      this.#reading(readings[i]!);
      if (this.#texts.length > MAX_COUNT) return undefined;
    }
    const texts = this.#texts;
    const all = texts.join('');
    const bytes = Buffer.byteLength(all, 'utf8');
    const out = Buffer.allocUnsafe(1 + 2 + 4 * texts.length + 4 + bytes + 2 + this.#at);
    out[0] = COMPACT_READINGS_FORMAT;
    out.writeUInt16LE(texts.length, 1);
    let at = 3;
    for (let i = 0; i < texts.length; i++, at += 4) out.writeUInt32LE(texts[i]!.length, at);
    out.writeUInt32LE(bytes, at);
    out.write(all, at + 4, 'utf8');
    at += 4 + bytes;
    out.writeUInt16LE(readings.length, at);
    this.#scratch.copy(out, at + 2, 0, this.#at);
    return out;
  }

  #reading(r: Reading): void {
    this.#room(512);
    const fields = this.#fieldsOf(r);
    if (fields === AS_JSON) {
      this.#u32(AS_JSON);
      this.#text(JSON.stringify(r));
      return;
    }
    this.#u32(fields);
    // A device is in a record once (rarely twice): its id skips the look-up that shared texts need.
    this.#u16(this.#texts.push(r.deviceId) - 1);
    this.#u8(KIND_CODE.get(r.kind)!);
    this.#text(r.at);
    this.#f64(r.atMs);
    this.#text(r.gatewayId);
    this.#f64(r.receivedAtMs);
    if (fields & STATUS) this.#list(r.status!);
    if (fields & VENDOR) this.#text(r.vendor!);
    if (fields & VALVE) this.#u8(VALVE_CODE.get(r.valve!)!);
    if (fields & FLOW_METER_ID) this.#text(r.flowMeterId!);
    if (fields & LAMPS) {
      const lamps = r.lamps!;
      let bits = 0;
      for (let i = 0; i < 3; i++) {
        const lit = lamps[LAMP_KEYS[i]!];
        if (lit !== undefined) bits |= (lit ? 3 : 1) << (2 * i);
      }
      this.#u8(bits);
    }
    if (fields & BUZZER) this.#u8(BUZZER_CODE.get(r.buzzer!)!);
    if (fields & BACKUP) this.#u8(BACKUP_CODE.get(r.backup!)!);
    for (let i = 0; i < NUMBER_FIELDS.length; i++) {
      const [key, bit] = NUMBER_FIELDS[i]!;
      if (fields & bit) this.#f64(r[key]!);
    }
    if (fields & DETECTORS) {
      const channels = r.detectors!;
      this.#u16(channels.length);
      for (let i = 0; i < channels.length; i++) {
        this.#room(64);
        const c = channels[i]!;
        const flags = (typeof c.channel === 'string' ? CHANNEL_IS_TEXT : 0) | (c.lelPct === null ? LEL_NULL : 0)
          | (typeof c.status === 'string' ? STATUS_TEXT : c.status !== undefined ? STATUS_LIST : 0);
        this.#u8(flags);
        if (flags & CHANNEL_IS_TEXT) this.#text(c.channel as string);
        else this.#f64(c.channel as number);
        if (!(flags & LEL_NULL)) this.#f64(c.lelPct!);
        if (flags & STATUS_TEXT) this.#text(c.status as string);
        else if (flags & STATUS_LIST) this.#list(c.status as string[]);
      }
    }
  }

  /** The optional fields present, or AS_JSON when any key or value is outside the layout. */
  #fieldsOf(r: Reading): number {
    if (typeof r.deviceId !== 'string' || !KIND_CODE.has(r.kind) || typeof r.at !== 'string' || typeof r.atMs !== 'number'
      || typeof r.gatewayId !== 'string' || typeof r.receivedAtMs !== 'number') return AS_JSON;
    let fields = 0;
    let keys = 6;
    for (let i = 0; i < CHECKED_FIELDS.length; i++) {
      const [key, bit, holds] = CHECKED_FIELDS[i]!;
      const value = r[key];
      if (value === undefined) continue;
      if (!holds(value)) return AS_JSON;
      fields |= bit;
      keys++;
    }
    for (let i = 0; i < NUMBER_FIELDS.length; i++) {
      const [key, bit] = NUMBER_FIELDS[i]!;
      const value = r[key];
      if (value === undefined) continue;
      if (typeof value !== 'number') return AS_JSON;
      fields |= bit;
      keys++;
    }
    // Any other key with a value (one left undefined JSON drops too) sends the reading as JSON.
    let present = 0;
    for (const key in r) if ((r as unknown as Record<string, unknown>)[key] !== undefined) present++;
    return present === keys ? fields : AS_JSON;
  }

  #room(bytes: number): void {
    if (this.#at + bytes <= this.#scratch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#scratch.length * 2, this.#at + bytes));
    this.#scratch.copy(bigger, 0, 0, this.#at);
    this.#scratch = bigger;
    this.#view = new DataView(bigger.buffer, bigger.byteOffset, bigger.byteLength);
  }

  #u8(value: number): void {
    this.#scratch[this.#at++] = value;
  }

  #u16(value: number): void {
    this.#view.setUint16(this.#at, value, true);
    this.#at += 2;
  }

  #u32(value: number): void {
    this.#view.setUint32(this.#at, value, true);
    this.#at += 4;
  }

  #f64(value: number): void {
    this.#view.setFloat64(this.#at, value, true);
    this.#at += 8;
  }

  #text(value: string): void {
    let index = this.#strings.get(value);
    if (index === undefined) {
      index = this.#texts.length;
      this.#texts.push(value);
      this.#strings.set(value, index);
    }
    this.#u16(index);
  }

  #list(values: readonly string[]): void {
    this.#room(1 + 2 * values.length);
    this.#u8(values.length);
    for (let i = 0; i < values.length; i++) this.#text(values[i]!);
  }
}

const isText = (value: unknown): boolean => typeof value === 'string';
const isChannelList = (value: unknown): boolean => Array.isArray(value) && value.length <= 0xffff && value.every(isChannel);

/** The optional fields other than numbers, each with what its value must be for this layout to hold it. */
const CHECKED_FIELDS: ReadonlyArray<readonly [keyof Reading, number, (value: unknown) => boolean]> = [
  ['status', STATUS, (value) => isTextList(value)],
  ['vendor', VENDOR, isText],
  ['valve', VALVE, (value) => VALVE_CODE.has(value as string)],
  ['flowMeterId', FLOW_METER_ID, isText],
  ['lamps', LAMPS, (value) => isLamps(value)],
  ['buzzer', BUZZER, (value) => BUZZER_CODE.has(value as string)],
  ['backup', BACKUP, (value) => BACKUP_CODE.has(value as string)],
  ['detectors', DETECTORS, isChannelList],
];

const isTextList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.length <= 0xff && value.every((v) => typeof v === 'string');

function isLamps(value: unknown): value is NonNullable<Reading['lamps']> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  for (const key in value) {
    const lit = (value as Record<string, unknown>)[key];
    if ((key !== 'power' && key !== 'fault' && key !== 'alarm') || typeof lit !== 'boolean') return false;
  }
  return true;
}

function isChannel(value: unknown): value is DetectorChannel {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const c = value as Record<string, unknown>;
  for (const key in c) {
    if (key !== 'channel' && key !== 'lelPct' && key !== 'status') return false;
    if (c[key] === undefined) return false;
  }
  return (typeof c.channel === 'number' || typeof c.channel === 'string')
    && (typeof c.lelPct === 'number' || c.lelPct === null)
    && (c.status === undefined || typeof c.status === 'string' || isTextList(c.status));
}

/** A cursor over one record; DataView's own bounds checks catch a record that ends early. */
class RecordReader {
  readonly view: DataView;
  at = 0;
  texts: string[] = [];

  constructor(record: Buffer) {
    this.view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  }

  u8(): number {
    return this.view.getUint8(this.at++);
  }

  u16(): number {
    const value = this.view.getUint16(this.at, true);
    this.at += 2;
    return value;
  }

  u32(): number {
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }

  f64(): number {
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    return value;
  }

  text(): string {
    const value = this.texts[this.u16()];
    if (value === undefined) throw new CompactReadingsError(`compact readings record names text ${this.view.getUint16(this.at - 2, true)} of ${this.texts.length}`);
    return value;
  }

  list(): string[] {
    const n = this.u8();
    const values = new Array<string>(n);
    for (let i = 0; i < n; i++) values[i] = this.text();
    return values;
  }

  oneOf<T extends string>(values: readonly T[], what: string): T {
    const code = this.u8();
    if (code >= values.length) throw new CompactReadingsError(`compact readings record has ${what} code ${code}`);
    return values[code]!;
  }
}

/**
 * Appends the readings of a compact record to `into`; returns how many. Throws
 * CompactReadingsError on a record that ends early, names a text it does not hold, or has bytes
 * left over, and then appends nothing.
 */
export function readCompactReadings(record: Buffer, into: Reading[]): number {
  const reader = new RecordReader(record);
  const decoded: Reading[] = [];
  while (reader.at < record.length) {
    if (record[reader.at] !== COMPACT_READINGS_FORMAT) {
      throw new CompactReadingsError(`compact readings record has ${record.length - reader.at} bytes after its ${decoded.length} readings`);
    }
    reader.at++;
    try {
      readSegment(record, reader, decoded);
    } catch (err) {
      if (err instanceof RangeError) throw new CompactReadingsError(`compact readings record ends early (${record.length} bytes)`, { cause: err });
      throw err;
    }
  }
  for (let i = 0; i < decoded.length; i++) into.push(decoded[i]!);
  return decoded.length;
}

function readSegment(record: Buffer, reader: RecordReader, decoded: Reading[]): void {
  // The texts: their lengths in UTF-16 units, then all of them as one UTF-8 run, decoded at once.
  const count = reader.u16();
  const lengths = new Array<number>(count);
  for (let i = 0; i < count; i++) lengths[i] = reader.u32();
  const bytes = reader.u32();
  if (reader.at + bytes > record.length) throw new RangeError('texts past the end');
  const all = record.toString('utf8', reader.at, reader.at + bytes);
  reader.at += bytes;
  const texts = new Array<string>(count);
  let from = 0;
  for (let i = 0; i < count; i++) {
    texts[i] = all.slice(from, from + lengths[i]!);
    from += lengths[i]!;
  }
  if (from !== all.length) throw new CompactReadingsError(`compact readings record's texts hold ${all.length} characters, their lengths ${from}`);
  reader.texts = texts;

  const readings = reader.u16();
  for (let n = 0; n < readings; n++) {
    const fields = reader.u32();
    if (fields === AS_JSON) {
      decoded.push(JSON.parse(reader.text()) as Reading);
      continue;
    }
    const deviceId = reader.text();
    const kind = reader.oneOf<DeviceKind>(DEVICE_KINDS, 'kind');
    const r: Reading = { deviceId, kind, at: reader.text(), atMs: reader.f64(), gatewayId: reader.text(), receivedAtMs: reader.f64() };
    if (fields & STATUS) r.status = reader.list();
    if (fields & VENDOR) r.vendor = reader.text();
    if (fields & VALVE) r.valve = reader.oneOf(VALVES, 'valve');
    if (fields & FLOW_METER_ID) r.flowMeterId = reader.text();
    if (fields & LAMPS) {
      const bits = reader.u8();
      const lamps: NonNullable<Reading['lamps']> = {};
      for (let i = 0; i < 3; i++) if ((bits >> (2 * i)) & 1) lamps[LAMP_KEYS[i]!] = ((bits >> (2 * i + 1)) & 1) === 1;
      r.lamps = lamps;
    }
    if (fields & BUZZER) r.buzzer = reader.oneOf(BUZZERS, 'buzzer');
    if (fields & BACKUP) r.backup = reader.oneOf(BACKUPS, 'backup');
    for (let i = 0; i < NUMBER_FIELDS.length; i++) {
      const [key, bit] = NUMBER_FIELDS[i]!;
      if (fields & bit) r[key] = reader.f64();
    }
    if (fields & DETECTORS) {
      const channels = reader.u16();
      const detectors = new Array<DetectorChannel>(channels);
      for (let i = 0; i < channels; i++) {
        const flags = reader.u8();
        const channel = flags & CHANNEL_IS_TEXT ? reader.text() : reader.f64();
        const c: DetectorChannel = { channel, lelPct: flags & LEL_NULL ? null : reader.f64() };
        if (flags & STATUS_TEXT) c.status = reader.text();
        else if (flags & STATUS_LIST) c.status = reader.list();
        detectors[i] = c;
      }
      r.detectors = detectors;
    }
    decoded.push(r);
  }
}
