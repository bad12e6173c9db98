/**
 * Checks a city run for loss against a running pipeline: every reading the broker acknowledged was
 * judged (`gas_processor_readings_total` + `gas_processor_late_readings_total`), and every injected
 * fault is an alert (`GET /api/v1/alerts`). Library and command:
 *
 *   npx tsx simulators/city/check.ts --report city-report.json --api http://127.0.0.1:8080 \
 *     --token ADMIN_TOKEN [--metrics http://127.0.0.1:8080/metrics …] [--judged-before N] [--wait-s 30]
 *
 * Prints the result as JSON; exits 1 when a reading or a fault is missing, 2 on bad arguments.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Condition } from '../../contracts/messages.ts';
import type { InjectedFault } from './faults.ts';
import type { CityReport } from './run.ts';

export interface CheckOptions {
  /** The pipeline's HTTP API, e.g. `http://127.0.0.1:8080`. */
  api: string;
  /** A bearer token that may read alerts (the admin token will do). */
  token: string;
  /** Prometheus endpoints of every process that judges readings; summed. Default: `{api}/metrics`. */
  metrics?: string[];
  /** Readings the pipeline had judged before the run (a pipeline that was not fresh). */
  judgedBefore?: number;
  /** Keep looking this long for readings and alerts still on their way, ms (0: look once). */
  waitMs?: number;
}

export interface CheckResult {
  readingsSent: number;
  readingsJudged: number;
  /** Sent but not judged (0 when the pipeline judged more, e.g. other traffic). */
  missingReadings: number;
  faultsInjected: number;
  faultsFound: number;
  missingFaults: InjectedFault[];
  /** Alerts of the injected conditions on devices that were given no such fault: false positives (or another run's). */
  unexpectedAlerts: InjectedFault[];
  /** Nothing lost. */
  ok: boolean;
}

/** The sum of every sample of `name` (no labels) in Prometheus text. */
export function metricValue(text: string, name: string): number {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))) n += Number(m[1]);
  return n;
}

/** Readings judged so far, over the given metrics endpoints: judged plus late. */
export async function readingsJudged(metrics: readonly string[]): Promise<number> {
  let n = 0;
  for (const url of metrics) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    const text = await res.text();
    n += metricValue(text, 'gas_processor_readings_total') + metricValue(text, 'gas_processor_late_readings_total');
  }
  return n;
}

const PAGE = 10_000;
const key = (deviceId: string, condition: string) => `${deviceId} ${condition}`;

async function getAlerts(api: string, token: string, query: Record<string, string>): Promise<Array<{ deviceId: string; condition: Condition }>> {
  const url = `${api.replace(/\/$/, '')}/api/v1/alerts?${new URLSearchParams({ ...query, limit: String(PAGE) })}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { items: Array<{ deviceId: string; condition: Condition }> }).items;
}

/**
 * The injected faults the pipeline has alerted on (active or cleared), and alerts of those
 * conditions on other devices. One query per condition; a condition with more alerts than a page
 * holds is asked device by device for the faults not yet seen.
 */
async function findFaults(faults: readonly InjectedFault[], notShown: readonly InjectedFault[], api: string, token: string): Promise<{ found: Set<string>; unexpected: InjectedFault[] }> {
  const wanted = new Set(faults.map((f) => key(f.deviceId, f.condition)));
  // Injected, but not necessarily shown by this run's readings: neither missing nor unexpected.
  const known = new Set(notShown.map((f) => key(f.deviceId, f.condition)));
  const found = new Set<string>();
  const unexpected: InjectedFault[] = [];
  for (const condition of new Set(faults.map((f) => f.condition))) {
    const items = await getAlerts(api, token, { condition });
    for (const a of items) {
      const k = key(a.deviceId, a.condition);
      if (wanted.has(k)) found.add(k);
      else if (!known.has(k)) unexpected.push({ deviceId: a.deviceId, condition: a.condition });
    }
    if (items.length < PAGE) continue;
    for (const f of faults) {
      if (f.condition !== condition || found.has(key(f.deviceId, condition))) continue;
      if ((await getAlerts(api, token, { condition, deviceId: f.deviceId })).length > 0) found.add(key(f.deviceId, condition));
    }
  }
  return { found, unexpected };
}

/** Compares a run's report with the pipeline, waiting up to `waitMs` for what is still in flight. */
export async function checkCity(report: Pick<CityReport, 'readings' | 'faults'> & Partial<Pick<CityReport, 'faultsNotShown'>>, options: CheckOptions): Promise<CheckResult> {
  const metrics = options.metrics?.length ? options.metrics : [`${options.api.replace(/\/$/, '')}/metrics`];
  const deadline = Date.now() + (options.waitMs ?? 0);
  for (;;) {
    const judged = (await readingsJudged(metrics)) - (options.judgedBefore ?? 0);
    const { found, unexpected } = await findFaults(report.faults, report.faultsNotShown ?? [], options.api, options.token);
    const missingFaults = report.faults.filter((f) => !found.has(key(f.deviceId, f.condition)));
    const missingReadings = Math.max(0, report.readings - judged);
    const ok = missingReadings === 0 && missingFaults.length === 0;
    if (ok || Date.now() >= deadline) {
      return {
        readingsSent: report.readings,
        readingsJudged: judged,
        missingReadings,
        faultsInjected: report.faults.length,
        faultsFound: report.faults.length - missingFaults.length,
        missingFaults,
        unexpectedAlerts: unexpected,
        ok,
      };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const USAGE = `Usage: npx tsx simulators/city/check.ts --report PATH --api URL --token TOKEN [options]

  --report PATH      the city simulator's report (cli.ts --report-out, or its stdout)      required
  --api URL          the pipeline's HTTP API, e.g. http://127.0.0.1:8080                   required
  --token TOKEN      a bearer token that may read alerts (ADMIN_TOKEN will do)            required
  --metrics URL      /metrics of a process that judges readings; repeat for several      default {api}/metrics
  --judged-before N  readings the pipeline had judged before the run                     default 0
  --wait-s S         keep looking this long for readings and alerts still in flight      default 0
`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      strict: true,
      options: {
        report: { type: 'string' }, api: { type: 'string' }, token: { type: 'string' }, metrics: { type: 'string', multiple: true },
        'judged-before': { type: 'string' }, 'wait-s': { type: 'string' }, help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.report || !values.api || !values.token) {
    process.stderr.write(`--report, --api and --token are required\n\n${USAGE}`);
    return 2;
  }
  const report = JSON.parse(readFileSync(values.report, 'utf8')) as CityReport;
  const result = await checkCity(report, {
    api: values.api,
    token: values.token,
    metrics: values.metrics,
    judgedBefore: Number(values['judged-before'] ?? 0),
    waitMs: Number(values['wait-s'] ?? 0) * 1000,
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (!result.ok) {
    process.stderr.write(`loss: ${result.missingReadings} readings not judged, ${result.missingFaults.length} faults not alerted\n`);
    for (const f of result.missingFaults.slice(0, 50)) process.stderr.write(`  missing ${f.condition} on ${f.deviceId}\n`);
  }
  return result.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => (process.exitCode = code), (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
