import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, expect, it } from 'vitest';
import { ManualClock } from '../app/clock.ts';
import { createFleet } from '../simulators/fleet.ts';
import { buildScenario, scenarioRegistry } from '../simulators/scenarios.ts';
import { Simulation } from '../simulators/simulation.ts';
import { describeWithServer, services } from '../sinks/influx/integration-env.ts';
import { startTestPipeline, type AlertItem, type TestPipeline } from './harness.ts';
import { freePort } from './support.ts';

interface TicketItem {
  deviceId: string;
  conditions: string[];
  deviceNormalAt: string | null;
}

/**
 * Faults injected into real servers while the simulator's `all` scenario runs: every injected
 * device fault must still end as exactly one alert, and no reading may be lost. Each test starts
 * its own instance of the server it breaks (own port, own data directory), so the suites that
 * share the CI servers are not disturbed.
 */

const STEP_MS = 30_000;

async function judged(p: TestPipeline): Promise<number> {
  return (await p.metric('gas_processor_readings_total')) + (await p.metric('gas_processor_late_readings_total'));
}

function tally(items: readonly AlertItem[]): Record<string, { raised: number; cleared: number }> {
  const seen: Record<string, { raised: number; cleared: number }> = {};
  for (const a of items) {
    const s = (seen[`${a.deviceId} ${a.condition}`] ??= { raised: 0, cleared: 0 });
    s.raised++;
    if (a.state === 'cleared') s.cleared++;
  }
  return Object.fromEntries(Object.entries(seen).sort(([a], [b]) => a.localeCompare(b)));
}

