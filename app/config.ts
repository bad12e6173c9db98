import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { kafkaBusOptionsFromEnv, type KafkaBusOptionsInput } from '../bus/kafka-options.ts';
import { ConfigError } from './errors.ts';

/** One InfluxDB write target as configured; the writer fills in the rest and validates it at start. */
export interface InfluxWriterInput {
  url: string;
  target: 'v2' | 'v1';
  token?: string;
  org?: string;
  bucket?: string;
  database?: string;
  username?: string;
  password?: string;
}
import { DecoderOptionsSchema } from '../ingest/uplink-decoder.ts';
import { SilenceSettingsSchema } from '../processors/silence/silence-watch.ts';
import { FlapSettingsSchema } from '../processors/flapping.ts';
import { LateSettingsSchema } from '../processors/late-readings.ts';
import { CheckpointSettingsSchema } from '../processors/partition-checkpoints.ts';
import { MaintenanceSettingsSchema } from '../processors/maintenance/maintenance-watch.ts';
import { StreamLimitsSchema } from '../alerts/api/stream-slots.ts';
import { HistorySettingsSchema } from '../sinks/history/options.ts';
import { MapSettingsSchema } from '../registry/map-settings.ts';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

/** The optional JSON settings file (`CONFIG`): everything beyond the environment's few switches. */
export const SettingsFileSchema = Type.Object({
  detectors: Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), { default: {}, description: 'settings per detector name, see processors/detectors/*/README.md' }),
  silence: Type.Optional(Type.Partial(SilenceSettingsSchema)),
  flapping: Type.Optional(Type.Partial(FlapSettingsSchema, { description: 'flap detection over detector findings, see processors/FLAPPING.md' })),
  lateReadings: Type.Optional(Type.Partial(LateSettingsSchema, { description: 'late readings judged in event time as historical alerts, see processors/LATE-READINGS.md' })),
  maintenance: Type.Optional(Type.Partial(MaintenanceSettingsSchema, { description: 'MAINTENANCE_DUE for flow meters by the calendar, see processors/maintenance/README.md' })),
  ingest: Type.Optional(Type.Partial(DecoderOptionsSchema)),
  alerts: Type.Optional(Type.Object({
    historyLimit: Type.Optional(Type.Integer({ minimum: 100, description: 'cleared alerts kept for queries' })),
    fsync: Type.Optional(Type.Boolean({ description: 'fsync the alert journal on every write' })),
  })),
  deadLetters: Type.Optional(Type.Object({ capacity: Type.Optional(Type.Integer({ minimum: 10 })), maxFileBytes: Type.Optional(Type.Integer({ minimum: 1024 })) })),
  snapshotIntervalMs: Type.Optional(Type.Integer({ minimum: 1000, description: 'how often processor state is saved, ms' })),
  checkpoints: Type.Optional(Type.Partial(CheckpointSettingsSchema, { description: 'on Kafka: how often processors checkpoint their partitions\' device state, see processors/partition-checkpoints.ts' })),
  tickets: Type.Optional(Type.Unknown({ description: 'ticket settings, see alerts/tickets/options.ts' })),
  sla: Type.Optional(Type.Unknown({ description: 'SLA limits and escalation, see alerts/sla/sla-policy.ts' })),
  customerClocks: Type.Optional(Type.Unknown({ description: 'reply, completion and update-gap limits of 报修/投诉 tickets, see alerts/sla/customer-clocks.ts' })),
  reports: Type.Optional(Type.Unknown({ description: 'follow-up limit, recurring-fault threshold and monthly snapshot day, see alerts/tickets/reports.ts' })),
  slaCheckIntervalMs: Type.Optional(Type.Integer({ minimum: 100, description: 'how often SLA clocks are checked, ms' })),
  push: Type.Optional(Type.Unknown({ description: 'push channels and retry settings, see alerts/push/README.md' })),
  history: Type.Optional(Type.Partial(HistorySettingsSchema, { description: 'the local readings history behind GET /api/v1/devices/:id/readings, see sinks/history/README.md' })),
  map: Type.Optional(Type.Partial(MapSettingsSchema)),
  api: Type.Optional(Type.Object({
    streams: Type.Optional(Type.Partial(StreamLimitsSchema, { description: 'bounds on open live streams (SSE), see alerts/api/stream-slots.ts' })),
  }, { additionalProperties: false })),
}, { additionalProperties: false });
export type SettingsFile = Static<typeof SettingsFileSchema>;

