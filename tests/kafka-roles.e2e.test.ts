import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { afterAll, expect, it } from 'vitest';
import { KafkaBus } from '../bus/kafka-bus.ts';
import { ManualClock } from '../app/clock.ts';
import { parseSettings, type PipelineConfig } from '../app/config.ts';
import { startPipeline } from '../app/pipeline.ts';
import { createFleet } from '../simulators/fleet.ts';
import { buildScenario, scenarioRegistry } from '../simulators/scenarios.ts';
import { Simulation } from '../simulators/simulation.ts';
import { describeWithServers, ROOT, services } from '../sinks/influx/integration-env.ts';
import { freePort, until as untilWithin } from './support.ts';

const until = <T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000) => untilWithin(what, check, timeoutMs);

/**
 * The scaled-out deployment on the real servers of scripts/services.sh: gateways publish with their
 * own credentials to Mosquitto, an ingest role splits them by shared subscription onto Kafka,
 * processor roles run as separate OS processes in one consumer group, and the alerts role keeps
 * alerts and tickets in PostgreSQL. Mid-stream a third processor joins (a forced rebalance) and
 * one is killed with SIGKILL; every expected alert and ticket must still exist exactly once.
 *
 * Time: readings carry simulated time, which runs ahead of the wall clock that the processors'
 * silence watch uses, so NO_SIGNAL (judged on the clock) is out of scope here, and a last will
 * raises GATEWAY_OFFLINE at once; the embedded scenario tests cover both on a controlled clock.
 * Everything else the `all` scenario provokes is in.
 */

const STEP_MS = 30_000;
const PARTITIONS = 4;
const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

