/**
 * What every benchmark shares: the machine it ran on, an HDR histogram in microseconds, and one
 * way to write its result. Each benchmark is one command that writes `bench/out/<name>.json` and
 * prints a short human summary; `bench/report.ts` turns the JSON files into RESULTS.md and its chart.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, getPriority, setPriority, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import { Kafka, logLevel as kafkaLogLevel } from 'kafkajs';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** The result file of one benchmark: the figures in `results`, the parameters that produced them in `params`. */
export interface BenchResult<R = Record<string, unknown>> {
  benchmark: string;
  at: string;
  command: string;
  machine: Machine;
  params: Record<string, unknown>;
  results: R;
  summary: string[];
}

/** Writes the result JSON and prints its summary lines; returns the path written. */
export function writeResult<R>(out: string, result: Omit<BenchResult<R>, 'at' | 'machine' | 'command'>): string {
  const full: BenchResult<R> = {
    benchmark: result.benchmark,
    at: new Date().toISOString(),
    command: `${process.argv0} ${process.argv.slice(1).map((a) => a.replace(process.cwd() + '/', '')).join(' ')}`,
    machine: machine(),
    params: result.params,
    results: result.results,
    summary: result.summary,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(full, null, 2)}\n`);
  for (const line of result.summary) process.stdout.write(`${line}\n`);
  return out;
}

/** One batch size's figures in a throughput run (floors, the Node-RED peer). */
export interface ThroughputRun {
  batchSize: number;
  readings: number;
  messages: number;
  seconds: number;
  readingsPerS: number;
  messagesPerS: number;
  /** Readings seen at the far end: accepted by the decoder, counted by the subscriber or the flow. */
  received: number;
}

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Latencies recorded in microseconds (HDR, 3 significant digits), reported in milliseconds. */
export class LatencyHistogram {
  readonly #h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });

  recordMs(ms: number): void {
    this.#h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.#h.totalCount;
  }

  percentilesMs(): Percentiles {
    const max = this.#h.maxValue;
    // A percentile is the top of its HDR bucket, which can lie just above the largest value recorded.
    const at = (p: number) => Number((Math.min(max, this.#h.getValueAtPercentile(p)) / 1000).toFixed(3));
    return {
      count: this.#h.totalCount,
      p50: at(50),
      p90: at(90),
      p99: at(99),
      p999: at(99.9),
      max: Number((max / 1000).toFixed(3)),
      mean: Number((this.#h.mean / 1000).toFixed(3)),
    };
  }
}

/**
 * Puts the load generator's threads at the lowest CPU priority (nice 19), all but those in `keep`,
 * and returns what puts them back. The load generator stands in for gateways out in the field; on
 * the bench machine it shares two cores with the pipeline under test, and at normal priority its
 * publishing took turns from the pipeline's processes, adding its own time to the leak's latency
 * being measured (Kafka path, 48k readings/s, 600 probes: push p99 62 → 53 ms, p99.9 103 → 64 ms).
 * Linux keeps a nice value per thread, so every thread is set: the main thread alone left V8's
 * GC helpers at normal priority, about 11 % of a core at 51k readings/s. `keep` is the
 * ProberThread's, whose timing must not wait. Its pace is still checked (offered against achieved
 * readings) and its event loop delay reported.
 */
export function lowerLoadPriority(keep: readonly number[]): () => void {
  const lowered: Array<{ tid: number; before: number }> = [];
  for (const entry of readdirSync('/proc/self/task')) {
    const tid = Number(entry);
    if (keep.includes(tid)) continue;
    try {
      lowered.push({ tid, before: getPriority(tid) });
      setPriority(tid, 19);
    } catch {
      // A thread that ended between the listing and here.
    }
  }
  return () => {
    for (const { tid, before } of lowered) {
      try {
        setPriority(tid, before);
      } catch (err) {
        if ((err as { info?: { code?: string } }).info?.code === 'ESRCH') continue;
        // Raising a priority again needs privileges (root or CAP_SYS_NICE).
        process.stderr.write(`the load generator stays at nice 19 (${(err as Error).message}): later phases publish at that priority\n`);
        return;
      }
    }
  };
}

/** The technician every benchmark's alarms are dispatched to. */
export const BENCH_TECHNICIAN = 'tech-bench';

/** An ONCALL file with one team for every district and a technician on site around the clock, so every alarm is dispatched. */
export function writeBenchOncall(file: string): void {
  writeFileSync(file, JSON.stringify({
    people: [
      { id: BENCH_TECHNICIAN, name: '值班技术员 / on-call technician', role: 'technician' },
      { id: 'sup-bench', name: '主管 / supervisor', role: 'supervisor' },
      { id: 'dir-bench', name: '总监 / director', role: 'director' },
    ],
    teams: [{ id: 'team-all', name: 'all districts', districts: ['*'], supervisorId: 'sup-bench', directorId: 'dir-bench' }],
    rotations: [{ teamId: 'team-all', members: [BENCH_TECHNICIAN], shifts: [{ name: 'day', kind: 'on_site', start: '00:00', end: '00:00' }], periodDays: 7, anchorDate: '2026-01-05', timeZone: 'Asia/Shanghai' }],
  }));
}

/** A benchmark CLI's argument errors: the message on stderr under the bench's name, exit 2. */
export function cliArgs(bench: string): { fail(message: string): never; positiveInt(name: string, text: string): number } {
  const fail = (message: string): never => {
    process.stderr.write(`${bench}: ${message}\n`);
    process.exit(2);
  };
  const positiveInt = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) fail(`${name} must be a positive integer, got ${text}`);
    return n;
  };
  return { fail, positiveInt };
}

/** The admin token the benchmarks start their pipelines with. */
export const BENCH_ADMIN_TOKEN = 'bench-admin';

/** Issues an API token (`POST /api/v1/tokens` as the bench admin): an operator's or a technician's. */
export async function issueToken(apiUrl: string, body: Record<string, string>): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST /api/v1/tokens: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

let clockTicks: number | undefined;

/**
 * User plus system CPU seconds a process has used so far, from /proc/<pid>/stat; undefined where
 * there is no /proc or the process is gone.
 */
export function cpuSecondsOf(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may hold spaces and parentheses: fields are counted from its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  clockTicks ??= Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Kafka's own JVM, when scripts/services.sh started it on this machine (every broker on loopback
 * and its pid file alive): its CPU is reported beside the pipeline's. Undefined otherwise.
 */
export function kafkaBrokerPid(brokers: readonly string[]): number | undefined {
  if (!brokers.every((b) => b.startsWith('127.0.0.1:') || b.startsWith('localhost:'))) return undefined;
  try {
    const pid = Number(readFileSync(join(ROOT, '.services', 'kafka', 'kafka.pid'), 'utf8').trim());
    return cpuSecondsOf(pid) === undefined ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** Deletes every topic whose name starts with one of `prefixes`; a failure only leaves topics behind (said on stderr). */
export async function deleteKafkaTopics(brokers: readonly string[], prefixes: readonly string[], bench: string): Promise<void> {
  if (prefixes.length === 0) return;
  const admin = new Kafka({ brokers: [...brokers], clientId: `gas-bench-${bench}-cleanup`, logLevel: kafkaLogLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => prefixes.some((p) => t.startsWith(p)));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  } catch (err) {
    process.stderr.write(`${bench}: Kafka topics ${prefixes.join(', ')}* not deleted: ${(err as Error).message}\n`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** GET a Prometheus /metrics page. */
export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/** The sum of a metric's samples over all label sets in a /metrics page. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
