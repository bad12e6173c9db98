import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { InProcessBus } from '../bus/in-process-bus.ts';
import { KafkaBus } from '../bus/kafka-bus.ts';
import { registerKafkaLagGauge } from '../bus/kafka-metrics.ts';
import { InfluxSink } from '../sinks/influx/influx-sink.ts';
import { InfluxWriter, parseInfluxWriterOptions, type InfluxWriterCounters } from '../sinks/influx/influx-writer.ts';
import type { HistorySink } from '../sinks/history/index.ts';
import { InfluxQlHistory } from '../sinks/history/influxql-history.ts';
import { parseHistorySettings, type HistorySettings } from '../sinks/history/options.ts';
import type { ReadingsHistory } from '../sinks/history/readings-history.ts';
import { SINKS } from '../sinks/registry.ts';
import { readFileSync } from 'node:fs';
import { Counter, type Gauge } from 'prom-client';
import type { Bus } from '../contracts/bus.ts';
import type { DeviceStatus } from '../contracts/device-record.ts';
import { DeadLetterLog } from '../ingest/dead-letter-log.ts';
import { EmbeddedBroker, MQTT_REFUSALS } from '../ingest/embedded-broker.ts';
import { readGatewayCredentials } from '../ingest/gateway-credentials.ts';
import { IngestStage } from '../ingest/ingest-stage.ts';
import { MqttSource } from '../ingest/mqtt-source.ts';
import { EmbeddedSource, EmbeddedSourceOptionsSchema } from '../ingest/embedded-source.ts';
import { UplinkDecoder, DecoderOptionsSchema } from '../ingest/uplink-decoder.ts';
import { readingsMayRaiseGasAlarm } from '../ingest/urgent-uplink.ts';
import { DeviceEngine, type ConfiguredDetector } from '../processors/device-engine.ts';
import { parseFlapSettings } from '../processors/flapping.ts';
import { parseLateSettings } from '../processors/late-readings.ts';
import { KIND_DEFAULTS, RegistryProfiles } from '../processors/device-profile.ts';
import { DETECTORS } from '../processors/detectors/registry.ts';
import { ProcessorStage, type PartitionedDeviceState } from '../processors/processor-stage.ts';
import { CheckpointSettingsSchema, type CheckpointObserver, type CheckpointSettings } from '../processors/partition-checkpoints.ts';
import { parseSettings as parseDetectorSettings } from '../processors/settings.ts';
import { SilenceSettingsSchema, SilenceWatch } from '../processors/silence/silence-watch.ts';
import { MaintenanceSettingsSchema } from '../processors/maintenance/maintenance-watch.ts';
import { startMaintenance, type MaintenanceStage } from '../processors/maintenance/maintenance-stage.ts';
import { SnapshotFile } from '../processors/snapshot-file.ts';
import { AlertBook } from '../alerts/alert-book.ts';
import { buildHttpApi, buildOpsApi } from '../alerts/api/server.ts';
import { TokenBook, TokenChain, loadAdminToken } from '../alerts/api/tokens.ts';
import { SqlTokenStore } from '../alerts/api/token-store.ts';
import { SqlAuditLog } from '../alerts/audit/audit-log.ts';
import { CustomerNoticeLog } from '../alerts/push/customer-notice-log.ts';
import { DeviceRegistry, readRegistryFile } from '../registry/device-registry.ts';
import { parseMapSettings } from '../registry/map-settings.ts';
import { Value } from '@sinclair/typebox/value';
import type { Static, TObject } from '@sinclair/typebox';
import { systemClock, type Clock } from './clock.ts';
import type { InfluxWriterInput, PipelineConfig, PipelineRole, TlsFiles } from './config.ts';
import { ConfigError } from './errors.ts';
import { PipelineMetrics } from './metrics.ts';
import { asDeadLetter, storeDeadLetterSink } from './store-dead-letters.ts';
import { startServiceStage, type ServiceStage } from './service-stage.ts';

