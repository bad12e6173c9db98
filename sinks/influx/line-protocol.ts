import type { AlertEvent, DeviceKind, Reading } from '../../contracts/messages.ts';

/**
 * Readings and alert edges as InfluxDB line protocol; the schema is described in README.md.
 * Each point is built by string concatenation only: no Point objects, arrays or tag maps per point.
 */

/** Kinds installed at industrial and commercial sites (thousands, not millions): `device` is a tag. */
export const DEVICE_TAG_KINDS: ReadonlySet<DeviceKind> = new Set<DeviceKind>(['industrial_controller', 'flow_meter', 'alarm_controller']);

export const DETECTOR_MEASUREMENT = 'gas_detector';
export const ALERT_MEASUREMENT = 'alert_events';
/** Tag value written when the registry knows no district for a device, so such devices stay visible. */
export const UNKNOWN_DISTRICT = 'unknown';

/** What the line builder may look up per point; both must be cheap (a Map lookup). */
export interface LineContext {
  /** The device's district from the registry. */
  districtOf?(deviceId: string): string | undefined;
  /**
   * Gas set points, written beside every concentration so the dashboards draw each device's own
   * L1/L2 lines: the registry's where it sets them (`of`, no allocation: the record itself), else `defaults`.
   */
  gasSetPoints?: {
    of(deviceId: string): { readonly l1LelPct?: number; readonly l2LelPct?: number } | undefined;
    defaults: { readonly l1LelPct: number; readonly l2LelPct: number };
  };
}

/** `,l1LelPct=…,l2LelPct=…` of a device, or nothing without set points in the context. */
function setPointFields(deviceId: string, ctx: LineContext): string {
  const sp = ctx.gasSetPoints;
  if (!sp) return '';
  const own = sp.of(deviceId);
  return ',l1LelPct=' + String(own?.l1LelPct ?? sp.defaults.l1LelPct) + ',l2LelPct=' + String(own?.l2LelPct ?? sp.defaults.l2LelPct);
}

const NUMBER_FIELDS = [
  'volumeM3',
  'balanceM3',
  'batteryV',
  'externalPowerV',
  'flowMeterVolumeM3',
  'flowM3h',
  'temperatureC',
  'pressureKPa',
  'lelPct',
  'mainPowerV',
  'mainLoadPct',
  'backupV',
] as const satisfies readonly (keyof Reading)[];

const STRING_FIELDS = ['vendor', 'valve', 'flowMeterId', 'buzzer', 'backup'] as const satisfies readonly (keyof Reading)[];

const TAG_SPECIAL = /[,= \\\n\r\t]/;
const STRING_SPECIAL = /["\\\n\r]/;

/** Escapes a tag key, tag value or field key: `,` `=` and space get a backslash; line breaks and tabs become escaped spaces. */
export function escapeTag(value: string): string {
  if (!TAG_SPECIAL.test(value)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === ',' || c === '=' || c === ' ') out += '\\' + c;
    else if (c === '\n' || c === '\r' || c === '\t') out += '\\ ';
    // Other backslashes stay as they are, as the official client writes them (1.x would keep a
    // doubled one doubled); only a trailing one is doubled, or it would escape the separator after it.
    else if (c === '\\' && i === value.length - 1) out += '\\\\';
    else out += c;
  }
  return out;
}

/** Quotes a string field value: `"` and `\` get a backslash; line breaks become spaces (servers split lines naively). */
export function quoteString(value: string): string {
  if (!STRING_SPECIAL.test(value)) return '"' + value + '"';
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' || c === '\\') out += '\\' + c;
    else if (c === '\n' || c === '\r') out += ' ';
    else out += c;
  }
  return out + '"';
}

/**
 * FNV-1a of the id, reduced to 0…999 999: the nanoseconds added to a point's millisecond time.
 * Several devices share one series (deviceId is a field), and InfluxDB keeps one point per series
 * and time, so without this two meters reporting in the same millisecond would overwrite each
 * other. The offset is a function of the id, so a redelivered reading overwrites itself (idempotent).
 */
export function subMillisecondOffset(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 1_000_000;
}

/** Nanosecond timestamp `atMs·10⁶ + offset` as a string (the product exceeds 2⁵³, so no arithmetic). */
export function nanoTimestamp(atMs: number, id: string): string {
  const offset = subMillisecondOffset(id);
  return String(Math.trunc(atMs)) + String(offset).padStart(6, '0');
}

function isWritableNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Appends `,key=value` pairs; the first field is written without the comma by the callers below. */
function numberField(fields: string, key: string, v: number): string {
  return (fields === '' ? '' : fields + ',') + key + '=' + String(v);
}

/**
 * The line(s) of one reading, appended to `out`: one line in the kind's measurement, plus one
 * `gas_detector` line per channel of an alarm controller. Returns how many lines were appended.
 * A reading without a finite `atMs` gives no lines (ingest rejects those already).
 */
