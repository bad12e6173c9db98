import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { City, type CityOptions } from './city.ts';
import { runCity, type CityRunOptions } from './run.ts';

interface Uplink {
  gatewayId: string;
  seq: number;
  sentAt: string;
  readings: Array<{ deviceId: string; at: string }>;
}

let aedes: Aedes;
let server: Server;
let url: string;
const uplinks: Uplink[] = [];
const clients = new Set<string>();

beforeAll(async () => {
  aedes = await Aedes.createBroker();
  aedes.on('publish', (packet, client) => {
    if (client && packet.topic.endsWith('/up')) {
      uplinks.push(JSON.parse(packet.payload.toString()) as Uplink);
      clients.add(client.id);
    }
  });
  server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const CITY: CityOptions = { meters: 1_000, gateways: 10, seed: 5, faultShare: 0.05, hourlyMeters: false };
const MINUTE = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;

function options(over: Partial<CityRunOptions>): CityRunOptions {
  return {
    city: CITY, mode: 'burst', url, processes: 3, batch: 40, window: 4, seqStart: 1, connectConcurrency: 10,
    link: { ackTimeoutMs: 5_000, retryMinMs: 50, retryMaxMs: 500, maxAttempts: 5 },
    burstMinuteMs: MINUTE,
    schedule: { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60, startMs: MINUTE - 600_000, endMs: MINUTE - 480_000, speed: 120, uploadS: 30, tickMs: 50 },
    ...over,
  };
}

describe('runCity', () => {
  it('bursts one reading of every device from several processes, one connection per gateway, and reports exactly what the broker took', async () => {
    uplinks.length = 0;
    clients.clear();
    const report = await runCity(options({}));
    const city = new City(CITY);
    const received = uplinks.flatMap((u) => u.readings);
    expect(report.readings).toBe(received.length);
    expect(report.batches).toBe(uplinks.length);
    expect(report.processes).toBe(3);
    expect(report.perProcess.map((p) => p.readings).reduce((a, b) => a + b, 0)).toBe(report.readings);
    expect(Object.values(report.readingsByKind).reduce((a, b) => a + b, 0)).toBe(report.readings);
    expect(report.retries).toBe(0);
    // Every device once, and the devices with a pair fault once more (their previous reading).
    const perDevice = new Map<string, number>();
    for (const r of received) perDevice.set(r.deviceId, (perDevice.get(r.deviceId) ?? 0) + 1);
    expect(perDevice.size).toBe(CITY.meters);
    const pairs = [...perDevice.values()].filter((n) => n === 2).length;
    expect(received.length).toBe(CITY.meters + pairs);
    for (const r of received) expect(Date.parse(r.at)).toBeLessThan(MINUTE + 60_000);
    // Batches of at most 40, seq rising by one per gateway, each gateway on its own connection.
    expect(Math.max(...uplinks.map((u) => u.readings.length))).toBe(40);
    for (let g = 0; g < CITY.gateways; g++) {
      const id = `GW-${String(g + 1).padStart(6, '0')}`;
      expect(uplinks.filter((u) => u.gatewayId === id).map((u) => u.seq)).toEqual(Array.from({ length: Math.ceil((100 + [...city.devicesOf(g)].filter((i) => perDevice.get(city.deviceId(i)) === 2).length) / 40) }, (_, k) => k + 1));
    }
    expect([...clients].sort()).toEqual(Array.from({ length: 10 }, (_, g) => `GW-${String(g + 1).padStart(6, '0')}`));
    // A finished burst shows every fault it injected.
    expect(report.faultsNotShown).toEqual([]);
    expect(report.faults.length).toBeGreaterThan(0);
    expect(report.faultDevices).toBeGreaterThan(0);
  });

  it('follows the schedule in simulated time: alarms every 30 s, uploads as gateways collect them', async () => {
    uplinks.length = 0;
    const report = await runCity(options({ mode: 'schedule', processes: 2 }));
    // 120 simulated seconds: every gas alarm and alarm controller (18 % of 1,000) four times.
    expect(report.readingsByKind.home_gas_alarm).toBe(120 * 4);
    expect(report.readingsByKind.alarm_controller).toBe(60 * 4);
    expect(report.readingsByKind.household_meter).toBe(0);
    expect(report.readings).toBe(uplinks.reduce((n, u) => n + u.readings.length, 0));
    for (const u of uplinks) for (const r of u.readings) expect(Date.parse(r.at)).toBeLessThanOrEqual(Date.parse(u.sentAt));
    expect(report.simTo).toBe(new Date(MINUTE - 480_000).toISOString());
  });
});
