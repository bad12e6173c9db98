import { once } from 'node:events';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleet } from './fleet.ts';
import { Simulation } from './simulation.ts';

let broker: Aedes;
let server: Server;
let url: string;

beforeAll(async () => {
  broker = await Aedes.createBroker();
  server = createServer(broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A second client that counts what the broker delivers on the uplink and status topics. */
async function listen(clientId: string): Promise<{ client: MqttClient; up: Map<string, number>; status: Array<{ topic: string; payload: string; retain: boolean }> }> {
  const client = await mqtt.connectAsync(url, { clientId, clean: true });
  const up = new Map<string, number>();
  const status: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => {
    if (topic.endsWith('/up')) up.set(topic, (up.get(topic) ?? 0) + 1);
    else status.push({ topic, payload: payload.toString(), retain: packet.retain });
  });
  await client.subscribeAsync(['gas/v1/+/up', 'gas/v1/+/status'], { qos: 1 });
  return { client, up, status };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Simulation against a real MQTT broker', () => {
  it('delivers exactly the batches report() counts, and the outage last will reaches the status topic', async () => {
    const listener = await listen('test-listener');
    const fleet = createFleet({ gateways: 10, devices: 200, seed: 7, stepMs: 30_000 });
    let now = Date.parse('2026-11-22T08:00:00.000Z');
    const simulation = new Simulation({ url, fleet, scenario: 'all', clock: () => now });
    try {
      await simulation.connect();
      const report = await simulation.run({ advance: (ms) => void (now += ms) });
      const total = () => [...listener.up.values()].reduce((a, b) => a + b, 0);
      await until(`${report.upMessages} uplink messages`, () => total() >= report.upMessages);
      await new Promise((r) => setTimeout(r, 100));
      expect(total()).toBe(report.upMessages);
      expect(report.upMessages).toBe(report.batches + report.duplicateBatches + report.lateBatches + report.malformedMessages);
      expect(listener.up.size).toBe(fleet.gatewayIds.length);

      const outage = simulation.scenario.actions.find((a) => a.type === 'gateway-down')!.gatewayId;
      const seen = listener.status.filter((m) => m.topic === `gas/v1/${outage}/status`).map((m) => m.payload);
      expect(seen).toEqual(['{"online":true}', '{"online":false}', '{"online":true}']);
      expect(listener.status.filter((m) => m.payload === '{"online":true}')).toHaveLength(report.statusMessages);
      // One online message per gateway, and one per reconnect (the outage's and the backfill's).
      expect(report.statusMessages).toBe(fleet.gatewayIds.length + simulation.scenario.actions.filter((a) => a.type === 'gateway-up').length);
    } finally {
      await simulation.close();
      await listener.client.endAsync();
    }

    // A clean close sends no last will: every gateway's retained status stays online.
    const late = await listen('test-late-listener');
    try {
      await until('retained statuses', () => late.status.length >= fleet.gatewayIds.length);
      expect(late.status.every((m) => m.retain && m.payload === '{"online":true}')).toBe(true);
    } finally {
      await late.client.endAsync();
    }
  });

  it('fails to connect with a clear error when no broker listens', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const fleet = createFleet({ gateways: 2, devices: 5, seed: 1, stepMs: 30_000 });
    const simulation = new Simulation({ url: `mqtt://127.0.0.1:${port}`, fleet, scenario: 'normal', connectTimeoutMs: 2000 });
    await expect(simulation.connect()).rejects.toThrow(/GW-00000\d: (cannot connect|no connection)/);
    await simulation.close();
  });
});
