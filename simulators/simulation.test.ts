import { Value } from '@sinclair/typebox/value';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import uplinkSchema from '../contracts/uplink-v1.schema.json' with { type: 'json' };
import { DecoderOptionsSchema, UplinkDecoder } from '../ingest/uplink-decoder.ts';
import { createFleet } from './fleet.ts';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios.ts';
import { MemoryLinks, Simulation, type PublishedMessage } from './simulation.ts';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv, ['date-time']);
const validateBatch = ajv.compile(uplinkSchema);

const T0 = Date.parse('2026-11-22T08:00:00.000Z');

interface Batch {
  gatewayId: string;
  seq: number;
  sentAt: string;
  readings: Array<{ deviceId: string; kind: string; at: string; [k: string]: unknown }>;
}

/** Runs a scenario to its end on in-memory links with a fake clock; returns every uplink publish. */
async function capture(scenario: ScenarioName, options: { seed?: number; devices?: number; gateways?: number; rounds?: number; maxBatchReadings?: number } = {}) {
  const fleet = createFleet({ gateways: options.gateways ?? 10, devices: options.devices ?? 200, seed: options.seed ?? 7, stepMs: 30_000 });
  const links = new MemoryLinks();
  const published: PublishedMessage[] = [];
  let now = T0;
  const simulation = new Simulation({
    url: 'mqtt://unused', fleet, scenario, clock: () => now, link: links.factory, maxBatchReadings: options.maxBatchReadings,
    onPublish: (m) => published.push(m),
  });
  await simulation.connect();
  let advanced = 0;
  const report = await simulation.run({ rounds: options.rounds, advance: (ms) => { advanced++; now += ms; } });
  await simulation.close();
  return { simulation, report, published, links, advanced };
}

const text = (p: string | Buffer): string => (typeof p === 'string' ? p : p.toString('utf8'));

