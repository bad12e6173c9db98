import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteResult } from './api.ts';
import type { BenchResult } from './common.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gas-bench-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench/api.ts at 2 connections, 1 s a route', () => {
  it('loads a read route and a lifecycle action, every answer 2xx', async () => {
    const out = join(dir, 'api.json');
    const { stdout } = await run(process.execPath, [
      '--import', 'tsx', 'bench/api.ts',
      '--devices', '300', '--connections', '2', '--seconds', '1', '--warmup-s', '0.5',
      '--routes', 'alerts-active,ticket-acknowledge', '--out', out,
    ], { timeout: 55_000 });
    // 300 devices: every home alarm and household meter in fault, each with a dispatched ticket.
    expect(stdout).toMatch(/seeded 246 faulty devices of 300: \d+ active alerts, 246 dispatched tickets/);

    const result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult<{ routes: RouteResult[] }>;
    expect(result.benchmark).toBe('api');
    expect(result.command).toContain('bench/api.ts');
    const routes = result.results.routes;
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/alerts?state=active', 'POST /api/v1/tickets/{id}/acknowledge']);
    for (const r of routes) {
      expect(r.connections).toBe(2);
      expect(r.seconds).toBeGreaterThan(0.5);
      expect(r.seconds).toBeLessThan(3);
      expect(r.requests).toBeGreaterThan(5);
      expect(r.requestsPerS).toBe(Math.round(r.requests / r.seconds));
      expect(r.latencyMs.p50).toBeGreaterThan(0);
      expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
      expect(r.latencyMs.p99).toBeLessThanOrEqual(r.latencyMs.max);
      // A refused acknowledge (409: already acknowledged) would mean two requests hit one ticket.
      expect(r.non2xx, JSON.stringify(r.statusCodes)).toBe(0);
      expect(r.errors).toBe(0);
    }
    // Warm-up and measured requests took distinct tickets, never more than were dispatched.
    expect(routes[1]!.requests).toBeLessThanOrEqual(246);
  }, 60_000);
});