export const ROLES = ['all', 'ingest', 'processor', 'alerts'] as const;
export type PipelineRole = (typeof ROLES)[number];

export interface PipelineConfig {
  /** Which stages this process runs: `all` (the embedded default) or one role of a scaled-out deployment. */
  role: PipelineRole;
  /** The Kafka bus (KAFKA_BROKERS and the other KAFKA_* variables); in-process when absent. */
  kafka?: KafkaBusOptionsInput;
  /**
   * Readings and alert edges to InfluxDB: a v2 write endpoint (INFLUX_URL, InfluxDB 2/3 or
   * VictoriaMetrics) and/or an InfluxDB 1.x (INFLUXQL_URL) whose InfluxQL serves the dashboards.
   */
  influx?: InfluxWriterInput[];
  mqttPort: number;
  mqttHost: string;
  /** An external broker; when set no embedded broker is started. */
  mqttUrl?: string;
  /** Ingest's MQTT client id: stable, so the broker keeps its session and queued QoS 1 messages across restarts. */
  mqttClientId: string;
  mqttUsername?: string;
  mqttPassword?: string;
  /** MQTT shared-subscription group, so several ingest instances split the gateways. */
  mqttSharedGroup?: string;
  /**
   * Per-gateway credentials for the embedded broker (`GATEWAY_CREDENTIALS`, lines
   * `gatewayId:password` or `gatewayId:scrypt$salt$hash`); the broker is open to anonymous clients without it.
   */
  gatewayCredentialsFile?: string;
  /** The embedded broker serves MQTT over TLS with this PEM certificate and key (`MQTT_TLS_CERT`, `MQTT_TLS_KEY`). */
  mqttTls?: TlsFiles;
  /** PEM CA bundle ingest trusts for an external `mqtts://` broker (`MQTT_CA`). */
  mqttCaFile?: string;
  /**
   * MQTT messages ingest works on at once (`MQTT_MAX_IN_FLIGHT`): 100 on Kafka, else 1 (the
   * in-process bus is no faster for it). An external broker's own limit per client bounds it too.
   */
  mqttMaxInFlight?: number;
  /** The HTTP API serves HTTPS with this PEM certificate and key (`HTTP_TLS_CERT`, `HTTP_TLS_KEY`). */
  httpTls?: TlsFiles;
  httpPort: number;
  httpHost: string;
  dataDir: string;
  registryFile?: string;
  /** PostgreSQL for tickets; PGlite under DATA_DIR when absent. */
  databaseUrl?: string;
  /** On-call configuration (people, teams, rotations) seeded at start. */
  oncallFile?: string;
  adminToken?: string;
  logLevel: string;
  settings: SettingsFile;
}

