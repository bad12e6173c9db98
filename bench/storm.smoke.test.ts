import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult, Percentiles } from './common.ts';
import type { Storm, StormPhase } from './report.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-storm-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectOrdered(p: Percentiles, count: number): void {
  expect(p.count).toBe(count);
  expect(p.p50).toBeGreaterThan(0);
  expect(p.p50).toBeLessThanOrEqual(p.p99);
  expect(p.p99).toBeLessThanOrEqual(p.max);
}

function expectLeaksAnswered(p: StormPhase): void {
  // The leak went on through the phase, and every leak reached both streams.
  expect(p.leaks.sent, p.name).toBeGreaterThanOrEqual(3);
  expect(p.leaks.alertLost, p.name).toBe(0);
  expect(p.leaks.pushLost, p.name).toBe(0);
  expect(p.leaks.alertSeen + p.leaks.alertLost).toBe(p.leaks.sent);
  expect(p.leaks.pushSeen + p.leaks.pushLost).toBe(p.leaks.sent);
  expectOrdered(p.alertLatencyMs, p.leaks.sent);
  expectOrdered(p.pushLatencyMs, p.leaks.sent);
  // /healthz answered 200 all along, polled about every 100 ms.
  expect(p.healthz.errors, p.name).toBe(0);
  expect(p.healthz.non200, p.name).toBe(0);
  expect(p.healthz.latencyMs.count).toBeGreaterThanOrEqual(Math.floor(p.seconds * 3));
  expect(p.eventLoop.samples).toBeGreaterThan(0);
  // /proc is there on Linux: the pipeline's CPU over the phase, and the machine's load.
  if (process.platform === 'linux') expect(p.pipelineCpuPct).toBeGreaterThan(0);
  expect(p.loadAvg1).toBeGreaterThanOrEqual(0);
  expect(p.eventLoop.maxMs).toBeGreaterThan(0);
  expect(p.eventLoop.maxMs).toBeGreaterThanOrEqual(p.eventLoop.worstP99Ms);
  expect(p.slowestLeaks).toHaveLength(3);
  // The slowest leak is the push histogram's max (one rounded to 0.1 ms, the other to 1 µs).
  expect(Math.abs(p.slowestLeaks[0]!.pushMs! - p.pushLatencyMs.max)).toBeLessThanOrEqual(0.06);
}

describe('bench/storm.ts at 200 devices on 2 gateways', () => {
  it('keeps pushing the leak through a fault storm and a silence storm, and tickets both storms', async () => {
    const out = join(dir, 'storm.json');
    const { stdout } = await run(process.execPath, [
      '--import', 'tsx', 'bench/storm.ts', '--devices', '200', '--gateways', '2', '--window-s', '3', '--report-interval-s', '2', '--ticket-timeout-s', '20', '--out', out,
    ], { timeout: 55_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toContain('storm: a leak every 500 ms against 200 home gas alarms on 2 gateways per storm');
    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<Storm>;
    expect(result.benchmark).toBe('storm');
    expect(result.command).toContain('bench/storm.ts');
    const r = result.results;
    expect(r.devices).toBe(200);
    expect(r.gateways).toBe(2);
    expect(r.phases.map((p) => p.name)).toEqual(['baseline', 'fault-storm', 'silence-storm']);
    for (const p of r.phases) expectLeaksAnswered(p);
    expect(r.lost).toEqual({ alert: 0, push: 0 });
    expect(r.unexpectedAlerts).toEqual({});

    const [baseline, fault, silence] = r.phases as [StormPhase, StormPhase, StormPhase];
    expect(baseline.tickets).toBeUndefined();
    // Fault storm: POWER_LOST on all 200 in one district, folded into one district incident.
    const f = fault.tickets!;
    expect(f.stormDevices).toBe(200);
    expect(f.covered).toBe(200);
    expect(f.tickets).toBe(1);
    expect(f.alertsExpected).toBe(200);
    expect(f.alertsSeen).toBe(200);
    expect(f.ticketsCompleteS).toBeGreaterThan(0);
    expect(f.alertsCompleteS).not.toBeNull();
    expect(f.alertsCompleteS!).toBeLessThanOrEqual(f.ticketsCompleteS!);
    // Silence storm: one gateway silent (GATEWAY_OFFLINE listing its 100 devices), 100 NO_SIGNAL behind the live one (a district incident).
    const s = silence.tickets!;
    expect(s.covered).toBe(200);
    expect(s.offlineGateways).toBe(1);
    expect(s.devicesListedOnGatewayTickets).toBe(100);
    expect(s.tickets).toBe(2);
    expect(s.alertsExpected).toBe(101);
    expect(s.alertsSeen).toBe(101);
    expect(s.detectionFloorS).toBe(4);
    // Nothing can fire before the settings allow it.
    expect(s.alertsCompleteS!).toBeGreaterThanOrEqual(s.detectionFloorS! - 0.5);
    expect(s.ticketsCompleteS!).toBeGreaterThanOrEqual(s.alertsCompleteS!);
    // The leaks until the storm was ticketed: a part of the phase's.
    for (const p of [fault, silence]) {
      // One figure to 0.1 s, the other to 1 ms.
      expect(Math.abs(p.whileStorming!.seconds - p.tickets!.ticketsCompleteS!)).toBeLessThanOrEqual(0.051);
      expect(p.whileStorming!.leaks).toBeGreaterThanOrEqual(Math.floor(p.whileStorming!.seconds * 2) - 1);
      expect(p.whileStorming!.leaks).toBeLessThanOrEqual(p.leaks.sent);
      expect(p.whileStorming!.pushLatencyMs.count).toBe(p.whileStorming!.leaks);
      expect(p.whileStorming!.pushLatencyMs.max).toBeLessThanOrEqual(p.pushLatencyMs.max);
    }
    // Each storm phase lasted until its tickets existed.
    expect(fault.seconds).toBeGreaterThanOrEqual(Math.floor(f.ticketsCompleteS!));
    expect(silence.seconds).toBeGreaterThanOrEqual(Math.floor(s.ticketsCompleteS!));

    const ratio = (p: StormPhase) => Number((p.pushLatencyMs.p99 / baseline.pushLatencyMs.p99).toFixed(2));
    expect(r.pushP99Ratio).toEqual({ faultStorm: ratio(fault), silenceStorm: ratio(silence) });
    // One sample a second from the baseline on, each in its phase.
    expect(r.series.length).toBeGreaterThanOrEqual(r.phases.reduce((n, p) => n + Math.floor(p.seconds), 0) - 3);
    expect(new Set(r.series.map((x) => x.phase))).toEqual(new Set(['baseline', 'fault-storm', 'silence-storm']));
    expect(r.streams.alertEvents).toBeGreaterThan(300);
    expect(r.streams.pushEvents).toBeGreaterThan(r.phases.reduce((n, p) => n + p.leaks.sent, 0));
  }, 60_000);
});
