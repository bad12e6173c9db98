/**
 * The embedded pipeline locked down by configuration: gateways log in with their own credentials
 * over MQTT/TLS, the API is served over HTTPS. Real MQTT.js gateways; a forged publish for another
 * gateway's topic is refused, counted and raises nothing, while the gateway's own readings still
 * become alerts.
 */
import { request } from 'node:https';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { parseSettings } from '../app/config.ts';
import { startPipeline, type RunningPipeline } from '../app/pipeline.ts';
import { hashGatewayPassword } from '../ingest/gateway-credentials.ts';
import { selfSignedCert, type TestCert } from './tls-fixture.ts';

const ADMIN = 'security-e2e-admin-token';
let pipeline: RunningPipeline;
let cert: TestCert;
let dataDir: string;
const clock = new ManualClock(Date.now());
const clients: MqttClient[] = [];

function get(path: string, token = ADMIN): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${pipeline.httpUrl}${path}`, { ca: cert.cert, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function metric(sample: string): Promise<number> {
  const line = (await get('/metrics')).body.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function connect(options: IClientOptions): Promise<{ client?: MqttClient; error?: Error & { code?: number } }> {
  const client = mqtt.connect(pipeline.mqttUrl!, { ca: cert.cert, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  clients.push(client);
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => resolve({ error }));
    client.once('close', () => resolve({ error: new Error('closed before CONNACK') }));
  });
}

const at = () => new Date(clock.now()).toISOString();
let seq = 0;
const uplink = (gatewayId: string, deviceId: string, status: string[]) =>
  JSON.stringify({ gatewayId, seq: ++seq, sentAt: at(), readings: [{ deviceId, kind: 'household_meter', at: at(), volumeM3: 1, batteryV: 3.6, valve: 'open', status }] });

beforeAll(async () => {
  cert = selfSignedCert();
  dataDir = mkdtempSync(join(tmpdir(), 'gas-security-'));
  const credentials = join(dataDir, 'gateways.txt');
  writeFileSync(credentials, `GW-A:${await hashGatewayPassword('secret-a')}\nGW-B:secret-b\n`, { mode: 0o600 });
  pipeline = await startPipeline({
    role: 'all',
    mqttPort: 0,
    mqttHost: '127.0.0.1',
    mqttClientId: 'gas-ingest-security',
    httpPort: 0,
    httpHost: '127.0.0.1',
    dataDir,
    adminToken: ADMIN,
    logLevel: 'silent',
    gatewayCredentialsFile: credentials,
    mqttTls: { certFile: cert.certFile, keyFile: cert.keyFile },
    httpTls: { certFile: cert.certFile, keyFile: cert.keyFile },
    settings: parseSettings({ silence: { checkIntervalMs: 100 } }, 'test settings'),
  }, pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), clock);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  await pipeline?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(cert.dir, { recursive: true, force: true });
});

describe('locked-down embedded pipeline', () => {
  it('serves MQTT and HTTP over TLS only', async () => {
    expect(pipeline.mqttUrl).toMatch(/^mqtts:\/\/127\.0\.0\.1:\d+$/);
    expect(pipeline.httpUrl).toMatch(/^https:\/\//);
    expect((await get('/healthz')).status).toBe(200);
    await expect(fetch(pipeline.httpUrl.replace('https:', 'http:') + '/healthz')).rejects.toThrow();
  });

  it("turns a gateway's own readings into alerts", async () => {
    const { client, error } = await connect({ clientId: 'GW-A', username: 'GW-A', password: 'secret-a' });
    expect(error).toBeUndefined();
    await client!.publishAsync('gas/v1/GW-A/up', uplink('GW-A', 'HM-SEC-1', ['ERR-1']), { qos: 1 });
    const alert = await until('alert from GW-A', async () => {
      const items = JSON.parse((await get('/api/v1/alerts?state=active&deviceId=HM-SEC-1')).body).items as Array<{ condition: string; gatewayId: string }>;
      return items[0];
    });
    expect(alert).toMatchObject({ condition: 'ERR-1', gatewayId: 'GW-A' });
  });

  it('refuses wrong credentials and counts them', async () => {
    const before = await metric('gas_mqtt_refused_total{reason="bad_credentials"}');
    const { error } = await connect({ clientId: 'GW-A', username: 'GW-A', password: 'secret-b' });
    expect(error?.message).toMatch(/Bad username or password|closed/i);
    const anonymous = await connect({ clientId: 'GW-A' });
    expect(anonymous.error).toBeDefined();
    expect(await metric('gas_mqtt_refused_total{reason="bad_credentials"}')).toBe(before + 1);
    expect(await metric('gas_mqtt_refused_total{reason="no_credentials"}')).toBeGreaterThanOrEqual(1);
  });

  it("refuses a gateway's publish for another gateway: counted, disconnected, no alert", async () => {
    const before = await metric('gas_mqtt_refused_total{reason="publish_topic"}');
    const { client } = await connect({ clientId: 'GW-B', username: 'GW-B', password: 'secret-b' });
    const closed = new Promise<void>((resolve) => client!.once('close', () => resolve()));
    client!.publish('gas/v1/GW-A/up', uplink('GW-A', 'HM-FORGED', ['ERR-2']), { qos: 1 });
    await closed;
    expect(await metric('gas_mqtt_refused_total{reason="publish_topic"}')).toBe(before + 1);
    // GW-B's own topic still works after it reconnects, and the forged reading never arrives.
    const again = await connect({ clientId: 'GW-B', username: 'GW-B', password: 'secret-b' });
    await again.client!.publishAsync('gas/v1/GW-B/up', uplink('GW-B', 'HM-SEC-B', ['ERR-3']), { qos: 1 });
    await until('alert from GW-B', async () => JSON.parse((await get('/api/v1/alerts?deviceId=HM-SEC-B')).body).items[0]);
    expect(JSON.parse((await get('/api/v1/alerts?deviceId=HM-FORGED')).body).items).toEqual([]);
    expect(JSON.parse((await get('/api/v1/devices/HM-FORGED')).body)).toMatchObject({ error: 'GAS_HTTP_NOT_FOUND' });
  });
});