/** A running process: all stages (`ROLE=all`) or one role; the parts of other roles are absent. */
export interface RunningPipeline {
  role: PipelineRole;
  httpUrl: string;
  /** The broker ingest reads from (ingest and all). */
  mqttUrl?: string;
  adminToken?: string;
  adminTokenGenerated?: boolean;
  api: FastifyInstance;
  alerts?: AlertBook;
  processor?: ProcessorStage;
  registry: DeviceRegistry;
  metrics: PipelineMetrics;
  services?: ServiceStage;
  /**
   * Re-reads `GATEWAY_CREDENTIALS` for the embedded broker (main.ts: on SIGHUP); absent when this
   * process runs no broker or the broker is open. A bad file is refused and the old one stays.
   */
  reloadGatewayCredentials?: () => void;
  stop(): Promise<void>;
}

function withDefaults<S extends TObject>(schema: S, partial: unknown): Static<S> {
  return Value.Default(schema, Value.Clone(partial ?? {})) as Static<S>;
}

function configureDetectors(settings: Record<string, unknown>): ConfiguredDetector[] {
  const known = new Set(DETECTORS.map((d) => d.name));
  for (const name of Object.keys(settings)) {
    if (!known.has(name)) throw new ConfigError(`detectors.${name}: no such detector (known: ${[...known].join(', ')})`);
  }
  return DETECTORS.map((definition) => ({ definition, settings: parseDetectorSettings(definition, settings[definition.name]) }));
}

/** The bus between stages: Kafka when brokers are configured, in-process otherwise. */
async function createBus(config: PipelineConfig, registry: DeviceRegistry, lowestL1: () => number, log: Logger): Promise<Bus | KafkaBus> {
  if (!config.kafka) return new InProcessBus();
  // A gas alarm is judged with its linked valve's last state (VALVE_NOT_CUT): both go by the valve's id.
  // Records that may raise a gas alarm are marked, and processors work on their partitions first.
  const bus = await KafkaBus.start(
    config.kafka,
    log.child({ stage: 'bus' }),
    (deviceId) => registry.get(deviceId)?.valveId ?? deviceId,
    (readings) => readingsMayRaiseGasAlarm(readings, lowestL1()),
  );
  registry.onChange((deviceId) => bus.placementChanged(deviceId));
  return bus;
}

/** The processors' per-partition device state in Kafka's compacted state topic. */
function kafkaDeviceState(bus: KafkaBus, checkpoints: CheckpointSettings, observer: CheckpointObserver): PartitionedDeviceState {
  return {
    observer,
    instanceId: `${hostname()}.${process.pid}.${randomUUID().slice(0, 8)}`,
    partitionOf: (deviceId) => bus.partitionOfDevice(deviceId),
    store: bus.state,
    checkpoints,
  };
}

/**
 * The InfluxDB sink as its own consumer group. In one process (`all` on the in-process bus) a full
 * buffer drops lines, counted, rather than hold up ingest and the alarms behind it; on Kafka it
 * blocks its own group, whose lag then grows, and nothing is lost while Kafka keeps the readings.
 */
function startInfluxSink(targets: readonly InfluxWriterInput[], bus: Bus, registry: DeviceRegistry, metrics: PipelineMetrics, log: Logger): InfluxSink {
  const onFull = bus instanceof KafkaBus ? 'block' : 'drop';
  const writers = targets.map((t) => new InfluxWriter(parseInfluxWriterOptions({ ...t, onFull }), { log: log.child({ influx: t.url, target: t.target }) }));
  const sink = new InfluxSink(writers, {
    districtOf: (deviceId) => registry.get(deviceId)?.district,
    gasSetPoints: { of: (deviceId) => registry.get(deviceId), defaults: KIND_DEFAULTS.alarm_controller },
  });
  bus.readings.consume('influx', (readings) => sink.writeReadings(readings), { fetch: 'bulk' });
  bus.alertEvents.consume('influx', (events) => sink.writeAlertEvents(events), { fetch: 'bulk' });
  const labelOf = targets.map((t) => ({ target: t.target, url: t.url }));
  const each = (gauge: Gauge, value: (c: InfluxWriterCounters) => number) => sink.stats().forEach((c, i) => gauge.set(labelOf[i]!, value(c)));
  metrics.addGauge('gas_influx_lines_written', 'Lines InfluxDB acknowledged since start (cumulative)', ['target', 'url'], (g) => each(g, (c) => c.written));
  metrics.addGauge('gas_influx_lines_buffered', 'Lines held for InfluxDB now: queued and in flight', ['target', 'url'], (g) => each(g, (c) => c.buffered));
  metrics.addGauge('gas_influx_failed_requests', 'Write requests that failed since start (cumulative), retried or not', ['target', 'url'], (g) => each(g, (c) => c.failedRequests));
  metrics.addGauge('gas_influx_lines_dropped', 'Lines given up since start (cumulative), by reason', ['target', 'url', 'reason'], (g) =>
    sink.stats().forEach((c, i) => {
      for (const [reason, n] of Object.entries(c.dropped)) g.set({ ...labelOf[i]!, reason }, n);
    }),
  );
  return sink;
}

