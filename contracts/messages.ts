/**
 * The messages that travel between the pipeline's stages. A stage knows these types and the
 * bus, never another stage's insides: ingest → (Reading) → processors → (AlertEvent) → alerts.
 */

export const DEVICE_KINDS = [
  'household_meter',
  'industrial_controller',
  'flow_meter',
  'home_gas_alarm',
  'alarm_controller',
] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export type ValveState = 'open' | 'closed';

/** One channel of an industrial gas-alarm controller. `lelPct` is null while the detector shows `--F`. */
export interface DetectorChannel {
  channel: number | string;
  lelPct: number | null;
  status?: string | string[];
}

/**
 * One validated device reading, as decoded from a v1 batch. Field names are the wire names;
 * ingest adds `atMs`, `gatewayId` and `receivedAtMs` once so that no later stage parses dates.
 */
export interface Reading {
  deviceId: string;
  kind: DeviceKind;
  /** ISO-8601 time the device measured, as sent. */
  at: string;
  /** `at` as epoch milliseconds: every detector evaluates on device time. */
  atMs: number;
  /** The gateway whose batch carried this reading. */
  gatewayId: string;
  /** Pipeline clock when the batch arrived, epoch ms. */
  receivedAtMs: number;
  /** Tokens the device shows on its display or lamps, as shown (e.g. `["故障", "关阀", "ERR-4"]`). */
  status?: string[];

  vendor?: string;
  volumeM3?: number;
  balanceM3?: number;
  batteryV?: number;
  valve?: ValveState;

  externalPowerV?: number;
  flowMeterId?: string;
  flowMeterVolumeM3?: number;

  flowM3h?: number;
  temperatureC?: number;
  pressureKPa?: number;

  lelPct?: number;
  lamps?: { power?: boolean; fault?: boolean; alarm?: boolean };
  buzzer?: 'off' | 'continuous' | 'intermittent';

  mainPowerV?: number;
  mainLoadPct?: number;
  backupV?: number;
  backup?: 'ok' | 'undervoltage' | 'open_circuit';
  detectors?: DetectorChannel[];
}

/** A gateway's retained online flag (`gas/v1/{gatewayId}/status`), also its MQTT last will. */
export interface GatewayStatus {
  gatewayId: string;
  online: boolean;
  receivedAtMs: number;
}

export const CONDITIONS = [
  'ERR-1',
  'ERR-2',
  'ERR-3',
  'ERR-4',
  'ERR-5',
  'ERR-6',
  'ERR-7',
  'DEVICE_FAULT',
  'LOW_BATTERY',
  'VALVE_CLOSED_LOW_BATTERY',
  'LOW_BALANCE',
  'NO_BALANCE',
  'OVERLOAD',
  'SELF_METERING',
  'COUNT_MISMATCH',
  'GAS_ALARM_L1',
  'GAS_ALARM_L2',
  'VALVE_NOT_CUT',
  'SENSOR_FAULT',
  'POWER_LOST',
  'MAIN_POWER_UNDERVOLTAGE',
  'BACKUP_UNDERVOLTAGE',
  'BACKUP_OPEN_CIRCUIT',
  'DETECTOR_OFFLINE',
  'NO_SIGNAL',
  'GATEWAY_OFFLINE',
  'TAMPER',
  'MAINTENANCE_DUE',
] as const;
export type Condition = (typeof CONDITIONS)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What an alert is about: one device, or one gateway (GATEWAY_OFFLINE). */
export type AlertSubject = 'device' | 'gateway';

/**
 * A raise or clear edge for one condition on one device or gateway, produced by the processors.
 * Handling is idempotent by `(subjectId, condition, type, atMs)`: a redelivered event changes nothing.
 */
export interface AlertEvent {
  type: 'raise' | 'clear';
  subject: AlertSubject;
  /** deviceId, or gatewayId when `subject` is `gateway`. */
  subjectId: string;
  gatewayId: string;
  /** The device's kind (absent for gateway alerts); selects the manual's kind-specific cause and remedy. */
  kind?: DeviceKind;
  vendor?: string;
  condition: Condition;
  severity: Severity;
  /** Device time of the reading (or pipeline time of the silence) that caused the edge, epoch ms. */
  atMs: number;
  /** Facts behind the edge: the value and set point, the channels, the devices behind a gateway. */
  detail?: Record<string, unknown>;
  /** The device is not in the registry and was judged on its kind's defaults. */
  unregistered?: boolean;
  /**
   * A historical alert: found in a late reading judged in event time (processors/late-readings.ts),
   * its raise and clear both at the device's own times and both marked.
   */
  late?: true;
  /** How long after its device time the reading behind the edge was delivered, ms: on historical alerts, and on edges from readings delivered late. */
  delayMs?: number;
}

/**
 * Why ingest refused a message or one reading; the `reason` of `gas_ingest_rejects_total`.
 * `too_deep` and `unsafe_text` are the edge's text and structure rules (see safe-json.ts): a
 * reading nested too deep, or holding NUL, a lone surrogate or a control character, is refused
 * alone and the rest of its batch goes on.
 */
export const REJECT_REASONS = [
  'not_json',
  'bad_shape',
  'gateway_mismatch',
  'oversize',
  'too_many_readings',
  'bad_topic',
  'bad_reading',
  'unknown_kind',
  'timestamp_out_of_range',
  'too_deep',
  'unsafe_text',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/**
 * Why a store set a record aside rather than let it stop the rest (alerts/store/dead-letters.ts):
 * listed with the edge's dead letters.
 */
export type StoreRejectReason = 'ticket_sanitised' | 'ticket_rejected' | 'journal_record_corrupt';

/** A message or reading refused at the edge, kept with its reason in the bounded dead-letter log. */
export interface DeadLetter {
  reason: RejectReason | StoreRejectReason;
  /** Human-readable detail: which field, which rule. */
  message: string;
  topic: string;
  gatewayId?: string;
  deviceId?: string;
  /** The offending payload, truncated for storage. */
  payload: string;
  receivedAtMs: number;
}
