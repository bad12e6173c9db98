import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, until as untilWithin } from './support.ts';

const until = <T>(what: string, check: () => Promise<T | undefined | false>) => untilWithin(what, check, 30_000);

const TOKEN = 'crash-test-admin-token';
const ROOT = new URL('..', import.meta.url).pathname;

/** `npm start` as a real process, as a user runs it, on private ports and a private DATA_DIR. */
function startProcess(dataDir: string, mqttPort: number, httpPort: number): ChildProcess {
  // The embedded default: none of the full-stack servers CI exports for other suites.
  const { MQTT_URL, KAFKA_BROKERS, DATABASE_URL, INFLUX_URL, INFLUXQL_URL, ROLE, CONFIG, REGISTRY, ...inherited } = process.env;
  return spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
    cwd: ROOT,
    env: { ...inherited, DATA_DIR: dataDir, MQTT_PORT: String(mqttPort), MQTT_HOST: '127.0.0.1', HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'gas-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 of the embedded process', () => {
  it('loses and duplicates no alert and no ticket across the crash and a redelivery', async () => {
    const mqttPort = await freePort();
    const httpPort = await freePort();
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`http://127.0.0.1:${httpPort}/api/v1${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      if (!res.ok) throw new Error(`${path}: ${res.status}`);
      return (await res.json()) as T;
    };
    const devices = Array.from({ length: 20 }, (_, i) => `HM-K${String(i).padStart(3, '0')}`);
    const at = new Date().toISOString();
    const batch = JSON.stringify({
      gatewayId: 'GW-K',
      seq: 1,
      sentAt: at,
      readings: [
        ...devices.map((deviceId, i) => ({ deviceId, kind: 'household_meter', at, volumeM3: 5, batteryV: 3.6, valve: 'open', status: [i % 2 ? 'ERR-3' : 'ERR-6'] })),
        { deviceId: 'HA-K1', kind: 'home_gas_alarm', at, lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' },
      ],
    });
    const publish = async () => {
      const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'GW-K', reconnectPeriod: 0 });
      await gw.publishAsync('gas/v1/GW-K/up', batch, { qos: 1 });
      await gw.endAsync();
    };
    const snapshot = async () => {
      const alerts = (await api<{ items: Array<{ id: string; deviceId: string; condition: string }> }>('/alerts?limit=10000')).items;
      const tickets = (await api<{ items: Array<{ id: string; deviceId: string; priority: string; conditions: string[]; devices: string[] }> }>('/tickets?limit=1000')).items;
      return {
        alerts: alerts.map((a) => `${a.id} ${a.deviceId} ${a.condition}`).sort(),
        tickets: tickets.map((t) => `${t.id} ${t.deviceId} ${t.priority} ${[...t.conditions].sort().join(',')} ${t.devices.length}`).sort(),
      };
    };

    const first = startProcess(dataDir, mqttPort, httpPort);
    children.push(first);
    await until('first start', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok);
    await publish();
    const before = await until('alerts and tickets for every fault', async () => {
      const s = await snapshot();
      // Ten meters with one code behind one gateway fold into an incident, and both codes' incidents
      // onto the gateway's one open ticket: that ticket and the leak's own.
      return s.alerts.length === 23 && s.tickets.length === 2 && s.tickets.some((t) => t.endsWith('ERR-3,ERR-6 20')) && s;
    });
    expect(before.tickets.filter((t) => t.includes('HA-K1'))[0]).toContain('emergency');

    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    const second = startProcess(dataDir, mqttPort, httpPort);
    children.push(second);
    await until('restart', async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok);
    expect(await snapshot()).toEqual(before);
    // The gateway did not see its acknowledgement and sends the batch again.
    await publish();
    await until('redelivery handled', async () => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const count = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return count('gas_processor_readings_total') + count('gas_processor_late_readings_total') === 21;
    });
    expect(await snapshot()).toEqual(before);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }, 120_000);
});