/**
 * Where the device page's readings come from: InfluxDB 1.x when INFLUXQL_URL is configured (it
 * has every reading), else the local history sink, consuming readings beside the processors
 * (group `history`; on Kafka the alerts role reads the readings topic for it). See sinks/history/README.md.
 */
async function startReadingsHistory(config: PipelineConfig, settings: HistorySettings, bus: Bus, metrics: PipelineMetrics, log: Logger): Promise<{ readings?: ReadingsHistory; sink?: HistorySink }> {
  const influxQl = config.influx?.find((t) => t.target === 'v1');
  if (influxQl) {
    const readings = new InfluxQlHistory({ url: influxQl.url, database: influxQl.database ?? 'gas', username: influxQl.username, password: influxQl.password }, log);
    return { readings };
  }
  if (!settings.enabled) return {};
  const sink = await SINKS.history.start(settings, { bus, dataDir: config.dataDir, log });
  const stats = () => sink.store.stats();
  metrics.addGauge('gas_history_devices', 'Devices the local readings history holds', [], (g) => g.set(stats().devices));
  metrics.addGauge('gas_history_points', 'Points the local readings history holds', [], (g) => g.set(stats().points));
  metrics.addGauge('gas_history_bytes', 'Estimated memory of the local readings history, bytes (bounded by history.maxBytes)', [], (g) => g.set(stats().bytes));
  metrics.addGauge('gas_history_points_per_device_limit', 'Most points a device may hold now (less than history.maxPointsPerDevice while the total is at maxBytes)', [], (g) => g.set(stats().pointsPerDeviceLimit));
  return { readings: sink.readings, sink };
}

