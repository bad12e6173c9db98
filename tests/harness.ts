import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ManualClock } from '../app/clock.ts';
import { parseSettings, type PipelineConfig, type SettingsFile } from '../app/config.ts';
import { startPipeline, type RunningPipeline } from '../app/pipeline.ts';
import { TICKET_STORE_DIR } from '../app/service-stage.ts';
import { seedTestStoreDir } from '../alerts/store/testing.ts';
import { until } from './support.ts';

/** The embedded pipeline (ROLE=all): every stage is present. */
export interface TestPipeline extends RunningPipeline {
  mqttUrl: string;
  adminToken: string;
  alerts: NonNullable<RunningPipeline['alerts']>;
  processor: NonNullable<RunningPipeline['processor']>;
  services: NonNullable<RunningPipeline['services']>;
  clock: ManualClock;
  dataDir: string;
  /** GET an `/api/v1` route with the admin token. */
  get<T = unknown>(path: string): Promise<T>;
  /** The value of one Prometheus sample, e.g. `gas_ingest_rejects_total{reason="not_json"}`. */
  metric(sample: string): Promise<number>;
  /** Waits (polling, bounded) until `check` passes; the pipeline's work is asynchronous over MQTT. */
  until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  /** Stops the pipeline; `keepData` leaves DATA_DIR for a restart test. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Starts the embedded pipeline on free ports with a private DATA_DIR and a clock the test moves. */
export async function startTestPipeline(options: { dataDir?: string; clock?: ManualClock; settings?: Partial<SettingsFile>; registryFile?: string; influx?: PipelineConfig['influx']; mqtt?: { url: string; username: string; password: string }; databaseUrl?: string; kafka?: PipelineConfig['kafka'] } = {}): Promise<TestPipeline> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gas-e2e-'));
  const clock = options.clock ?? new ManualClock(Date.now());
  const config: PipelineConfig = {
    role: 'all',
    mqttPort: 0,
    mqttHost: '127.0.0.1',
    mqttClientId: options.mqtt ? `gas-ingest-test-${Date.now().toString(36)}` : 'gas-ingest-test',
    mqttUrl: options.mqtt?.url,
    mqttUsername: options.mqtt?.username,
    mqttPassword: options.mqtt?.password,
    httpPort: 0,
    httpHost: '127.0.0.1',
    dataDir,
    registryFile: options.registryFile,
    influx: options.influx,
    databaseUrl: options.databaseUrl,
    kafka: options.kafka,
    adminToken: 'e2e-admin-token',
    logLevel: 'silent',
    settings: parseSettings({ silence: { checkIntervalMs: 100 }, ...options.settings }, 'test settings'),
  };
  // The embedded ticket store from the migrated test image, unless a restart test brings its own.
  const storeDir = join(dataDir, TICKET_STORE_DIR);
  if (!options.databaseUrl && !existsSync(storeDir)) await seedTestStoreDir(storeDir);
  const running = await startPipeline(config, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), clock);
  const { mqttUrl, adminToken, alerts, processor, services } = running;
  if (!mqttUrl || !adminToken || !alerts || !processor || !services) throw new Error('ROLE=all must run every stage');
  const headers = { authorization: `Bearer ${running.adminToken}` };

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${running.httpUrl}/api/v1${path}`, { headers });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const metric = async (sample: string): Promise<number> => {
    const text = await (await fetch(`${running.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line ? Number(line.slice(sample.length + 1)) : 0;
  };

  return {
    ...running,
    mqttUrl,
    adminToken,
    alerts,
    processor,
    services,
    clock,
    dataDir,
    get,
    metric,
    until,
    async close({ keepData = false } = {}) {
      await running.stop();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface AlertItem {
  id: string;
  deviceId: string;
  gatewayId: string;
  condition: string;
  severity: string;
  state: 'active' | 'cleared';
  raisedAt: string;
  clearedAt: string | null;
  cause: string;
  remedy: string;
  detail?: Record<string, unknown>;
}
