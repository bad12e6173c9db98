import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { CONDITIONS } from '../contracts/messages.ts';
import { createFleet } from '../simulators/fleet.ts';
import { buildScenario, SCENARIO_NAMES, scenarioRegistry, type ScenarioName } from '../simulators/scenarios.ts';
import { Simulation } from '../simulators/simulation.ts';
import { startTestPipeline, type AlertItem, type TestPipeline } from './harness.ts';

const STEP_MS = 30_000;

/** Counts what reached the processors, so a round is over only when all of it was judged. */
async function judged(p: TestPipeline): Promise<number> {
  return (await p.metric('gas_processor_readings_total')) + (await p.metric('gas_processor_late_readings_total'));
}

async function rejected(p: TestPipeline): Promise<Record<string, number>> {
  const text = await (await fetch(`${p.httpUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^gas_ingest_rejects_total\{reason="([a-z_]+)"\} (\d+)$/gm)) if (Number(m[2]) > 0) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * Drives one simulator scenario through real MQTT into the embedded pipeline, round by round on a
 * shared fake clock, and checks through the HTTP API that every expected condition was raised and
 * cleared exactly once, that nothing else was raised, and that every bad message was counted.
 */
async function runScenario(name: ScenarioName, gateways: number, devices: number) {
  const clock = new ManualClock(Date.now() - 6 * 3_600_000);
  const fleet = createFleet({ gateways, devices, seed: 42, stepMs: STEP_MS });
  const dir = mkdtempSync(join(tmpdir(), 'gas-registry-'));
  const registryFile = join(dir, 'registry.json');
  // With the fields some scenarios need (a confirmation rule, a report schedule).
  writeFileSync(registryFile, JSON.stringify(scenarioRegistry(buildScenario(name, fleet), fleet)));
  const pipeline = await startTestPipeline({ clock, registryFile });
  const sim = new Simulation({ url: pipeline.mqttUrl, fleet, scenario: name, clock: () => clock.now() });
  try {
    await sim.connect();
    for (let round = 0; round < sim.scenario.rounds; round++) {
      if (round > 0) clock.advance(STEP_MS);
      await sim.runRound();
      const report = sim.report();
      const sent = report.readings + report.lateReadings;
      await pipeline.until(`round ${round}: ${sent} readings judged`, async () => (await judged(pipeline)) >= sent);
      await pipeline.processor.checkSilence();
    }
    const expectedRejects = Object.fromEntries(Object.entries(sim.expectedRejects).filter(([, n]) => n! > 0));
    await pipeline.until('every bad message counted', async () => JSON.stringify(await rejected(pipeline)) === JSON.stringify(expectedRejects) || undefined, 5_000).catch(async () => {
      expect(await rejected(pipeline)).toEqual(expectedRejects);
    });

    const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=10000');
    const seen = new Map<string, { raised: number; cleared: number }>();
    for (const a of items) {
      const key = `${a.deviceId} ${a.condition}`;
      const s = seen.get(key) ?? { raised: 0, cleared: 0 };
      s.raised++;
      if (a.state === 'cleared') s.cleared++;
      seen.set(key, s);
      expect(a.cause, `${key} has the manual's cause`).toMatch(/\S+ \/ \S+/);
      expect(a.remedy, `${key} has the manual's remedy`).toMatch(/\S+ \/ \S+/);
    }
    const expected = new Map(sim.expected.map((e) => [`${e.subjectId} ${e.condition}`, { raised: e.raised, cleared: e.cleared }]));
    expect(Object.fromEntries(seen)).toEqual(Object.fromEntries(expected));
    return { sim, items };
  } finally {
    await sim.close();
    await pipeline.close();
  }
}

describe('simulator scenarios through the embedded pipeline', () => {
  it('raises and clears every condition exactly once in the all scenario', async () => {
    const { items } = await runScenario('all', 5, 400);
    const conditions = new Set(items.map((a) => a.condition));
    expect([...CONDITIONS].filter((c) => !conditions.has(c))).toEqual([]);
  }, 120_000);

  it.each(SCENARIO_NAMES.filter((n) => n !== 'all'))('scenario %s: expected alerts exactly once, nothing else', async (name) => {
    await runScenario(name, 3, 80);
  }, 60_000);
});
