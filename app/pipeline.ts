import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { InProcessBus } from '../bus/in-process-bus.ts';
import type { DeviceStatus } from '../contracts/device-record.ts';
import { DeadLetterLog } from '../ingest/dead-letter-log.ts';
import { EmbeddedBroker } from '../ingest/embedded-broker.ts';
import { IngestStage } from '../ingest/ingest-stage.ts';
import { MqttSource } from '../ingest/mqtt-source.ts';
import { UplinkDecoder, DecoderOptionsSchema } from '../ingest/uplink-decoder.ts';
import { DeviceEngine, type ConfiguredDetector } from '../processors/device-engine.ts';
import { RegistryProfiles } from '../processors/device-profile.ts';
import { DETECTORS } from '../processors/detectors/registry.ts';
import { ProcessorStage } from '../processors/processor-stage.ts';
import { parseSettings as parseDetectorSettings } from '../processors/settings.ts';
import { SilenceSettingsSchema, SilenceWatch } from '../processors/silence/silence-watch.ts';
import { SnapshotFile } from '../processors/snapshot-file.ts';
import { AlertBook } from '../alerts/alert-book.ts';
import { buildHttpApi } from '../alerts/api/server.ts';
import { TokenBook, TokenChain, loadAdminToken } from '../alerts/api/tokens.ts';
import { SqlTokenStore } from '../alerts/api/token-store.ts';
import { DeviceRegistry, readRegistryFile } from '../registry/device-registry.ts';
import { Value } from '@sinclair/typebox/value';
import type { Static, TObject } from '@sinclair/typebox';
import { systemClock, type Clock } from './clock.ts';
import type { PipelineConfig } from './config.ts';
import { ConfigError } from './errors.ts';
import { PipelineMetrics } from './metrics.ts';
import { startServiceStage, type ServiceStage } from './service-stage.ts';

