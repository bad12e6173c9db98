import { describe, expect, it } from 'vitest';
import { CONDITIONS, type Condition, type RejectReason } from '../contracts/messages.ts';
import { createFleet } from './fleet.ts';
import { buildScenario, SCENARIO_NAMES, scenarioRegistry, ScenarioError, suggestDevices, type ScenarioName } from './scenarios.ts';

const fleet = () => createFleet({ gateways: 10, devices: 200, seed: 7, stepMs: 30_000 });
const REJECT_REASONS: readonly RejectReason[] = ['not_json', 'bad_shape', 'gateway_mismatch', 'oversize', 'too_many_readings', 'bad_topic', 'bad_reading', 'unknown_kind', 'timestamp_out_of_range'];
const QUIET: readonly ScenarioName[] = ['normal', 'late-duplicate', 'malformed'];

describe('scenarios', () => {
  it('exports every scenario name', () => {
    expect(SCENARIO_NAMES).toEqual([
      'normal', 'err-codes', 'battery', 'balance', 'overload', 'self-metering', 'count-mismatch', 'count-drift', 'flapping', 'inhibition', 'two-detector', 'report-schedule', 'maintenance', 'leak',
      'detector-offline', 'power', 'no-signal', 'gateway-outage', 'late-duplicate', 'late-alarm', 'backfill', 'malformed', 'all',
    ]);
  });

  it.each(SCENARIO_NAMES.filter((n) => !QUIET.includes(n)))('%s expects valid conditions, each raised once and cleared once (MAINTENANCE_DUE: by its ticket)', (name) => {
    const scenario = buildScenario(name, fleet());
    expect(scenario.expected.length).toBeGreaterThan(0);
    const keys = new Set<string>();
    for (const e of scenario.expected) {
      expect(CONDITIONS).toContain(e.condition);
      // MAINTENANCE_DUE is cleared by a person's resolve of its preventive ticket, which no scenario does.
      expect(e).toMatchObject({ raised: 1, cleared: e.condition === 'MAINTENANCE_DUE' ? 0 : 1 });
      const key = `${e.subjectId} ${e.condition}`;
      expect(keys.has(key), key).toBe(false);
      keys.add(key);
    }
  });

  it.each(QUIET)('%s expects no alert', (name) => {
    expect(buildScenario(name, fleet()).expected).toEqual([]);
  });

  it('malformed expects one reject per bad message and per bad reading, by contract reason', () => {
    const { expectedRejects } = buildScenario('malformed', fleet());
    for (const reason of Object.keys(expectedRejects)) expect(REJECT_REASONS).toContain(reason);
    expect(expectedRejects).toEqual({
      not_json: 1, bad_shape: 1, gateway_mismatch: 1, oversize: 1, too_many_readings: 1,
      bad_reading: 2, unknown_kind: 1, timestamp_out_of_range: 1,
    });
    expect(buildScenario('all', fleet()).expectedRejects).toEqual(expectedRejects);
    expect(buildScenario('leak', fleet()).expectedRejects).toEqual({});
  });

  it.each(SCENARIO_NAMES)('%s holds faults 3+ rounds and recovers them 5+ rounds before it ends', (name) => {
    const scenario = buildScenario(name, fleet());
    for (const f of scenario.faults) {
      expect(f.toRound - f.fromRound, `${f.deviceId} ${f.label}`).toBeGreaterThanOrEqual(3);
      expect(f.fromRound).toBeGreaterThanOrEqual(1);
      expect(scenario.rounds - f.toRound, `${f.deviceId} ${f.label}`).toBeGreaterThanOrEqual(5);
      if (f.effect.silent) expect(f.toRound - f.fromRound).toBeGreaterThanOrEqual(6);
    }
    const down = scenario.actions.filter((a) => a.type === 'gateway-down');
    for (const d of down) {
      const up = scenario.actions.find((a) => a.type === 'gateway-up' && a.gatewayId === d.gatewayId)!;
      expect(up.round - d.round).toBeGreaterThanOrEqual(6);
      expect(scenario.rounds - up.round).toBeGreaterThanOrEqual(5);
    }
  });

  it('maintenance: one flow meter whose registry service date is long past, raised once and left for its ticket to clear', () => {
    const f = fleet();
    const scenario = buildScenario('maintenance', f);
    const [expected] = scenario.expected;
    expect(scenario.expected).toHaveLength(1);
    expect(expected).toMatchObject({ condition: 'MAINTENANCE_DUE', raised: 1, cleared: 0 });
    expect(f.device(expected!.subjectId)?.kind).toBe('flow_meter');
    expect(scenario.faults).toEqual([]);
    expect(scenarioRegistry(scenario, f).find((r) => r.deviceId === expected!.subjectId)).toMatchObject({ kind: 'flow_meter', lastServiceAt: '2026-01-01' });
  });

  it('all covers every condition, on distinct devices clear of the outage', () => {
    const f = fleet();
    const all = buildScenario('all', f);
    const covered = new Set(all.expected.map((e) => e.condition));
    expect([...covered].sort()).toEqual([...CONDITIONS].sort());

    // It is the union of the parts: the same number of each condition.
    const tally = (list: ReadonlyArray<{ condition: Condition }>) => {
      const m = new Map<Condition, number>();
      for (const e of list) m.set(e.condition, (m.get(e.condition) ?? 0) + 1);
      return m;
    };
    const parts = SCENARIO_NAMES.filter((n) => n !== 'all').flatMap((n) => buildScenario(n, fleet()).expected);
    expect(tally(all.expected)).toEqual(tally(parts));

    const outage = all.actions.find((a) => a.type === 'gateway-down')!.gatewayId;
    const faultyDevices = new Map<string, string>();
    for (const e of all.faults) {
      expect(e.gatewayId).not.toBe(outage);
      const owner = faultyDevices.get(e.deviceId);
      // A device carries one story: only the battery, inhibition and two-detector parts chain two episodes on one device.
      if (owner) expect([['battery decaying', '低电 关阀'], ['请换电池', '请换电池 低电 关阀'], ['channel 1 at 60 %LEL', 'channels 1 and 2 at 60 %LEL']]).toContainEqual([owner, e.label]);
      faultyDevices.set(e.deviceId, e.label);
    }
    for (const a of all.actions) if (a.type !== 'gateway-down' && a.type !== 'gateway-up') expect(a.gatewayId).not.toBe(outage);
    const late = all.actions.find((a) => a.type === 'late-batch')!;
    for (const r of late.type === 'late-batch' ? late.readings : []) expect(faultyDevices.has(r.deviceId)).toBe(false);
  });

  it('uses the linked alarm for the linked-valve leak', () => {
    const f = fleet();
    const leak = buildScenario('leak', f);
    const linked = leak.faults.find((e) => e.deviceId === f.linkedAlarm!.alarmId);
    expect(linked?.label).toMatch(/linked/);
    expect(leak.expected.filter((e) => e.subjectId === linked!.deviceId).map((e) => e.condition)).toContain('VALVE_NOT_CUT');
  });

  it('stretches holds for short steps and refuses steps too short to time the faults', () => {
    const short = buildScenario('overload', createFleet({ gateways: 10, devices: 200, seed: 7, stepMs: 15_000 }));
    expect(short.faults[0]!.toRound - short.faults[0]!.fromRound).toBe(8);
    expect(() => buildScenario('overload', createFleet({ gateways: 2, devices: 50, seed: 7, stepMs: 5_000 }))).toThrow(ScenarioError);
    expect(buildScenario('normal', createFleet({ gateways: 2, devices: 50, seed: 7, stepMs: 5_000 })).expected).toEqual([]);
  });

  it('refuses a fleet too small, naming the kind, and suggests one that fits', () => {
    const small = createFleet({ gateways: 4, devices: 40, seed: 7, stepMs: 30_000 });
    expect(() => buildScenario('all', small)).toThrow(/no free .* left .*use more devices/);
    const devices = suggestDevices('all', small.options)!;
    expect(devices).toBeGreaterThan(40);
    expect(() => buildScenario('all', createFleet({ ...small.options, devices }))).not.toThrow();
    expect(() => buildScenario('all', createFleet({ gateways: 1, devices: 400, seed: 7, stepMs: 30_000 }))).toThrow(/2 gateways/);
  });

  it('is deterministic for a fleet', () => {
    expect(buildScenario('all', fleet())).toEqual(buildScenario('all', fleet()));
  });
});
