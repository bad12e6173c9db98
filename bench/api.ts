/**
 * The HTTP API under load: requests/s and latency per route, with autocannon.
 *
 *   npx tsx bench/api.ts [--connections 20] [--seconds 10] [--warmup-s 1] [--devices 5000]
 *     [--routes name,…] [--out bench/out/api.json]
 *
 * The embedded pipeline (broker, ingest, detectors, alert store, PGlite tickets, API) runs in a
 * child process of its own, as in production, so autocannon's client work is not on the server's
 * event loop. It is seeded through MQTT: the simulator fleet of `--devices` reports once, with every
 * home gas alarm over 25 %LEL (red lamp, buzzer) and every household meter showing `ERR-3`, so each
 * of them has active alerts and an open ticket, which the on-call file dispatches to one technician.
 * Silence is judged out of scope (as in soak.ts) so no NO_SIGNAL tickets appear during the run.
 *
 * Then autocannon runs each route for `--seconds` with `--connections` keep-alive connections,
 * after an unmeasured warm-up of `--warmup-s` on the same route:
 * listing active alerts, one device's alerts, tickets by status, one ticket's detail, commenting, and
 * the technician's lifecycle actions acknowledge → on site → resolve. A lifecycle route hits a
 * different ticket with every request (autocannon's per-request setup draws the next id from the
 * tickets in the right status), and stops early when those tickets are used up: its `seconds` is the
 * time it actually ran. Reads go with an operator's token, comments and actions with the assigned
 * technician's. Any non-2xx answer is counted: a refused action would be a bench bug.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeResult, BENCH_TECHNICIAN, writeBenchOncall } from './common.ts';
import { Publisher, type LoadMessage } from './load.ts';
import { createFleet, type WireReading } from '../simulators/fleet.ts';

/** The part of autocannon's programmatic API used here (the package ships no types). */
interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (request: CannonRequest, context: Record<string, unknown>) => CannonRequest;
}
interface CannonOptions {
  url: string;
  connections: number;
  duration: number;
  /** Stops once this many requests were made over all connections. */
  maxOverallRequests?: number;
  headers?: Record<string, string>;
  requests: CannonRequest[];
}
interface CannonResult {
  duration: number;
  requests: { total: number };
  latency: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  statusCodeStats: Record<string, { count: number }>;
}
const autocannon = createRequire(import.meta.url)('autocannon') as (options: CannonOptions) => Promise<CannonResult>;

export interface RouteResult {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  connections: number;
  seconds: number;
  requests: number;
  requestsPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  /** Non-2xx answers by status code, when there were any. */
  statusCodes?: Record<string, number>;
}

const ADMIN_TOKEN = 'bench-api-admin';

// --- the server: the embedded pipeline in a child process, answering the bench over IPC ---------

type ServerRequest = { id: number; op: 'counts' } | { id: number; op: 'tickets'; status?: string } | { id: number; op: 'stop' };