async function metric(httpUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${sample} `) || l.startsWith(`${sample}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

interface RoleProcess {
  name: string;
  child: ChildProcess;
  httpUrl: string;
  exited: Promise<number | null>;
}

describeWithServers(
  { KAFKA_BROKERS: 'kafka', MQTT_URL: 'mosquitto', MQTT_INGEST_PASSWORD: 'mosquitto', TEST_DATABASE_URL: 'postgres' },
  'roles on Kafka, Mosquitto and PostgreSQL',
  (env) => {
    const brokers = env.KAFKA_BROKERS!.split(',');
    const prefix = `e2e.${suffix}.`;
    const dir = mkdtempSync(join(tmpdir(), 'gas-kafka-roles-'));
    const kafkaEnv = {
      KAFKA_BROKERS: env.KAFKA_BROKERS!,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_PARTITIONS: String(PARTITIONS),
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    };
    const kafka = { brokers, topicPrefix: prefix, partitions: PARTITIONS, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 };
    const children: RoleProcess[] = [];
    const cleanup: Array<() => Promise<unknown>> = [];

    afterAll(async () => {
      for (const p of children) p.child.kill('SIGKILL');
      for (const step of cleanup.reverse()) await step().catch(() => undefined);
    }, 60_000);

    /** `npm start` with a role, as a real process, so it can be killed with SIGKILL. */
    async function startRole(role: 'processor' | 'alerts', name: string, registryFile: string, extra: Record<string, string> = {}): Promise<RoleProcess> {
      const httpPort = await freePort();
      const { MQTT_URL, DATABASE_URL, INFLUX_URL, INFLUXQL_URL, CONFIG, ...inherited } = process.env;
      const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts'], {
        cwd: ROOT,
        env: {
          ...inherited,
          ...kafkaEnv,
          ...extra,
          ROLE: role,
          KAFKA_CLIENT_ID: `gas-${name}`,
          REGISTRY: registryFile,
          DATA_DIR: join(dir, name),
          HTTP_PORT: String(httpPort),
          HTTP_HOST: '127.0.0.1',
          LOG_LEVEL: process.env.TEST_CHILD_LOG_LEVEL ?? 'warn',
        },
        stdio: ['ignore', process.env.TEST_CHILD_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const p = { name, child, httpUrl: `http://127.0.0.1:${httpPort}`, exited };
      children.push(p);
      // The API listens only once the role's consumers joined their groups (a processor's with its partitions restored).
      await until(`${name} ready`, async () => (await fetch(`${p.httpUrl}/healthz`)).ok);
      return p;
    }

    it('raises every expected alert and opens every ticket exactly once across a rebalance, a SIGKILLed processor and a SIGKILLed alerts role', async () => {
      const fleet = createFleet({ gateways: 4, devices: 320, seed: 11, stepMs: STEP_MS });
      const registryFile = join(dir, 'registry.json');
      writeFileSync(registryFile, JSON.stringify(scenarioRegistry(buildScenario('all', fleet), fleet)));
      const gatewayIds = [...new Set(fleet.registry().map((r) => r.gatewayId!))];
      const passwords = new Map(gatewayIds.map((id) => [id, `pw-${suffix}-${id}`]));
      await services('start', 'mosquitto', { SERVICES_MQTT_GATEWAYS: [...passwords].map(([id, pw]) => `${id}:${pw}`).join(',') });

      const schema = `kafka_roles_${suffix}`.replace(/[^a-z0-9_]/g, '_');
      const admin = new pg.Client({ connectionString: env.TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA ${schema}`);
      cleanup.push(async () => {
        await admin.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin.end();
      });
      const databaseUrl = `${env.TEST_DATABASE_URL}${env.TEST_DATABASE_URL!.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;

      const base = (role: PipelineConfig['role'], name: string): PipelineConfig => ({
        role,
        kafka: { ...kafka, clientId: `gas-${name}` },
        mqttPort: 0,
        mqttHost: '127.0.0.1',
        mqttClientId: `gas-${name}-${suffix}`,
        httpPort: 0,
        httpHost: '127.0.0.1',
        dataDir: join(dir, name),
        registryFile,
        adminToken: 'kafka-e2e-admin',
        logLevel: 'silent',
        settings: parseSettings({}, 'test settings'),
      });

      // Alerts first, so no alert event waits; then the processors; ingest last, as in a rollout.
      const alertsEnv = { DATABASE_URL: databaseUrl, ADMIN_TOKEN: 'kafka-e2e-admin' };
      let alertsRole = await startRole('alerts', 'alerts', registryFile, alertsEnv);
      // Readings carry simulated time ahead of the processors' wall clock (see above), so a last
      // will is raised at once rather than after a grace judged on that clock.
      const configFile = join(dir, 'processor-config.json');
      // Checkpoints every half second: each round waits for the processors' group to be committed.
      writeFileSync(configFile, JSON.stringify({ silence: { lastWillGraceMs: 0 }, checkpoints: { intervalMs: 500 } }));
      const processorEnv = { CONFIG: configFile };
      await startRole('processor', 'processor-a', registryFile, processorEnv);
      const b = await startRole('processor', 'processor-b', registryFile, processorEnv);
      const simClock = new ManualClock(Date.now());
      const ingestRole = await startPipeline({
        ...base('ingest', 'ingest'),
        mqttUrl: env.MQTT_URL,
        mqttUsername: process.env.MQTT_INGEST_USER ?? 'ingest',
        mqttPassword: env.MQTT_INGEST_PASSWORD,
        mqttSharedGroup: `ingest-${suffix}`,
      }, log, simClock);
      cleanup.push(() => ingestRole.stop());

      const watch = await KafkaBus.start({ ...kafka, clientId: 'gas-e2e-watch' });
      cleanup.push(() => watch.close());
      const backlog = async (): Promise<number> =>
        (await watch.lag([{ group: 'processors', topic: watch.topics.readings }, { group: 'alerts', topic: watch.topics.alertEvents }])).reduce((n, row) => n + row.lag, 0);

      const sim = new Simulation({ url: env.MQTT_URL!, fleet, scenario: 'all', clock: () => simClock.now(), gatewayPasswords: passwords });
      cleanup.push(() => sim.close());
      await sim.connect();
      const rounds = sim.scenario.rounds;
      const joinAt = Math.floor(rounds / 4);
      const killAlertsAt = Math.floor(rounds / 2);
      const killAt = Math.floor((3 * rounds) / 4);
      let killed = 0;
      for (let round = 0; round < rounds; round++) {
        if (round > 0) simClock.advance(STEP_MS);
        if (round === joinAt) await startRole('processor', 'processor-c', registryFile, processorEnv);
        await sim.runRound();
        if (round === killAlertsAt) {
          // The alert store and ticket service die with alert events in hand; restarted on the
          // same data directory and database, they resume from the group's committed offsets.
          alertsRole.child.kill('SIGKILL');
          if ((await alertsRole.exited) === null) killed++;
          alertsRole = await startRole('alerts', 'alerts', registryFile, alertsEnv);
        }
        if (round === killAt) {
          // Mid-stream: whatever B holds uncommitted must reach the survivors, with B's device state.
          b.child.kill('SIGKILL');
          if ((await b.exited) === null) killed++;
        }
        const report = sim.report();
        const sent = report.readings + report.lateReadings;
        await until(`round ${round}: ${sent} readings through ingest`, async () => (await metric(ingestRole.httpUrl, 'gas_ingest_readings_total')) >= sent);
        await until(`round ${round}: processors and alerts caught up`, async () => (await backlog()) === 0);
      }
      expect(killed).toBe(2);

      const token = 'kafka-e2e-admin';
      const api = async <T>(path: string): Promise<T> => {
        const res = await fetch(`${alertsRole.httpUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
        if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
        return (await res.json()) as T;
      };

      const expected = Object.fromEntries(
        sim.expected.filter((e) => e.condition !== 'NO_SIGNAL').map((e) => [`${e.subjectId} ${e.condition}`, { raised: e.raised, cleared: e.cleared }]),
      );
      const seenAlerts = async () => {
        const { items } = await api<{ items: Array<{ deviceId: string; condition: string; state: string }> }>('/alerts?limit=10000');
        const seen: Record<string, { raised: number; cleared: number }> = {};
        for (const a of items) {
          const s = (seen[`${a.deviceId} ${a.condition}`] ??= { raised: 0, cleared: 0 });
          s.raised++;
          if (a.state === 'cleared') s.cleared++;
        }
        return seen;
      };
      // Status messages travel on their own topic; the last clears may trail the readings by a moment.
      await until('every expected alert raised and cleared', async () => JSON.stringify(sortKeys(await seenAlerts())) === JSON.stringify(sortKeys(expected)), 30_000).catch(() => undefined);
      expect(await seenAlerts()).toEqual(expected);
      expect(Object.keys(expected).length).toBeGreaterThan(10);

      // Tickets: one per device or gateway with a technician condition, in PostgreSQL.
      const NOTICES = new Set(['LOW_BALANCE', 'NO_BALANCE']);
      const wanted = new Map<string, Set<string>>();
      for (const e of sim.expected) {
        if (e.condition === 'NO_SIGNAL' || NOTICES.has(e.condition) || e.ticket === false) continue;
        const set = wanted.get(e.subjectId) ?? new Set<string>();
        set.add(e.condition);
        wanted.set(e.subjectId, set);
      }
      const ticketRows = async () => (await admin.query<{ subject_id: string; n: string }>(`SELECT subject_id, count(*) AS n FROM ${schema}.tickets GROUP BY subject_id`)).rows;
      const listTickets = async () => (await api<{ items: Array<{ subjectId: string; conditions: string[] }> }>('/tickets?limit=1000')).items;
      // Device alerts that are no leak wait the storm folder's group window before they reach a ticket.
      await until('every wanted condition on a ticket', async () => {
        const list = await listTickets();
        return [...wanted].every(([id, conditions]) => list.some((t) => t.subjectId === id && [...conditions].every((c) => t.conditions.includes(c))));
      }, 30_000).catch(() => undefined);
      const rows = await ticketRows();
      expect(Object.fromEntries(rows.map((r) => [r.subject_id, Number(r.n)]))).toEqual(Object.fromEntries([...wanted.keys()].map((id) => [id, 1])));
      const tickets = await listTickets();
      for (const t of tickets) expect(t.conditions, `ticket for ${t.subjectId}`).toEqual(expect.arrayContaining([...(wanted.get(t.subjectId) ?? [])]));

      // The surviving processors still serve, and ingest counted every reject.
      const alive = children.filter((p) => p !== b && p.name.startsWith('processor'));
      expect(await Promise.all(alive.map(async (p) => (await fetch(`${p.httpUrl}/healthz`)).ok))).toEqual([true, true]);
      expect(await metric(ingestRole.httpUrl, 'gas_ingest_rejects_total')).toBe(Object.values(sim.expectedRejects).reduce((n, v) => n + (v ?? 0), 0));
      const running = [...alive, alertsRole];
      for (const p of running) p.child.kill('SIGTERM');
      expect(await Promise.all(running.map((p) => p.exited))).toEqual([0, 0, 0]);
    }, 300_000);
  },
);

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}