export function appendReadingLines(reading: Reading, out: string[], ctx: LineContext = {}): number {
  if (!isWritableNumber(reading.atMs) || reading.atMs < 0) return 0;
  const district = escapeTag(ctx.districtOf?.(reading.deviceId) || UNKNOWN_DISTRICT);
  const gateway = escapeTag(reading.gatewayId || 'unknown');
  const deviceId = quoteString(reading.deviceId);
  const time = nanoTimestamp(reading.atMs, reading.deviceId);
  // Tags in lexical key order (device, district, gateway, kind): the order InfluxDB stores them in.
  const deviceTag = DEVICE_TAG_KINDS.has(reading.kind) ? ',device=' + escapeTag(reading.deviceId) : '';
  const tags = deviceTag + ',district=' + district + ',gateway=' + gateway + ',kind=' + reading.kind;

  let fields = 'deviceId=' + deviceId;
  for (const key of NUMBER_FIELDS) {
    const v = reading[key];
    if (isWritableNumber(v)) fields = numberField(fields, key, v);
  }
  for (const key of STRING_FIELDS) {
    const v = reading[key];
    if (typeof v === 'string') fields += ',' + key + '=' + quoteString(v);
  }
  if (reading.status && reading.status.length > 0) fields += ',status=' + quoteString(reading.status.join(','));
  const lamps = reading.lamps;
  if (lamps) {
    if (typeof lamps.power === 'boolean') fields += ',lampPower=' + lamps.power;
    if (typeof lamps.fault === 'boolean') fields += ',lampFault=' + lamps.fault;
    if (typeof lamps.alarm === 'boolean') fields += ',lampAlarm=' + lamps.alarm;
  }
  if (reading.detectors) fields += ',detectors=' + reading.detectors.length;
  if (reading.kind === 'home_gas_alarm' && isWritableNumber(reading.lelPct)) fields += setPointFields(reading.deviceId, ctx);
  out.push(reading.kind + tags + ' ' + fields + ' ' + time);
  let n = 1;

  if (reading.detectors) {
    const setPoints = setPointFields(reading.deviceId, ctx);
    for (const d of reading.detectors) {
      const channel = escapeTag(String(d.channel));
      if (channel === '') continue;
      let line = DETECTOR_MEASUREMENT + ',detector=' + channel + ',device=' + escapeTag(reading.deviceId) + ',district=' + district + ',gateway=' + gateway;
      line += ' deviceId=' + deviceId + ',sensorFault=' + (d.lelPct === null);
      if (isWritableNumber(d.lelPct)) line += ',lelPct=' + String(d.lelPct) + setPoints;
      if (d.status !== undefined) line += ',status=' + quoteString(typeof d.status === 'string' ? d.status : d.status.join(','));
      out.push(line + ' ' + time);
      n++;
    }
  }
  return n;
}

/** One `alert_events` line for a raise or clear edge, for Grafana annotations. */
export function alertEventLine(event: AlertEvent, ctx: LineContext = {}): string | undefined {
  if (!isWritableNumber(event.atMs) || event.atMs < 0) return undefined;
  const isDevice = event.subject === 'device';
  const district = isDevice ? ctx.districtOf?.(event.subjectId) : undefined;
  let line = ALERT_MEASUREMENT + ',condition=' + escapeTag(event.condition);
  line += ',district=' + escapeTag(district || UNKNOWN_DISTRICT);
  line += ',kind=' + escapeTag(event.kind ?? (isDevice ? 'unknown' : 'gateway'));
  line += ',severity=' + escapeTag(event.severity) + ',type=' + escapeTag(event.type);
  // `active` is the one numeric field: it lets engines that keep numbers only (VictoriaMetrics) count edges.
  line += ' active=' + (event.type === 'raise' ? '1' : '0');
  if (isDevice) line += ',deviceId=' + quoteString(event.subjectId);
  line += ',gatewayId=' + quoteString(event.gatewayId);
  line += ',text=' + quoteString(alertText(event));
  // Offset by subject and condition: many devices go silent in one millisecond (NO_SIGNAL behind a gateway).
  return line + ' ' + nanoTimestamp(event.atMs, event.subjectId + '\u0000' + event.condition);
}

const MAX_TEXT = 512;

function alertText(event: AlertEvent): string {
  let text = `${event.condition} ${event.type === 'raise' ? 'raised' : 'cleared'} on ${event.subject} ${event.subjectId}`;
  if (event.detail && Object.keys(event.detail).length > 0) {
    let detail: string;
    try {
      detail = JSON.stringify(event.detail);
    } catch {
      detail = '(detail not serialisable)';
    }
    text += ' ' + detail;
  }
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT - 1) + '…' : text;
}