/** A certificate and its private key, PEM files; read at start. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

function readableFile(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const file = env[name];
  if (!file) return undefined;
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new ConfigError(`${name}=${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return file;
}

/** Both of a cert/key pair or neither: one alone is refused, not silently run without TLS. */
function tlsPair(env: NodeJS.ProcessEnv, certName: string, keyName: string): TlsFiles | undefined {
  const certFile = readableFile(env, certName);
  const keyFile = readableFile(env, keyName);
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError(`${certFile ? keyName : certName} is missing: TLS needs both ${certName} and ${keyName}`);
  return { certFile, keyFile };
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Value.Check(Port, n)) throw new ConfigError(`${name}=${raw} is not a TCP port (0-65535)`);
  return n;
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${name}=${raw} is not a positive integer`);
  return n;
}

export function parseSettings(raw: unknown, source: string): SettingsFile {
  const withDefaults = Value.Default(SettingsFileSchema, Value.Clone(raw ?? {}));
  const first = Value.Errors(SettingsFileSchema, withDefaults).First();
  if (first) throw new ConfigError(`${source}${first.path.replaceAll('/', '.')}: ${first.message}`);
  return withDefaults as SettingsFile;
}

/** Reads the environment once at start and refuses a bad value by name, before anything starts. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const mqttUrl = env.MQTT_URL || undefined;
  if (mqttUrl && !/^(mqtts?|wss?|tcp|tls):\/\//.test(mqttUrl)) throw new ConfigError(`MQTT_URL=${mqttUrl} is not an mqtt://, mqtts://, ws:// or wss:// URL`);
  let settings: SettingsFile = parseSettings({}, 'settings');
  if (env.CONFIG) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(env.CONFIG, 'utf8'));
    } catch (err) {
      throw new ConfigError(`CONFIG=${env.CONFIG} could not be read as JSON: ${(err as Error).message}`, { cause: err });
    }
    settings = parseSettings(raw, `CONFIG ${env.CONFIG}: `);
  }
  const role = (env.ROLE || 'all') as PipelineRole;
  if (!ROLES.includes(role)) throw new ConfigError(`ROLE=${env.ROLE} is not one of ${ROLES.join(', ')}`);
  const kafka = env.KAFKA_BROKERS ? kafkaBusOptionsFromEnv(env) : undefined;
  if (role !== 'all' && !kafka) throw new ConfigError(`ROLE=${role} runs one stage of a scaled-out deployment and needs KAFKA_BROKERS for the bus between stages`);
  if (role === 'ingest' && !mqttUrl) throw new ConfigError('ROLE=ingest needs MQTT_URL: the embedded broker runs only with ROLE=all');
  const gatewayCredentialsFile = readableFile(env, 'GATEWAY_CREDENTIALS');
  const mqttTls = tlsPair(env, 'MQTT_TLS_CERT', 'MQTT_TLS_KEY');
  if (mqttUrl && (gatewayCredentialsFile || mqttTls)) {
    throw new ConfigError(`${gatewayCredentialsFile ? 'GATEWAY_CREDENTIALS' : 'MQTT_TLS_CERT'} configures the embedded broker, which does not run with MQTT_URL: configure the external broker instead`);
  }
  const influx: InfluxWriterInput[] = [];
  if (env.INFLUX_URL) influx.push({ url: env.INFLUX_URL, target: 'v2', token: env.INFLUX_TOKEN || undefined, org: env.INFLUX_ORG || '', bucket: env.INFLUX_BUCKET || 'gas' });
  if (env.INFLUXQL_URL) influx.push({ url: env.INFLUXQL_URL, target: 'v1', database: env.INFLUX_DATABASE || 'gas', username: env.INFLUX_USERNAME || undefined, password: env.INFLUX_PASSWORD || undefined });
  return {
    role,
    kafka,
    influx,
    mqttPort: port(env, 'MQTT_PORT', 1883),
    mqttHost: env.MQTT_HOST || '0.0.0.0',
    mqttUrl,
    mqttClientId: env.MQTT_CLIENT_ID || (role === 'ingest' ? `gas-ingest-${hostname()}` : 'gas-ingest'),
    mqttUsername: env.MQTT_USERNAME || undefined,
    mqttPassword: env.MQTT_PASSWORD || undefined,
    mqttSharedGroup: env.MQTT_SHARED_GROUP || (role === 'ingest' ? 'gas-ingest' : undefined),
    gatewayCredentialsFile,
    mqttTls,
    mqttCaFile: readableFile(env, 'MQTT_CA'),
    mqttMaxInFlight: positiveInteger(env, 'MQTT_MAX_IN_FLIGHT'),
    httpTls: tlsPair(env, 'HTTP_TLS_CERT', 'HTTP_TLS_KEY'),
    httpPort: port(env, 'HTTP_PORT', 8080),
    httpHost: env.HTTP_HOST || '0.0.0.0',
    dataDir: resolve(env.DATA_DIR || './data'),
    registryFile: env.REGISTRY || undefined,
    databaseUrl: env.DATABASE_URL || undefined,
    oncallFile: env.ONCALL || undefined,
    adminToken: env.ADMIN_TOKEN || undefined,
    logLevel: env.LOG_LEVEL || 'info',
    settings,
  };
}