describe('Simulation', () => {
  it.each(SCENARIO_NAMES)('%s: every batch validates against the v1 schema, except the deliberately malformed', async (name) => {
    const { published, simulation, report } = await capture(name);
    expect(published.length).toBe(report.upMessages);
    const bad = published.filter((m) => m.kind === 'malformed' || m.kind === 'mixed');
    for (const m of published) {
      if (m.kind === 'malformed' || m.kind === 'mixed') continue;
      const body = JSON.parse(text(m.payload)) as Batch;
      const ok = validateBatch(body);
      expect(ok, `${m.kind} ${m.topic} round ${m.round}: ${ajv.errorsText(validateBatch.errors)}`).toBe(true);
      expect(m.topic).toBe(`gas/v1/${body.gatewayId}/up`);
    }
    for (const m of bad) {
      if (m.malformed === 'not_json') {
        expect(() => JSON.parse(text(m.payload))).toThrow();
        continue;
      }
      // A mismatched gateway and an oversize payload are well-formed batches, refused by other rules.
      const schemaValid = m.malformed === 'gateway_mismatch' || m.malformed === 'oversize';
      expect(validateBatch(JSON.parse(text(m.payload))), `${m.malformed}`).toBe(schemaValid);
    }
    const malformedExpected = Object.keys(simulation.expectedRejects).length > 0;
    expect(bad.length > 0).toBe(malformedExpected);
  });

  it('is deterministic: same seed and clock, same payloads; another seed, other values', async () => {
    const a = await capture('all', { seed: 5 });
    const b = await capture('all', { seed: 5 });
    expect(b.published.map((m) => text(m.payload))).toEqual(a.published.map((m) => text(m.payload)));
    const c = await capture('all', { seed: 6 });
    expect(c.published.map((m) => text(m.payload))).not.toEqual(a.published.map((m) => text(m.payload)));
  });

  it('stamps each round at clock(), numbers batches by one per gateway, and calls advance between rounds', async () => {
    const { published, report, advanced, simulation } = await capture('normal', { rounds: 6 });
    expect(advanced).toBe(5);
    expect(report.rounds).toBe(6);
    expect(report.batches).toBe(6 * 10);
    expect(report.readings).toBe(6 * 200);
    const lastSeq = new Map<string, number>();
    for (const m of published) {
      const body = JSON.parse(text(m.payload)) as Batch;
      expect(body.seq).toBe((lastSeq.get(body.gatewayId) ?? 0) + 1);
      lastSeq.set(body.gatewayId, body.seq);
      const at = new Date(T0 + m.round * 30_000).toISOString();
      expect(body.sentAt).toBe(at);
      for (const r of body.readings) expect(r.at).toBe(at);
      expect(new Set(body.readings.map((r) => r.deviceId)).size).toBe(body.readings.length);
    }
    expect(simulation.expected).toEqual([]);
  });

  it('splits a gateway with more than 5000 devices into several batches a round', async () => {
    const { published, report } = await capture('normal', { gateways: 1, devices: 12_001, rounds: 1 });
    expect(published.map((m) => (JSON.parse(text(m.payload)) as Batch).readings.length)).toEqual([5000, 5000, 2001]);
    expect(published.map((m) => (JSON.parse(text(m.payload)) as Batch).seq)).toEqual([1, 2, 3]);
    expect(report).toMatchObject({ batches: 3, readings: 12_001, upMessages: 3 });
  });

  it('reports exactly what it published, so a run can be checked for loss', async () => {
    const { published, report, simulation } = await capture('all');
    const count = (kind: string) => published.filter((m) => m.kind === kind).length;
    expect(report.batches).toBe(count('batch') + count('mixed'));
    expect(report.duplicateBatches).toBe(count('duplicate'));
    expect(report.lateBatches).toBe(count('late'));
    expect(report.malformedMessages).toBe(count('malformed'));
    expect(report.upMessages).toBe(report.batches + report.duplicateBatches + report.lateBatches + report.malformedMessages);
    const goodReadings = published
      .filter((m) => m.kind === 'batch' || m.kind === 'mixed')
      .reduce((n, m) => n + (JSON.parse(text(m.payload)) as Batch).readings.filter((r) => !r.deviceId.startsWith('SIM-BAD-')).length, 0);
    expect(report.readings).toBe(goodReadings);
    expect(report.bytes).toBe(published.reduce((n, m) => n + Buffer.byteLength(m.payload), 0));
    // Late: the late-duplicate batch, the late-alarm batch and the backfill's backlog sent twice.
    const backfill = simulation.scenario.actions.find((a) => a.type === 'gateway-down' && a.buffer)!;
    const backlog = 2 * simulation.fleet.byGateway[simulation.fleet.gatewayIds.indexOf(backfill.gatewayId)]!.length * (simulation.scenario.actions.find((a) => a.type === 'backfill')!.round - backfill.round);
    expect(report).toMatchObject({ duplicateBatches: 2, lateReadings: 2 + 2 + backlog, malformedMessages: 5, outages: 2, statusMessages: 12 });
    expect(report.faultsInjected).toBe(simulation.scenario.faults.length);
  });

  it('sends malformed traffic that ingest rejects exactly as expectedRejects says', async () => {
    const { published, simulation, report } = await capture('malformed');
    const decoder = new UplinkDecoder(Value.Default(DecoderOptionsSchema, {}) as never);
    const rejects: Record<string, number> = {};
    let goodInMixed = 0;
    for (const m of published) {
      const result = decoder.decode(m.topic, Buffer.from(m.payload), T0 + m.round * 30_000);
      for (const r of result.rejects) rejects[r.reason] = (rejects[r.reason] ?? 0) + 1;
      if (m.kind === 'mixed') goodInMixed = result.batch!.readings.length;
    }
    expect(rejects).toEqual(simulation.expectedRejects);
    expect(report.malformed).toEqual(simulation.expectedRejects);
    expect(goodInMixed).toBe(20);
    const oversize = published.find((m) => m.malformed === 'oversize')!;
    expect(Buffer.byteLength(oversize.payload)).toBeGreaterThan(2 * 1024 * 1024);
  });

  it('drops a gateway with a last will and brings it back online; its devices send nothing meanwhile', async () => {
    const { published, links, simulation } = await capture('gateway-outage');
    const down = simulation.scenario.actions.find((a) => a.type === 'gateway-down')!;
    const up = simulation.scenario.actions.find((a) => a.type === 'gateway-up')!;
    const statuses = links.messages.filter((m) => m.gatewayId === down.gatewayId && m.topic.endsWith('/status'));
    expect(statuses.map((m) => [m.kind, m.payload])).toEqual([['status', '{"online":true}'], ['will', '{"online":false}'], ['status', '{"online":true}']]);
    const rounds = published.filter((m) => m.gatewayId === down.gatewayId).map((m) => m.round);
    for (let r = down.round; r < up.round; r++) expect(rounds).not.toContain(r);
    expect(rounds).toContain(up.round);
    expect(simulation.expected).toEqual([{ subjectId: down.gatewayId, condition: 'GATEWAY_OFFLINE', raised: 1, cleared: 1 }]);
  });

  it('keeps a silent device out of its batches while its gateway reports on', async () => {
    const { published, simulation } = await capture('no-signal');
    const silent = simulation.scenario.faults[0]!;
    for (const m of published) {
      const ids = (JSON.parse(text(m.payload)) as Batch).readings.map((r) => r.deviceId);
      const inWindow = m.round >= silent.fromRound && m.round < silent.toRound;
      if (m.gatewayId === silent.gatewayId) expect(ids.includes(silent.deviceId)).toBe(!inWindow);
    }
  });

  it('re-publishes duplicates unchanged and sends late readings older than ones already sent', async () => {
    const { published } = await capture('late-duplicate');
    const batches = published.filter((m) => m.kind === 'batch').map((m) => text(m.payload));
    for (const d of published.filter((m) => m.kind === 'duplicate')) expect(batches).toContain(text(d.payload));
    const late = published.find((m) => m.kind === 'late')!;
    const body = JSON.parse(text(late.payload)) as Batch;
    const newest = published.filter((m) => m.kind === 'batch' && m.round < late.round).reduce((t, m) => Math.max(t, Date.parse((JSON.parse(text(m.payload)) as Batch).readings[0]!.at)), 0);
    for (const r of body.readings) expect(Date.parse(r.at)).toBeLessThan(newest);
    // Normal readings: no code shown, no gas.
    expect(body.readings.every((r) => !((r.status ?? []) as string[]).some((t) => /ERR|故障/.test(t)) && !(Number(r.lelPct) >= 25))).toBe(true);
  });

  it('late-alarm: sends the alarm\'s 48 %LEL reading and the meter\'s ERR-6 nine minutes after they were measured', async () => {
    const { published } = await capture('late-alarm');
    const late = published.find((m) => m.kind === 'late')!;
    const body = JSON.parse(text(late.payload)) as Batch;
    expect(body.readings.map((r) => r.lelPct ?? r.status)).toEqual([48, ['ERR-6']]);
    expect(T0 + late.round * 30_000 - Date.parse(body.readings[0]!.at)).toBe(540_000);
  });

  it('backfill: a gateway down with a buffer sends nothing while down, then its live batch, then its backlog twice, each reading older than the live batch', async () => {
    const { published, simulation, report } = await capture('backfill');
    const down = simulation.scenario.actions.find((a) => a.type === 'gateway-down')!;
    const up = simulation.scenario.actions.find((a) => a.type === 'gateway-up')!;
    const mine = published.filter((m) => m.gatewayId === down.gatewayId);
    expect(mine.filter((m) => m.round >= down.round && m.round < up.round)).toEqual([]);
    const atUp = mine.filter((m) => m.round === up.round);
    expect(atUp[0]!.kind).toBe('batch');
    const live = JSON.parse(text(atUp[0]!.payload)) as Batch;
    const backlog = atUp.filter((m) => m.kind === 'late').flatMap((m) => (JSON.parse(text(m.payload)) as Batch).readings);
    const perRound = simulation.fleet.byGateway[simulation.fleet.gatewayIds.indexOf(down.gatewayId)]!.length;
    expect(backlog).toHaveLength(2 * perRound * (up.round - down.round));
    expect(report.lateReadings).toBe(backlog.length);
    for (const r of backlog) expect(Date.parse(r.at)).toBeLessThan(Date.parse(live.readings[0]!.at));
    expect(backlog.filter((r) => r.lelPct === 60).length).toBeGreaterThan(0);
  });

  it('refuses a clock that does not move between rounds', async () => {
    const fleet = createFleet({ gateways: 1, devices: 5, seed: 1, stepMs: 30_000 });
    const simulation = new Simulation({ url: 'mqtt://unused', fleet, scenario: 'normal', clock: () => T0, link: new MemoryLinks().factory });
    await simulation.connect();
    await simulation.runRound();
    await expect(simulation.runRound()).rejects.toThrow(/clock did not move forward/);
  });

  it('advances its own sim time by stepMs a round when no clock is given', async () => {
    const fleet = createFleet({ gateways: 1, devices: 5, seed: 1, stepMs: 30_000 });
    const simulation = new Simulation({ url: 'mqtt://unused', fleet, scenario: 'normal', link: new MemoryLinks().factory });
    await simulation.connect();
    const a = await simulation.runRound();
    const b = await simulation.runRound();
    expect(Date.parse(b.at) - Date.parse(a.at)).toBe(30_000);
  });

  it('paces publishing to the rate', async () => {
    const fleet = createFleet({ gateways: 5, devices: 100, seed: 1, stepMs: 30_000 });
    const simulation = new Simulation({ url: 'mqtt://unused', fleet, scenario: 'normal', link: new MemoryLinks().factory });
    await simulation.connect();
    const started = performance.now();
    await simulation.run({ rounds: 4, rate: 1000 });
    // 400 readings at 1000/s: the last batch is due after 380 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(370);
  });
});