export interface RunningPipeline {
  httpUrl: string;
  mqttUrl: string;
  adminToken: string;
  adminTokenGenerated: boolean;
  api: FastifyInstance;
  alerts: AlertBook;
  processor: ProcessorStage;
  registry: DeviceRegistry;
  metrics: PipelineMetrics;
  services: ServiceStage;
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

/**
 * Starts the whole pipeline in one process on the in-process bus: embedded MQTT broker (unless
 * `mqttUrl` names an external one) → ingest → processors → alert store → HTTP API.
 * Consumers start before the source, and the source stops first, so nothing is dropped in between.
 */
export async function startPipeline(config: PipelineConfig, log: Logger, clock: Clock = systemClock): Promise<RunningPipeline> {
  const { settings } = config;
  const detectors = configureDetectors(settings.detectors);
  const silenceSettings = withDefaults(SilenceSettingsSchema, settings.silence);
  const decoderOptions = withDefaults(DecoderOptionsSchema, settings.ingest);

  const registry = new DeviceRegistry(config.registryFile ? readRegistryFile(config.registryFile) : [], join(config.dataDir, 'registry-edits.json'));
  const bus = new InProcessBus();
  const metrics = new PipelineMetrics(clock);

  const deadLetters = new DeadLetterLog({
    capacity: settings.deadLetters?.capacity ?? 10_000,
    file: join(config.dataDir, 'dead-letters.jsonl'),
    maxFileBytes: settings.deadLetters?.maxFileBytes ?? 64 * 1024 * 1024,
  });
  bus.deadLetters.consume('dead-letter-log', (letters) => deadLetters.append(letters));

  const alerts = new AlertBook({ dir: join(config.dataDir, 'alerts'), historyLimit: settings.alerts?.historyLimit ?? 100_000, compactAfterLines: 50_000, fsync: settings.alerts?.fsync ?? false });
  bus.alertEvents.consume('alerts', (events) => {
    for (const change of alerts.apply(events)) metrics.onAlertEdge(change.alert.condition, change.type === 'raised' ? 'raise' : 'clear');
  });
  const services = await startServiceStage({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    oncallFile: config.oncallFile,
    push: settings.push,
    sla: settings.sla,
    tickets: settings.tickets,
    slaCheckIntervalMs: settings.slaCheckIntervalMs ?? 5_000,
  }, alerts, registry, clock, log.child({ stage: 'services' }));
  metrics.addGauge('gas_alerts_active', 'Active alerts by condition', ['condition'], (gauge) => {
    for (const [condition, n] of alerts.countActiveByCondition()) gauge.set({ condition }, n);
  });

  const profiles = new RegistryProfiles(registry);
  const engine = new DeviceEngine(detectors, profiles, metrics);
  const silence = new SilenceWatch(engine, silenceSettings);
  const processor = new ProcessorStage(bus, engine, silence, clock, new SnapshotFile(join(config.dataDir, 'processor-state.json')), {
    checkIntervalMs: silenceSettings.checkIntervalMs,
    snapshotIntervalMs: settings.snapshotIntervalMs ?? 60_000,
  }, log.child({ stage: 'processors' }));
  await processor.restore([...alerts.active()]);
  const startedAtMs = clock.now();
  for (const record of registry.records()) {
    const profile = profiles.profileOf(record.deviceId)!;
    engine.expect(profile, startedAtMs);
    if (profile.gatewayId) silence.expectGateway(profile.gatewayId, startedAtMs);
  }
  registry.onChange((deviceId) => engine.updateProfile(deviceId));
  processor.start();
  metrics.addGauge('gas_devices_tracked', 'Devices whose state the processors hold', [], (gauge) => gauge.set(engine.devices.size));

  let broker: EmbeddedBroker | undefined;
  let mqttUrl = config.mqttUrl;
  if (!mqttUrl) {
    broker = new EmbeddedBroker({ port: config.mqttPort, host: config.mqttHost }, log.child({ stage: 'broker' }));
    const port = await broker.start();
    mqttUrl = `mqtt://127.0.0.1:${port}`;
  }

  const tokens = new TokenBook();
  const admin = loadAdminToken(config.adminToken, join(config.dataDir, 'admin-token'));
  tokens.add(admin.token, { name: 'admin', role: 'admin' });
  const apiTokens = new SqlTokenStore(services.db);
  let sourceConnected = false;
  const api = await buildHttpApi({
    alerts,
    registry,
    devices: {
      statusOf(deviceId): DeviceStatus | undefined {
        const state = engine.devices.get(deviceId);
        if (!state) return undefined;
        return { kind: state.kind, registered: state.profile.registered, lastReading: state.lastReading, lastSeenAtMs: state.lastHeardAtMs };
      },
    },
    deadLetters,
    metrics,
    tokens: new TokenChain(tokens, apiTokens),
    apiTokens,
    tickets: services.tickets,
    reports: services.reports,
    oncall: services.oncall,
    sse: services.sse,
    getSlaSettings: services.slaSettings,
    setSlaSettings: services.setSlaSettings,
    clock,
    health: () => ({ status: sourceConnected ? 'ok' : 'degraded', checks: { mqtt: sourceConnected ? 'connected' : 'disconnected', alertStore: 'ok' } }),
  }, log.child({ stage: 'api' }));
  await api.listen({ port: config.httpPort, host: config.httpHost });
  const address = api.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;

  const ingest = new IngestStage(new UplinkDecoder(decoderOptions), bus, clock, metrics);
  const source = new MqttSource({ url: mqttUrl, clientId: config.mqttClientId, reconnectPeriodMs: 1000 }, ingest, log.child({ stage: 'ingest' }));
  await source.start();
  sourceConnected = true;

  const rateTimer = setInterval(() => metrics.sampleRate(), 1000);
  rateTimer.unref();

  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    mqttUrl,
    adminToken: admin.token,
    adminTokenGenerated: admin.generated,
    api,
    alerts,
    processor,
    registry,
    metrics,
    services,
    async stop() {
      clearInterval(rateTimer);
      sourceConnected = false;
      await source.stop();
      await processor.stop();
      await broker?.stop();
      await api.close();
      await services.stop();
      await bus.close();
    },
  };
}