async function serve(dir: string): Promise<void> {
  const { default: pino } = await import('pino');
  const { parseSettings } = await import('../app/config.ts');
  const { startPipeline } = await import('../app/pipeline.ts');
  const pipeline = await startPipeline({
    role: 'all',
    mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-bench', httpPort: 0, httpHost: '127.0.0.1',
    dataDir: join(dir, 'data'), registryFile: join(dir, 'registry.json'), oncallFile: join(dir, 'oncall.json'),
    adminToken: ADMIN_TOKEN, logLevel: 'warn',
    // One ticket per faulty device to load the routes with: the storm folder would make a few incidents of them.
    settings: parseSettings({ silence: { missedReports: 1_000_000, gatewayMissedReports: 1_000_000, gatewayMinSilenceMs: 86_400_000 }, tickets: { stormGroupWaitMs: 0 } }, 'bench'),
  }, pino({ level: 'warn' }));
  const db = pipeline.services!.db;
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= pipeline.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`API server: stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  ));
  process.on('disconnect', () => void stop());
  process.on('message', (m: ServerRequest) => {
    void (async () => {
      let value: unknown;
      if (m.op === 'counts') {
        const rows = await db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM tickets GROUP BY status');
        value = {
          activeAlerts: [...pipeline.alerts!.countActiveByCondition().values()].reduce((a, b) => a + b, 0),
          tickets: Object.fromEntries(rows.map((r) => [r.status, r.n])),
        };
      } else if (m.op === 'tickets') {
        // Straight from the store: the API lists at most 1000 tickets a call.
        const rows = m.status
          ? await db.query<{ id: string }>('SELECT id::text AS id FROM tickets WHERE status = $1 ORDER BY opened_at, id', [m.status])
          : await db.query<{ id: string }>('SELECT id::text AS id FROM tickets ORDER BY opened_at, id');
        value = rows.map((r) => r.id);
      } else {
        await stop();
        return;
      }
      process.send!({ id: m.id, value });
    })().catch((err: unknown) => process.send!({ id: m.id, error: String(err) }));
  });
  process.send!({ ready: true, httpUrl: pipeline.httpUrl, mqttUrl: pipeline.mqttUrl });
}

/** The bench's side of the server process. */
class Server {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  readonly exited: Promise<void>;

  private constructor(child: ChildProcess, readonly httpUrl: string, readonly mqttUrl: string) {
    this.#child = child;
    this.exited = child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (m: { id: number; value?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
  }

  static async start(dir: string): Promise<Server> {
    const script = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--serve', dir], { cwd: dirname(dirname(script)), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    try {
      const ready = await new Promise<{ httpUrl: string; mqttUrl: string }>((resolve, reject) => {
        child.once('message', resolve);
        child.once('exit', (code) => reject(new Error(`API server exited with ${code} before it was ready`)));
        child.once('error', reject);
      });
      return new Server(child, ready.httpUrl, ready.mqttUrl);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  ask<T>(request: { op: 'counts' } | { op: 'tickets'; status?: string }): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ ...request, id });
    });
  }

  /** Stops the pipeline cleanly; kills the process when it has not exited within 30 s. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ op: 'stop', id: 0 });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

// --- the bench ----------------------------------------------------------------------------------

interface Counts {
  activeAlerts: number;
  tickets: Record<string, number>;
}

/** One route under load: fixed, or a fresh path (and body) per request from `keys`. */
interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  as: 'operator' | 'technician';
  body?: unknown;
  /** Ids the route goes through, one per request, round and round; `distinct` uses each once. */
  keys?: () => Promise<string[]>;
  distinct?: boolean;
  pathOf?: (key: string) => string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '20' },
      seconds: { type: 'string', default: '10' },
      'warmup-s': { type: 'string', default: '1' },
      devices: { type: 'string', default: '5000' },
      routes: { type: 'string' },
      out: { type: 'string', default: 'bench/out/api.json' },
    },
  });
  const connections = Number(values.connections);
  const seconds = Number(values.seconds);
  const warmupSeconds = Number(values['warmup-s']);
  const devices = Number(values.devices);
  if (!(connections >= 1 && seconds > 0 && warmupSeconds >= 0 && devices >= 5)) throw new RangeError('--connections ≥ 1, --seconds > 0 and --devices ≥ 5 are needed');

  const dir = mkdtempSync(join(tmpdir(), 'gas-bench-api-'));
  writeBenchOncall(join(dir, 'oncall.json'));
  const fleet = createFleet({ gateways: Math.max(1, Math.ceil(devices / 100)), devices, seed: 1, stepMs: 30_000 });
  writeFileSync(join(dir, 'registry.json'), JSON.stringify(fleet.registry()));
  mkdirSync(join(dir, 'data'));

  const server = await Server.start(dir);
  try {
    const rows = await bench(server, fleet, { connections, seconds, warmupSeconds, only: values.routes?.split(',') });
    const problems = rows.filter((r) => r.non2xx > 0 || r.errors > 0);
    writeResult(values.out, {
      benchmark: 'api',
      params: { connections, seconds, warmupSeconds, devices, routes: rows.map((r) => r.name) },
      results: { routes: rows },
      summary: [
        ...rows.map((r) => `${r.name.padEnd(20)} ${r.method} ${r.path}: ${r.requestsPerS} req/s over ${r.seconds} s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms${r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`),
        problems.length === 0 ? 'every answer 2xx' : `non-2xx or errors on: ${problems.map((r) => `${r.name} ${JSON.stringify(r.statusCodes ?? {})}`).join(', ')}`,
      ],
    });
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function bench(server: Server, fleet: ReturnType<typeof createFleet>, o: { connections: number; seconds: number; warmupSeconds: number; only?: string[] }): Promise<RouteResult[]> {
  const api = `${server.httpUrl}/api/v1`;
  const token = async (body: Record<string, string>): Promise<string> => {
    const res = await fetch(`${api}/tokens`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };
  const tokens = {
    operator: await token({ name: 'bench operator', role: 'operator' }),
    technician: await token({ name: 'bench technician', role: 'technician', personId: BENCH_TECHNICIAN }),
  };

  // Seed: every home alarm in alarm, every household meter showing ERR-3, the rest well.
  const at = new Date().toISOString();
  const faulty: string[] = [];
  const messages: LoadMessage[] = fleet.byGateway.map((members, g) => {
    const gatewayId = fleet.gatewayIds[g]!;
    const readings = members.map((device): WireReading => {
      fleet.advance(device);
      const r = fleet.reading(device, at);
      if (device.kind === 'home_gas_alarm') {
        faulty.push(device.deviceId);
        return { ...r, lelPct: 40, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent' };
      }
      if (device.kind === 'household_meter') {
        faulty.push(device.deviceId);
        return { ...r, status: ['ERR-3'] };
      }
      return r;
    });
    return { topic: `gas/v1/${gatewayId}/up`, payload: Buffer.from(JSON.stringify({ gatewayId, seq: 1, sentAt: at, readings })), readings: readings.length };
  });
  const publisher = await Publisher.connect({ url: server.mqttUrl, clients: 2, clientIdPrefix: 'bench-api' });
  const seedStart = performance.now();
  try {
    await publisher.publishAll(messages);
  } finally {
    await publisher.close();
  }
  const deadline = Date.now() + 60_000 + 100 * faulty.length;
  let counts: Counts;
  // Every faulty device gets one ticket, dispatched to the technician.
  while ((counts = await server.ask<Counts>({ op: 'counts' })).tickets.dispatched !== faulty.length) {
    if (Date.now() > deadline) throw new Error(`seeding: ${faulty.length} dispatched tickets expected, have ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (counts.activeAlerts < faulty.length) throw new Error(`seeding: ${faulty.length} devices in fault but only ${counts.activeAlerts} active alerts`);
  process.stdout.write(`seeded ${faulty.length} faulty devices of ${fleet.devices.length}: ${counts.activeAlerts} active alerts, ${faulty.length} dispatched tickets, ${((performance.now() - seedStart) / 1000).toFixed(1)} s from the first publish\n`);

  const tickets = (status?: string) => () => server.ask<string[]>({ op: 'tickets', status });
  const scenarios: Scenario[] = [
    { name: 'alerts-active', method: 'GET', path: '/api/v1/alerts?state=active', as: 'operator' },
    { name: 'alerts-by-device', method: 'GET', path: '/api/v1/alerts?deviceId={deviceId}', as: 'operator', keys: async () => faulty, pathOf: (id) => `/api/v1/alerts?deviceId=${encodeURIComponent(id)}` },
    { name: 'tickets-by-status', method: 'GET', path: '/api/v1/tickets?status=dispatched', as: 'operator' },
    { name: 'ticket-detail', method: 'GET', path: '/api/v1/tickets/{id}', as: 'operator', keys: tickets(), pathOf: (id) => `/api/v1/tickets/${id}` },
    { name: 'ticket-comment', method: 'POST', path: '/api/v1/tickets/{id}/comments', as: 'technician', body: { body: '已到达小区，正在排查 / on site, checking' }, keys: tickets(), pathOf: (id) => `/api/v1/tickets/${id}/comments` },
    { name: 'ticket-acknowledge', method: 'POST', path: '/api/v1/tickets/{id}/acknowledge', as: 'technician', body: {}, keys: tickets('dispatched'), distinct: true, pathOf: (id) => `/api/v1/tickets/${id}/acknowledge` },
    { name: 'ticket-on-site', method: 'POST', path: '/api/v1/tickets/{id}/on-site', as: 'technician', body: {}, keys: tickets('acknowledged'), distinct: true, pathOf: (id) => `/api/v1/tickets/${id}/on-site` },
    { name: 'ticket-resolve', method: 'POST', path: '/api/v1/tickets/{id}/resolve', as: 'technician', body: { remedyDone: '更换电池，复位报警器 / battery replaced, alarm reset' }, keys: tickets('on_site'), distinct: true, pathOf: (id) => `/api/v1/tickets/${id}/resolve` },
  ];
  const unknown = (o.only ?? []).filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`--routes: no such route ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);

  const rows: RouteResult[] = [];
  for (const s of scenarios) {
    if (o.only && !o.only.includes(s.name)) continue;
    rows.push(await runScenario(s, server.httpUrl, tokens[s.as], o.connections, o.seconds, o.warmupSeconds));
  }
  return rows;
}

async function runScenario(s: Scenario, url: string, token: string, connections: number, seconds: number, warmupSeconds: number): Promise<RouteResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (s.body !== undefined) headers['content-type'] = 'application/json';
  const body = s.body === undefined ? undefined : JSON.stringify(s.body);
  const request: CannonRequest = { method: s.method, path: s.path, headers, body };
  // A lifecycle route's tickets, each used once.
  let pool: string[] | undefined;
  let i = 0;
  if (s.keys) {
    const keys = await s.keys();
    if (keys.length === 0) throw new Error(`${s.name}: nothing to request (run it after the route before it)`);
    if (s.distinct && keys.length < 2 * connections) {
      throw new Error(`${s.name}: ${keys.length} tickets in the status it needs, too few for ${connections} connections (run it after the action before it, with more --devices)`);
    }
    if (s.distinct) pool = keys;
    // Autocannon sets up exactly one request per request it sends, so each takes the next key.
    request.setupRequest = (req) => {
      const key = s.distinct ? keys[i++] : keys[i++ % keys.length];
      // Past the end only if the bench miscounted: the 404 shows up as non-2xx.
      return { ...req, path: key === undefined ? `/api/v1/tickets/bench-pool-used-up` : s.pathOf!(key) };
    };
  }
  const cannon = (duration: number, max?: number) => autocannon({ url, connections, duration, maxOverallRequests: max, requests: [{ ...request }] });
  if (warmupSeconds > 0) {
    // Unmeasured: the route's code is compiled and its caches filled first. A lifecycle route spends at most a tenth of its tickets on it.
    await cannon(warmupSeconds, pool && Math.max(connections, Math.floor(pool.length / 10)));
  }
  const left = pool && pool.length - i;
  if (left !== undefined && left < connections) throw new Error(`${s.name}: ${left} tickets left after the warm-up, fewer than ${connections} connections (seed more with --devices)`);
  const r = await cannon(seconds, left);
  const non2xxCodes = Object.entries(r.statusCodeStats).filter(([code]) => !code.startsWith('2'));
  return {
    name: s.name,
    method: s.method,
    path: s.path,
    connections,
    seconds: r.duration,
    requests: r.requests.total,
    requestsPerS: Math.round(r.requests.total / r.duration),
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors,
    ...(non2xxCodes.length > 0 ? { statusCodes: Object.fromEntries(non2xxCodes.map(([code, v]) => [code, v.count])) } : {}),
  };
}

const serveIndex = process.argv.indexOf('--serve');
if (serveIndex >= 0) await serve(process.argv[serveIndex + 1]!);
else await main();