describeWithServer('MQTT_URL', 'mosquitto', 'fault injection', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }, 60_000);

  /**
   * Runs the `all` scenario round by round on a fake clock and checks that every reading was judged,
   * every expected alert raised and cleared exactly once and every faulty device and gateway got
   * exactly one ticket; `fault` runs beside one middle round.
   */
  async function scenarioThrough(options: { mqtt?: { url: string; username: string; password: string }; kafka?: { brokers: string[]; topicPrefix: string }; passwords?: Map<string, string> }, fleet: ReturnType<typeof createFleet>, fault: () => Promise<void>) {
    const dir = mkdtempSync(join(tmpdir(), 'gas-fault-'));
    const registryFile = join(dir, 'registry.json');
    // The scenario's own registry fields (report schedules, confirmation rules, service dates) belong to its devices.
    writeFileSync(registryFile, JSON.stringify(scenarioRegistry(buildScenario('all', fleet), fleet)));
    const clock = new ManualClock(Date.now() - 6 * 3_600_000);
    const pipeline = await startTestPipeline({
      clock,
      registryFile,
      mqtt: options.mqtt,
      kafka: options.kafka && { ...options.kafka, partitions: 3, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    });
    cleanup.push(() => pipeline.close());
    const sim = new Simulation({ url: options.mqtt?.url ?? pipeline.mqttUrl, fleet, scenario: 'all', clock: () => clock.now(), gatewayPasswords: options.passwords });
    cleanup.push(() => sim.close());
    await sim.connect();

    const faultAt = Math.floor(sim.scenario.rounds / 2);
    for (let round = 0; round < sim.scenario.rounds; round++) {
      if (round > 0) clock.advance(STEP_MS);
      if (round === faultAt) await Promise.all([sim.runRound(), fault()]);
      else await sim.runRound();
      const report = sim.report();
      const sent = report.readings + report.lateReadings;
      await pipeline.until(`round ${round}: ${sent} readings judged`, async () => (await judged(pipeline)) >= sent, 60_000);
      await pipeline.processor.checkSilence();
    }

    const report = sim.report();
    expect(await judged(pipeline)).toBe(report.readings + report.lateReadings);
    const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=10000');
    const expected = Object.fromEntries(sim.expected.map((e) => [`${e.subjectId} ${e.condition}`, { raised: e.raised, cleared: e.cleared }]).sort(([a], [b]) => String(a).localeCompare(String(b))));
    await pipeline.until('every alert applied', async () => JSON.stringify(tally((await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=10000')).items)) === JSON.stringify(expected), 15_000).catch(() => undefined);
    expect(tally((await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=10000')).items)).toEqual(expected);
    expect(items.length).toBeGreaterThan(0);

    // One ticket per faulty device or gateway, gathering its conditions (balance faults are customer notices, a late non-safety fault is only recorded).
    const wanted = new Map<string, Set<string>>();
    for (const e of sim.expected) {
      if (e.condition === 'LOW_BALANCE' || e.condition === 'NO_BALANCE' || e.ticket === false) continue;
      wanted.set(e.subjectId, (wanted.get(e.subjectId) ?? new Set()).add(e.condition));
    }
    const tickets = await pipeline.until('a ticket for every faulty device and gateway', async () => {
      const list = (await pipeline.get<{ items: Array<{ subjectId: string; conditions: string[] }> }>('/tickets?limit=1000')).items;
      // Device alerts that are no leak wait the storm folder's group window before they reach a ticket.
      const complete = [...wanted].every(([id, conditions]) => list.some((t) => t.subjectId === id && [...conditions].every((c) => t.conditions.includes(c))));
      return complete && list;
    }, 30_000);
    const perSubject: Record<string, number> = {};
    for (const t of tickets) perSubject[t.subjectId] = (perSubject[t.subjectId] ?? 0) + 1;
    expect(perSubject).toEqual(Object.fromEntries([...wanted.keys()].map((id) => [id, 1])));
    for (const t of tickets) expect(t.conditions, `ticket for ${t.subjectId}`).toEqual(expect.arrayContaining([...wanted.get(t.subjectId)!]));
  }

  it('Mosquitto restarted mid-stream: gateways and ingest reconnect, QoS 1 and persistent sessions lose nothing', async () => {
    const fleet = createFleet({ gateways: 4, devices: 320, seed: 5, stepMs: STEP_MS });
    const passwords = new Map(fleet.gatewayIds.map((id) => [id, `pw-${id}`]));
    const broker = {
      SERVICES_DIR: mkdtempSync(join(tmpdir(), 'gas-fault-mqtt-')),
      SERVICES_MQTT_PORT: String(await freePort()),
      SERVICES_MQTT_GATEWAYS: [...passwords].map(([id, pw]) => `${id}:${pw}`).join(','),
    };
    const started = await services('start', 'mosquitto', broker);
    cleanup.push(() => services('stop', 'mosquitto', broker));
    // The round is published while the broker goes down and comes back: MQTT.js keeps the
    // unacknowledged QoS 1 publishes and sends them again on reconnect.
    await scenarioThrough({ mqtt: { url: started.MQTT_URL!, username: started.MQTT_INGEST_USER!, password: started.MQTT_INGEST_PASSWORD! }, passwords }, fleet, async () => {
      await services('stop', 'mosquitto', broker);
      await services('start', 'mosquitto', broker);
    });
  }, 180_000);

  it('Kafka restarted mid-stream: ingest holds its MQTT messages and publishes again, consumers resume from their offsets, nothing lost or doubled', async () => {
    const fleet = createFleet({ gateways: 4, devices: 320, seed: 6, stepMs: STEP_MS });
    const kafka = { SERVICES_DIR: mkdtempSync(join(tmpdir(), 'gas-fault-kafka-')), SERVICES_KAFKA_PORT: String(await freePort()) };
    const started = await services('start', 'kafka', kafka);
    cleanup.push(() => services('stop', 'kafka', kafka));
    await scenarioThrough({ kafka: { brokers: started.KAFKA_BROKERS!.split(','), topicPrefix: 'fault.' } }, fleet, async () => {
      await services('stop', 'kafka', kafka);
      await services('start', 'kafka', kafka);
    });
  }, 300_000);

  it('PostgreSQL restarted while alarms arrive: tickets the store missed are opened once it answers, none twice', async () => {
    const db = { SERVICES_DIR: mkdtempSync(join(tmpdir(), 'gas-fault-pg-')), SERVICES_PG_PORT: String(await freePort()) };
    const { DATABASE_URL: databaseUrl } = await services('start', 'postgres', db);
    cleanup.push(() => services('stop', 'postgres', db));
    const dir = mkdtempSync(join(tmpdir(), 'gas-fault-'));
    const registryFile = join(dir, 'registry.json');
    const alarms = ['HA-P1', 'HA-P2', 'HA-P3'];
    writeFileSync(registryFile, JSON.stringify(alarms.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: 'GW-P', district: '城东区', reportIntervalS: 30 }))));
    const clock = new ManualClock(Date.now());
    const pipeline = await startTestPipeline({ clock, registryFile, databaseUrl });
    cleanup.push(() => pipeline.close());
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-P' });
    cleanup.push(() => gateway.endAsync());
    let seq = 0;
    const send = async (lelPct: Record<string, number>) => {
      const at = new Date(clock.now()).toISOString();
      const readings = Object.entries(lelPct).map(([deviceId, lel]) => ({ deviceId, kind: 'home_gas_alarm', at, lelPct: lel }));
      await gateway.publishAsync('gas/v1/GW-P/up', JSON.stringify({ gatewayId: 'GW-P', seq: ++seq, sentAt: at, readings }), { qos: 1 });
      clock.advance(30_000);
    };
    const tickets = async (deviceId: string) => (await pipeline.get<{ items: TicketItem[] }>(`/tickets?deviceId=${deviceId}`)).items;

    await send({ 'HA-P1': 40, 'HA-P2': 0, 'HA-P3': 0 });
    await pipeline.until('a ticket for HA-P1', async () => (await tickets('HA-P1')).length === 1);

    await services('stop', 'postgres', db);
    // While the store is down: HA-P2 raises and stays; HA-P3 raises and clears again.
    await send({ 'HA-P1': 40, 'HA-P2': 40, 'HA-P3': 40 });
    for (let i = 0; i < 3; i++) await send({ 'HA-P1': 40, 'HA-P2': 40, 'HA-P3': 0 });
    await pipeline.until('both alarms in the alert book', async () => pipeline.alerts.query({ limit: 100 }).filter((a) => a.deviceId !== 'HA-P1').length === 2);
    await services('start', 'postgres', db);

    await pipeline.until(
      'tickets for the alarms raised during the outage, HA-P3 normal again',
      async () => (await tickets('HA-P2')).length === 1 && (await tickets('HA-P3'))[0]?.deviceNormalAt != null,
      60_000,
    );
    expect(await tickets('HA-P3')).toMatchObject([{ conditions: ['GAS_ALARM_L1'] }]);
    const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=100');
    expect(tally(items)).toEqual({
      'HA-P1 GAS_ALARM_L1': { raised: 1, cleared: 0 },
      'HA-P2 GAS_ALARM_L1': { raised: 1, cleared: 0 },
      'HA-P3 GAS_ALARM_L1': { raised: 1, cleared: 1 },
    });
    expect((await tickets('HA-P1')).length).toBe(1);
  }, 180_000);

  it('InfluxDB down while readings flow (20 s of server time, several retry rounds): the sink buffers, then drains every line; nothing dropped, nothing held up', async () => {
    const influx = { SERVICES_DIR: mkdtempSync(join(tmpdir(), 'gas-fault-influx-')), SERVICES_INFLUXQL_PORT: String(await freePort()) };
    const { INFLUXQL_URL: url } = await services('start', 'influxdb', influx);
    cleanup.push(() => services('stop', 'influxdb', influx));
    const gatewayId = `GW-IO${Date.now().toString(36)}`;
    const clock = new ManualClock(Date.now());
    const pipeline = await startTestPipeline({ clock, influx: [{ url: url!, target: 'v1', database: 'gas' }] });
    cleanup.push(() => pipeline.close());
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: gatewayId });
    cleanup.push(() => gateway.endAsync());
    let seq = 0;
    let sent = 0;
    const send = async () => {
      const at = new Date(clock.now()).toISOString();
      const readings = Array.from({ length: 100 }, (_, i) => ({ deviceId: `HM-IO${i}`, kind: 'household_meter', at, volumeM3: 10 + seq * 0.001, batteryV: 3.6, valve: 'open' }));
      await gateway.publishAsync(`gas/v1/${gatewayId}/up`, JSON.stringify({ gatewayId, seq: ++seq, sentAt: at, readings }), { qos: 1 });
      sent += readings.length;
      clock.advance(30_000);
    };
    const count = async (): Promise<number> => {
      const q = `SELECT count(volumeM3) FROM household_meter WHERE gateway = '${gatewayId}'`;
      const res = await fetch(`${url}/query?db=gas&q=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { results: Array<{ series?: Array<{ values: number[][] }> }> };
      return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
    };

    for (let i = 0; i < 5; i++) await send();
    await pipeline.until('the first readings in InfluxDB', async () => (await count()) === sent, 30_000);

    await services('stop', 'influxdb', influx);
    // Long enough for several of the sink's retries to fail; the buffer, not the length, is what is tested.
    const outageEnds = Date.now() + 20_000;
    // The outage is real time on the server: readings keep coming and keep being judged.
    while (Date.now() < outageEnds) {
      await send();
      await pipeline.until('readings judged during the outage', async () => (await pipeline.metric('gas_processor_readings_total')) >= sent, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    expect(await pipeline.metric('gas_influx_lines_buffered{target="v1",url="' + url + '"}')).toBeGreaterThan(0);
    await services('start', 'influxdb', influx);

    await pipeline.until('every line drained after the outage', async () => (await count()) === sent, 90_000);
    expect(await pipeline.metric('gas_influx_lines_buffered{target="v1",url="' + url + '"}')).toBe(0);
    const metrics = await (await fetch(`${pipeline.httpUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/^gas_influx_lines_dropped\{/m);
  }, 300_000);
});
