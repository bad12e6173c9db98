import { Type, type Static } from '@sinclair/typebox';
import { DEVICE_KINDS, type DeviceKind, type Reading } from './messages.ts';

/** A calendar date or an ISO time (flow-meter service dates): `2026-09-01` or `2026-09-01T08:00:00Z`. */
const DATE_OR_TIME = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,3})?)?(Z|[+-]\\d{2}:\\d{2}))?$';

const Id = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$', description: '1-64 characters of A-Z a-z 0-9 _ . -' });

/**
 * A device registry record: the facts about a device that do not travel in its readings. The same
 * field names in the registry file, in `PUT /api/v1/devices/{deviceId}` and in its `GET`.
 * Unknown fields are kept and returned.
 */
export const DeviceRecordSchema = Type.Object(
  {
    deviceId: Id,
    kind: Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k))),
    vendor: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. meihua, qianfeng' })),
    model: Type.Optional(Type.String({ maxLength: 64, description: 'e.g. MHCG-G; selects model defaults' })),
    gatewayId: Type.Optional(Id),
    district: Type.Optional(Type.String({ maxLength: 128 })),
    address: Type.Optional(Type.String({ maxLength: 512 })),
    customer: Type.Optional(Type.String({ maxLength: 256 })),
    lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90, description: 'latitude, degrees, in the coordinate system of settings map.registryCrs (WGS-84 by default, or GCJ-02); given with lon' })),
    lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180, description: 'longitude, degrees, same system as lat; given with lat' })),
    qmaxM3h: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'meter range maximum, m³/h' })),
    qminM3h: Type.Optional(Type.Number({ minimum: 0, description: 'meter range minimum, m³/h' })),
    l1LelPct: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'first-level gas alarm set point, %LEL (default 25)' })),
    l2LelPct: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 100, description: 'second-level gas alarm set point, %LEL (default 50)' })),
    reportIntervalS: Type.Optional(Type.Integer({ minimum: 1, maximum: 31 * 86400, description: 'expected reporting interval, s' })),
    valveId: Type.Optional(Id),
    lowBatteryV: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 60, description: 'battery threshold under which LOW_BATTERY is raised, V' })),
    reportAt: Type.Optional(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: "daily report slot, local HH:MM (NB-IoT meters); NO_SIGNAL allows the slot plus the window" })),
    reportWindowMin: Type.Optional(Type.Integer({ minimum: 0, maximum: 1439, description: 'randomised report window and retries after the slot, minutes' })),
    reportTz: Type.Optional(Type.String({ maxLength: 64, pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$', description: 'IANA time zone of the slot (default Asia/Shanghai)' })),
    installedAt: Type.Optional(Type.String({ pattern: DATE_OR_TIME, description: 'flow meter: installation date (YYYY-MM-DD or ISO time); first service is due an interval after it' })),
    lastServiceAt: Type.Optional(Type.String({ pattern: DATE_OR_TIME, description: 'flow meter: last lubrication service (YYYY-MM-DD or ISO time); the resolve of its MAINTENANCE_DUE ticket records it' })),
    serviceIntervalDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3660, description: 'flow meter: days between lubrication services (default 75: every 2-3 months, repair manual 000:448)' })),
    alarmConfirmRule: Type.Optional(Type.Union([Type.Literal('single'), Type.Literal('two-detector')], { description: "alarm controller: 'two-detector' raises the controller alarm only when two channels exceed the set point (GB 16808-2025)" })),
  },
  { additionalProperties: true },
);

export type DeviceRecord = Static<typeof DeviceRecordSchema> & Record<string, unknown>;

/** Read access to the registry, as the processors and the API see it. */
export interface DeviceRecords {
  get(deviceId: string): DeviceRecord | undefined;
  records(): IterableIterator<DeviceRecord>;
  onChange(listener: (deviceId: string) => void): void;
}

/** What the processors know of a device now, as the API shows it. */
export interface DeviceStatus {
  kind: DeviceKind;
  registered: boolean;
  lastReading?: Reading;
  /** Pipeline time the device was last heard of. */
  lastSeenAtMs?: number;
}

export interface DeviceStatusView {
  statusOf(deviceId: string): DeviceStatus | undefined;
}