/** A PEM certificate and key read at start; a file that cannot be read is a configuration error. */
function readTls(files: TlsFiles | undefined, what: string): { cert: Buffer; key: Buffer } | undefined {
  if (!files) return undefined;
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (err) {
    throw new ConfigError(`${what} certificate or key cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The lowest gas-alarm first set point any device uses, for the urgent lanes (ingest's on the
 * embedded broker, the Kafka records' mark). Kept current as the registry changes, and only ever
 * lowered: a raised set point leaves a lane that lets a little more through, never one that holds
 * an alarm back.
 */
function lowestL1LelPct(registry: DeviceRegistry): () => number {
  let lowest = Math.min(KIND_DEFAULTS.home_gas_alarm.l1LelPct, KIND_DEFAULTS.alarm_controller.l1LelPct);
  const consider = (l1: number | undefined): void => {
    if (l1 !== undefined && l1 < lowest) lowest = l1;
  };
  for (const record of registry.records()) consider(record.l1LelPct);
  registry.onChange((deviceId) => consider(registry.get(deviceId)?.l1LelPct));
  return () => lowest;
}

/** The embedded broker with its refusals counted in /metrics. */
function createBroker(config: PipelineConfig, metrics: PipelineMetrics, log: Logger): EmbeddedBroker {
  const credentials = config.gatewayCredentialsFile ? readGatewayCredentials(config.gatewayCredentialsFile) : undefined;
  if (credentials?.has(config.mqttClientId)) {
    throw new ConfigError(`GATEWAY_CREDENTIALS lists ${config.mqttClientId}, which is ingest's MQTT client id (MQTT_CLIENT_ID): a gateway could take over ingest's session`);
  }
  const refused = new Counter({ name: 'gas_mqtt_refused_total', help: 'MQTT connections, publishes and subscriptions the embedded broker refused, by reason', labelNames: ['reason'], registers: [metrics.registry] });
  for (const reason of MQTT_REFUSALS) refused.inc({ reason }, 0);
  return new EmbeddedBroker(
    { port: config.mqttPort, host: config.mqttHost, credentials, tls: readTls(config.mqttTls, 'MQTT_TLS_CERT/MQTT_TLS_KEY'), ingestClientId: config.mqttClientId },
    log,
    { onRefused: (reason) => refused.inc({ reason }) },
  );
}

/**
 * Starts the stages of this process's role on one bus: the whole pipeline for `all` (embedded MQTT
 * broker unless `mqttUrl` names an external one → ingest → processors → alert store, tickets and
 * HTTP API), or one role of a scaled-out deployment on Kafka. Consumers start before the source,
 * and the source stops first, so nothing is dropped in between.
 */
export async function startPipeline(config: PipelineConfig, log: Logger, clock: Clock = systemClock): Promise<RunningPipeline> {
  const { settings, role } = config;
  const runs = (stage: 'ingest' | 'processor' | 'alerts'): boolean => role === 'all' || role === stage;
  const detectors = configureDetectors(settings.detectors);
  const silenceSettings = withDefaults(SilenceSettingsSchema, settings.silence);
  const decoderOptions = withDefaults(DecoderOptionsSchema, settings.ingest);
  const historySettings = parseHistorySettings(settings.history);

  const map = parseMapSettings(settings.map);
  const registry = new DeviceRegistry(config.registryFile ? readRegistryFile(config.registryFile) : [], join(config.dataDir, 'registry-edits.json'));
  const lowestL1 = lowestL1LelPct(registry);
  const bus = await createBus(config, registry, lowestL1, log);
  const metrics = new PipelineMetrics(clock);
  if (bus instanceof KafkaBus) registerKafkaLagGauge(metrics.registry, bus, undefined, log.child({ stage: 'bus' }));

  // --- alerts role: alert store, tickets, on-call, pushes -------------------------------------
  let alerts: AlertBook | undefined;
  let services: ServiceStage | undefined;
  let deadLetters: DeadLetterLog | undefined;
  let maintenance: MaintenanceStage | undefined;
  if (runs('alerts')) {
    const letters = new DeadLetterLog({
      capacity: settings.deadLetters?.capacity ?? 10_000,
      file: join(config.dataDir, 'dead-letters.jsonl'),
      maxFileBytes: settings.deadLetters?.maxFileBytes ?? 64 * 1024 * 1024,
    });
    bus.deadLetters.consume('dead-letter-log', (batch) => letters.append(batch));
    deadLetters = letters;
    // Records the stores refuse or cannot replay: logged, counted, and listed with the edge's dead letters.
    const storeLetters = storeDeadLetterSink(metrics.registry, log.child({ stage: 'store' }), (l) => letters.append([asDeadLetter(l)]));
    const book = new AlertBook({ dir: join(config.dataDir, 'alerts'), historyLimit: settings.alerts?.historyLimit ?? 100_000, compactAfterLines: 50_000, fsync: settings.alerts?.fsync ?? false, onDeadLetter: storeLetters });
    bus.alertEvents.consume('alerts', (events) => {
      for (const change of book.apply(events)) metrics.onAlertEdge(change.alert.condition, change.type === 'raised' ? 'raise' : 'clear');
    });
    metrics.addGauge('gas_alerts_active', 'Active alerts by condition', ['condition'], (gauge) => {
      for (const [condition, n] of book.countActiveByCondition()) gauge.set({ condition }, n);
    });
    alerts = book;
    services = await startServiceStage({
      dataDir: config.dataDir,
      databaseUrl: config.databaseUrl,
      oncallFile: config.oncallFile,
      push: settings.push,
      sla: settings.sla,
      tickets: settings.tickets,
      customerClocks: settings.customerClocks,
      reports: settings.reports,
      slaCheckIntervalMs: settings.slaCheckIntervalMs ?? 5_000,
      registryCrs: map.registryCrs,
      onDeadLetter: storeLetters,
    }, book, registry, clock, log.child({ stage: 'services' }));
    const stage = services;
    metrics.addGauge('gas_push_provider_reports', 'Provider delivery reports and read checks since start (cumulative), by channel and outcome: delivered, read, failed (did not reach the person), unknown (a message not sent from here)', ['channel', 'outcome'], (gauge) => {
      for (const r of stage.providerReports()) gauge.set({ channel: r.channel, outcome: r.outcome }, r.count);
    });
    // Flow-meter service by the calendar (processors/maintenance/README.md): resolving its ticket records the service.
    services.tickets.onServiceDone(({ deviceId, atMs }) => {
      const record = registry.get(deviceId);
      if (record) registry.put({ ...record, lastServiceAt: new Date(atMs).toISOString() });
    });
    maintenance = startMaintenance({
      settings: withDefaults(MaintenanceSettingsSchema, settings.maintenance),
      registry,
      activeDeviceIds: [...book.active()].filter((a) => a.condition === 'MAINTENANCE_DUE').map((a) => a.subjectId),
      publish: (events) => bus.alertEvents.publish(events),
      clock,
      log: log.child({ stage: 'maintenance' }),
    });
  }

  // --- processor role: per-device state and detectors -------------------------------------------
  let processor: ProcessorStage | undefined;
  let engine: DeviceEngine | undefined;
  if (runs('processor')) {
    const profiles = new RegistryProfiles(registry);
    engine = new DeviceEngine(detectors, profiles, metrics, parseFlapSettings(settings.flapping), parseLateSettings(settings.lateReadings));
    const silence = new SilenceWatch(engine, silenceSettings);
    const partitioned = bus instanceof KafkaBus ? kafkaDeviceState(bus, withDefaults(CheckpointSettingsSchema, settings.checkpoints), metrics) : undefined;
    processor = new ProcessorStage(bus, engine, silence, clock, partitioned ? undefined : new SnapshotFile(join(config.dataDir, 'processor-state.jsonl'), join(config.dataDir, 'processor-state.json')), {
      checkIntervalMs: silenceSettings.checkIntervalMs,
      snapshotIntervalMs: settings.snapshotIntervalMs ?? 60_000,
      registered: function* () {
        for (const record of registry.records()) yield profiles.profileOf(record.deviceId)!;
      },
      partitioned,
    }, log.child({ stage: 'processors' }));
    await processor.restore(alerts ? [...alerts.active()] : []);
    registry.onChange((deviceId) => engine!.updateProfile(deviceId));
    await processor.start();
    const tracked = engine;
    metrics.addGauge('gas_devices_tracked', 'Devices whose state the processors hold', [], (gauge) => gauge.set(tracked.devices.size));
  }

  // --- sinks: readings and alert edges to InfluxDB, beside the processors -----------------------
  let influx: InfluxSink | undefined;
  if (runs('processor') && config.influx && config.influx.length > 0) {
    influx = startInfluxSink(config.influx, bus, registry, metrics, log.child({ stage: 'influx' }));
  }

  // --- readings history for the device page, where the API runs; after the processors, so that
  // in one process it takes each batch after the detectors have judged it ------------------------
  let history: { readings?: ReadingsHistory; sink?: HistorySink } = {};
  if (runs('alerts')) history = await startReadingsHistory(config, historySettings, bus, metrics, log.child({ stage: 'history' }));

  // --- ingest role: MQTT → validated readings --------------------------------------------------
  let broker: EmbeddedBroker | undefined;
  let mqttUrl = config.mqttUrl;
  let sourceConnected = false;
  let source: MqttSource | EmbeddedSource | undefined;
  if (runs('ingest')) {
    if (!mqttUrl) {
      broker = createBroker(config, metrics, log.child({ stage: 'broker' }));
      const port = await broker.start();
      mqttUrl = `${config.mqttTls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`;
    }
  }

  // --- HTTP: the full API with the alerts role, health and metrics only otherwise ---------------
  const health = () => {
    const checks: Record<string, string> = {};
    if (runs('ingest')) checks.mqtt = sourceConnected ? 'connected' : 'disconnected';
    if (alerts) checks.alertStore = 'ok';
    if (processor) checks.processor = 'ok';
    return { status: (!runs('ingest') || sourceConnected ? 'ok' : 'degraded') as 'ok' | 'degraded', checks };
  };
  let api: FastifyInstance;
  let admin: { token: string; generated: boolean } | undefined;
  const https = readTls(config.httpTls, 'HTTP_TLS_CERT/HTTP_TLS_KEY');
  if (alerts && services && deadLetters) {
    const tokens = new TokenBook();
    admin = loadAdminToken(config.adminToken, join(config.dataDir, 'admin-token'));
    tokens.add(admin.token, { name: 'admin', role: 'admin' });
    const apiTokens = new SqlTokenStore(services.db);
    const devices = engine;
    api = await buildHttpApi({
      alerts,
      registry,
      devices: {
        statusOf(deviceId): DeviceStatus | undefined {
          // With ROLE=alerts the device state lives in the processors: the API shows the registry and alerts only.
          const state = devices?.devices.get(deviceId);
          if (!state) return undefined;
          return { kind: state.kind, registered: state.profile.registered, lastReading: state.lastReading, lastSeenAtMs: state.lastHeardAtMs };
        },
      },
      deadLetters,
      metrics,
      tokens: new TokenChain(tokens, apiTokens),
      apiTokens,
      tickets: services.tickets,
      readings: history.readings,
      customerNotices: new CustomerNoticeLog(services.db),
      reports: services.reports,
      oncall: services.oncall,
      sse: services.sse,
      webPush: services.webPush,
      getSlaSettings: services.slaSettings,
      setSlaSettings: services.setSlaSettings,
      clock,
      health,
      map,
      audit: new SqlAuditLog(services.db),
      actionTokens: services.actionTokens,
      applyAction: services.applyAction,
      pushCallbacks: services.pushCallbacks,
    }, log.child({ stage: 'api' }), { https, streams: settings.api?.streams });
  } else {
    api = await buildOpsApi({ metrics, health }, log.child({ stage: 'api' }), { https });
  }
  await api.listen({ port: config.httpPort, host: config.httpHost });
  const address = api.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;

  if (runs('ingest')) {
    const ingest = new IngestStage(new UplinkDecoder(decoderOptions), bus, clock, metrics, { maxSeqJump: decoderOptions.maxSeqJump });
    // On the embedded broker ingest takes messages in process, from an external broker as an MQTT
    // client on a persistent session; either way possible gas alarms go first (ingest/uplink-lanes.ts).
    // On Kafka a publish waits for the brokers: ingest keeps many messages going, in order.
    const maxInFlight = config.mqttMaxInFlight ?? (bus instanceof KafkaBus ? 100 : 1);
    source = broker
      ? new EmbeddedSource(withDefaults(EmbeddedSourceOptionsSchema, { maxInFlight }), broker, ingest, lowestL1, metrics, log.child({ stage: 'ingest' }))
      : new MqttSource({
          url: mqttUrl!,
          clientId: config.mqttClientId,
          username: config.mqttUsername,
          password: config.mqttPassword,
          sharedGroup: config.mqttSharedGroup,
          reconnectPeriodMs: 1000,
          maxInFlight,
          caFile: config.mqttCaFile,
        }, ingest, lowestL1, metrics, log.child({ stage: 'ingest' }));
    await source.start();
    sourceConnected = true;
  }

  const rateTimer = setInterval(() => metrics.sampleRate(), 1000);
  rateTimer.unref();

  return {
    role,
    httpUrl: `${https ? 'https' : 'http'}://127.0.0.1:${httpPort}`,
    mqttUrl,
    adminToken: admin?.token,
    adminTokenGenerated: admin?.generated,
    api,
    alerts,
    processor,
    registry,
    metrics,
    services,
    reloadGatewayCredentials: broker?.secured && config.gatewayCredentialsFile
      ? () => broker!.replaceCredentials(readGatewayCredentials(config.gatewayCredentialsFile!))
      : undefined,
    async stop() {
      clearInterval(rateTimer);
      maintenance?.stop();
      sourceConnected = false;
      await source?.stop();
      await processor?.stop();
      await broker?.stop();
      await bus.close();
      await influx?.close();
      await history.sink?.stop();
      await api.close();
      await services?.stop();
    },
  };
}
