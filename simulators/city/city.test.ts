import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRegistryFile, recordProblem } from '../../registry/device-registry.ts';
import { City, shardGateways, type CityOptions } from './city.ts';
import { CityReadings } from './readings.ts';
import { writeRegistry } from './run.ts';
import { Shard, type ShardOptions } from './shard.ts';

const options = (over: Partial<CityOptions> = {}): CityOptions => ({ meters: 2_000, gateways: 37, seed: 7, faultShare: 0.05, hourlyMeters: false, ...over });

function shardOptions(city: CityOptions, shard: number, shards: number): ShardOptions {
  return {
    city, mode: 'burst', url: 'mqtt://127.0.0.1:1', shard, shards, batch: 100, window: 8, seqStart: 1, connectConcurrency: 1,
    link: { ackTimeoutMs: 1000, retryMinMs: 10, retryMaxMs: 100, maxAttempts: 1 },
    burstMinuteMs: Date.UTC(2026, 10, 21, 16, 0),
    schedule: { meterReportAtMin: 0, utcOffsetMin: 480, meterSpreadS: 60, startMs: 0, endMs: 0, speed: 1, uploadS: 30, tickMs: 100 },
  };
}

describe('City', () => {
  it('derives the same devices, faults and values from the same seed, and others from another', () => {
    const a = new City(options());
    const b = new City(options());
    const c = new City(options({ seed: 8 }));
    const facts = (city: City, i: number) => [city.deviceId(i), city.kindOf(i), city.gatewayOf(i), city.valveOf(i), city.faultOf(i) ?? ''].join(' ');
    const indices = Array.from({ length: 2_000 }, (_, i) => i);
    // Visited in different orders: nothing depends on what was asked before.
    expect(indices.map((i) => facts(a, i))).toEqual([...indices].reverse().map((i) => facts(b, i)).reverse());
    expect(indices.map((i) => facts(c, i))).not.toEqual(indices.map((i) => facts(a, i)));
    const at = Date.UTC(2026, 10, 22);
    expect(indices.map((i) => new CityReadings(a).reading(i, at))).toEqual(indices.map((i) => new CityReadings(b).reading(i, at)));
  });

  it('keeps the fleet kind mix in every block of 50 devices and gives every device one id', () => {
    const city = new City(options());
    const counts: Record<string, number> = {};
    const ids = new Set<string>();
    for (let i = 0; i < city.meters; i++) {
      counts[city.kindOf(i)] = (counts[city.kindOf(i)] ?? 0) + 1;
      ids.add(city.deviceId(i));
      expect(city.indexOf(city.deviceId(i))).toBe(i);
    }
    expect(counts).toEqual({ household_meter: 1_400, home_gas_alarm: 240, industrial_controller: 120, flow_meter: 120, alarm_controller: 120 });
    expect(ids.size).toBe(2_000);
    expect([...ids].filter((id) => id.startsWith('HM-')).sort().slice(0, 2)).toEqual(['HM-00000001', 'HM-00000002']);
    expect(city.indexOf('HM-09999999')).toBe(-1);
  });

  it('links home alarms to a household meter on the same gateway, polled before them', () => {
    const city = new City(options());
    let linked = 0;
    for (let i = 0; i < city.meters; i++) {
      const valve = city.valveOf(i);
      if (valve < 0) continue;
      linked++;
      expect(city.kindOf(i)).toBe('home_gas_alarm');
      expect(city.kindOf(valve)).toBe('household_meter');
      expect(city.gatewayOf(valve)).toBe(city.gatewayOf(i));
      expect(valve).toBeLessThan(i);
      expect(city.isLinkedValve(valve)).toBe(true);
      expect(city.faultOf(valve)).not.toBe('meter-self-metering');
    }
    expect(linked).toBeGreaterThan(40);
  });

  it('shards cover every gateway and every device exactly once, whatever the shard count', () => {
    const city = options({ meters: 1_003, gateways: 37 });
    for (const shards of [1, 2, 3, 7, 37]) {
      const seen = new Uint8Array(city.meters);
      const gateways = new Uint8Array(city.gateways);
      for (let p = 0; p < shards; p++) {
        const shard = new Shard(shardOptions(city, p, shards));
        const { from, to } = shardGateways(city.gateways, p, shards);
        for (let g = from; g < to; g++) gateways[g]!++;
        let n = 0;
        for (const i of shard.devices()) {
          seen[i]!++;
          n++;
          expect(shard.city.gatewayOf(i)).toBeGreaterThanOrEqual(from);
          expect(shard.city.gatewayOf(i)).toBeLessThan(to);
        }
        expect(shard.deviceCount).toBe(n);
      }
      expect([...seen].every((x) => x === 1)).toBe(true);
      expect([...gateways].every((x) => x === 1)).toBe(true);
    }
  });

  it('builds the same burst bytes for a gateway whichever process and shard count builds it', () => {
    const city = options({ meters: 500, gateways: 10 });
    const payloads = (shards: number) => {
      const out = new Map<string, string[]>();
      for (let p = 0; p < shards; p++) {
        const shard = new Shard(shardOptions(city, p, shards));
        shard.prepare();
        for (const g of shard.preparedPayloads()) out.set(g.gatewayId, g.payloads.map((b) => b.toString()));
      }
      return out;
    };
    const one = payloads(1);
    expect(one.size).toBe(10);
    expect(payloads(3)).toEqual(one);
  });

  it('writes a lean registry that the pipeline reads and validates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'city-registry-'));
    try {
      const file = join(dir, 'registry.json');
      const bytes = await writeRegistry(options(), file);
      const records = readRegistryFile(file);
      expect(records).toHaveLength(2_000);
      expect(bytes).toBeLessThan(2_000 * 130);
      const city = new City(options());
      expect(records[0]).toEqual(city.record(0));
      for (const r of records) {
        expect(recordProblem(r)).toBeUndefined();
        expect(Object.keys(r).sort()).toEqual(['deviceId', 'gatewayId', 'kind', 'reportIntervalS', ...(r.valveId ? ['valveId'] : [])].sort());
      }
      expect(new Set(records.map((r) => r.reportIntervalS))).toEqual(new Set([86_400, 3_600, 30]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
