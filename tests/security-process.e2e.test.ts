/**
 * `npm start` as a real process with gateway credentials: a SIGHUP reloads them without a restart,
 * and nothing secret (admin token, gateway passwords, database password) reaches its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
const TOKEN = 'process-admin-token-must-not-be-logged';
const dir = mkdtempSync(join(tmpdir(), 'gas-secproc-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function login(url: string, gatewayId: string, password: string): Promise<number> {
  const client = mqtt.connect(url, { clientId: gatewayId, username: gatewayId, password, reconnectPeriod: 0, connectTimeout: 5000 });
  return new Promise((resolve) => {
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve(err.code ?? -1);
    });
  });
}

describe('the pipeline process with gateway credentials', () => {
  it('reloads the credentials file on SIGHUP and logs no secret', async () => {
    const credentials = join(dir, 'gateways.txt');
    writeFileSync(credentials, 'GW-P1:first-password-not-logged\n');
    const mqttPort = await freePort();
    const httpPort = await freePort();
    const { MQTT_URL, KAFKA_BROKERS, DATABASE_URL, INFLUX_URL, INFLUXQL_URL, ROLE, CONFIG, REGISTRY, ...inherited } = process.env;
    let output = '';
    child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
      cwd: ROOT,
      env: {
        ...inherited, DATA_DIR: join(dir, 'data'), MQTT_PORT: String(mqttPort), MQTT_HOST: '127.0.0.1', HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1',
        ADMIN_TOKEN: TOKEN, GATEWAY_CREDENTIALS: credentials, LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    await until('pipeline running', async () => output.includes('Pipeline running'));

    expect(await login(url, 'GW-P1', 'first-password-not-logged')).toBe(0);
    expect(await login(url, 'GW-P2', 'second-password-not-logged')).toBe(4);

    writeFileSync(credentials, 'GW-P1:first-password-not-logged\nGW-P2:second-password-not-logged\n');
    child.kill('SIGHUP');
    await until('credentials reloaded', async () => output.includes('Gateway credentials reloaded'));
    expect(await login(url, 'GW-P2', 'second-password-not-logged')).toBe(0);

    // A broken file is refused and the old credentials stay.
    writeFileSync(credentials, 'GW-P3\n');
    child.kill('SIGHUP');
    await until('bad file refused', async () => output.includes('Gateway credentials not reloaded'));
    expect(await login(url, 'GW-P2', 'second-password-not-logged')).toBe(0);

    // A failed API login is logged, without the token tried.
    expect((await fetch(`http://127.0.0.1:${httpPort}/api/v1/alerts`, { headers: { authorization: 'Bearer wrong-token-not-logged' } })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${httpPort}/api/v1/alerts`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    await until('auth failure logged', async () => output.includes('Authentication failed'));

    expect(output).toContain('MQTT connection refused: wrong gateway credentials');
    for (const secret of [TOKEN, 'first-password-not-logged', 'second-password-not-logged', 'wrong-token-not-logged']) expect(output).not.toContain(secret);
  }, 90_000);
});
