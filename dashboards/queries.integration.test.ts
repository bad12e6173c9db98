/**
 * Every query of every dashboard, run as Grafana would run it (variables, time range and interval
 * substituted by grafana-macros.ts) against the real engines of scripts/services.sh: InfluxDB 1.x
 * (InfluxQL) loaded with simulator readings and alert edges written by the project's own line
 * protocol encoder, and PostgreSQL with the ticket store's migrations and a small ticket fixture.
 * A panel whose query errors or comes back empty fails here; a few key panels are checked for
 * exact values. PromQL queries run in promql.integration.test.ts, against Prometheus.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AlertEvent, Condition, Reading, Severity } from '../contracts/messages.ts';
import { onShiftAt } from '../alerts/oncall/rota.ts';
import type { Override, Rotation } from '../alerts/oncall/schemas.ts';
import type { Db } from '../alerts/store/db.ts';
import { openDb } from '../alerts/store/open-db.ts';
import { createFleet } from '../simulators/fleet.ts';
import { alertEventLine, appendReadingLines } from '../sinks/influx/line-protocol.ts';
import { describeWithServers } from '../sinks/influx/integration-env.ts';
import { interpolate, type MacroContext } from './grafana-macros.ts';
import { dashboardQueries, type DashboardQuery } from './panel-queries.ts';
import { renderDashboards } from './src/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const ROUNDS = 90;

const queries = renderDashboards().flatMap((r) => dashboardQueries(JSON.parse(r.text)));
const influxQueries = queries.filter((q) => q.dialect === 'influxql');
const sqlQueries = queries.filter((q) => q.dialect === 'sql');
const label = (q: DashboardQuery) => `${q.dashboard} / ${q.where} [${q.refId}]`;

interface InfluxResult {
  error?: string;
  results?: Array<{ error?: string; series?: Array<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }> }>;
}

describeWithServers({ INFLUXQL_URL: 'influxdb', TEST_DATABASE_URL: 'postgres' }, 'dashboard queries against InfluxDB 1.x and PostgreSQL', (env) => {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const database = `dashboards_${suffix}`;
  const schema = `dashboards_${suffix}`;
  // One instant for the whole file: the fixture is placed relative to it and InfluxQL's now() is near it.
  const now = Date.now();
  let db: Db;

  const fleet = createFleet({ gateways: 4, devices: 40, seed: 7, stepMs: MIN });
  const districtOf = (id: string) => fleet.device(id)?.district;
  // AC-00000001's registry sets its L1 at 35 %LEL: its channel at 30 is under it, not over the default 25.
  const gasSetPoints = { of: (id: string) => (id === 'AC-00000001' ? { l1LelPct: 35 } : undefined), defaults: { l1LelPct: 25, l2LelPct: 50 } };
  const dev = (id: string) => {
    const d = fleet.device(id);
    if (!d) throw new Error(`fixture device ${id} is not in the fleet`);
    return d;
  };

  async function influxQuery(q: string): Promise<InfluxResult> {
    const url = `${env.INFLUXQL_URL}/query?${new URLSearchParams({ db: database, q, epoch: 'ms' })}`;
    return (await (await fetch(url, { method: q.startsWith('SELECT') || q.startsWith('SHOW') ? 'GET' : 'POST' })).json()) as InfluxResult;
  }

  /** Runs an InfluxQL query; throws with the server's message on any error. Returns all series. */
  async function influxRows(q: string) {
    const res = await influxQuery(q);
    const err = res.error ?? res.results?.find((r) => r.error)?.error;
    if (err) throw new Error(`InfluxDB: ${err}\n  in: ${q}`);
    return res.results?.flatMap((r) => r.series ?? []) ?? [];
  }

  function readingLines(): string[] {
    const lines: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const atMs = now - (ROUNDS - 1 - r) * MIN;
      for (const d of fleet.devices) {
        fleet.advance(d);
        const wire = fleet.reading(d, new Date(atMs).toISOString());
        const reading: Reading = { ...wire, atMs, gatewayId: d.gatewayId, receivedAtMs: atMs };
        // Fixture faults on top of the simulated physics, in the last rounds.
        if (r >= ROUNDS - 10 && d.deviceId === 'HM-00000001') reading.valve = 'closed';
        if (r === ROUNDS - 1 && d.deviceId === 'AC-00000001') reading.detectors = [{ channel: 1, lelPct: 60 }, { channel: 2, lelPct: 30 }, { channel: 3, lelPct: 1 }, { channel: 4, lelPct: null }];
        if (r === ROUNDS - 5 && d.deviceId === 'FM-00000001') reading.flowM3h = 200;
        appendReadingLines(reading, lines, { districtOf, gasSetPoints });
      }
    }
    return lines;
  }

  function edge(type: 'raise' | 'clear', subjectId: string, condition: Condition, severity: Severity, agoMs: number): AlertEvent {
    if (condition === 'GATEWAY_OFFLINE') return { type, subject: 'gateway', subjectId, gatewayId: subjectId, condition, severity, atMs: now - agoMs };
    const d = dev(subjectId);
    return { type, subject: 'device', subjectId, gatewayId: d.gatewayId, kind: d.kind, condition, severity, atMs: now - agoMs, detail: { fixture: true } };
  }

  /** Alert edges; the expected active counts below follow from them. */
  const edges: AlertEvent[] = [
    edge('raise', 'AC-00000001', 'GAS_ALARM_L2', 'critical', 30 * MIN),
    edge('raise', 'HA-00000001', 'GAS_ALARM_L1', 'critical', 40 * MIN),
    edge('clear', 'HA-00000001', 'GAS_ALARM_L1', 'critical', 20 * MIN),
    edge('raise', 'HA-00000002', 'GAS_ALARM_L1', 'critical', 10 * MIN),
    edge('raise', 'HA-00000002', 'VALVE_NOT_CUT', 'critical', 9 * MIN),
    edge('raise', 'AC-00000001', 'DETECTOR_OFFLINE', 'high', 50 * MIN),
    edge('raise', 'HM-00000002', 'NO_SIGNAL', 'medium', 60 * MIN),
    edge('raise', 'HM-00000003', 'NO_SIGNAL', 'medium', 60 * MIN),
    edge('raise', 'HM-00000004', 'NO_SIGNAL', 'medium', 60 * MIN),
    edge('clear', 'HM-00000004', 'NO_SIGNAL', 'medium', 30 * MIN),
    edge('raise', 'GW-000002', 'GATEWAY_OFFLINE', 'high', 45 * MIN),
    edge('raise', 'HM-00000005', 'ERR-4', 'medium', 70 * MIN),
    edge('raise', 'HM-00000006', 'ERR-4', 'medium', 50 * MIN),
    edge('raise', 'HM-00000007', 'LOW_BATTERY', 'low', 80 * MIN),
    edge('raise', 'HM-00000008', 'VALVE_CLOSED_LOW_BATTERY', 'high', 20 * MIN),
    edge('raise', 'FM-00000001', 'OVERLOAD', 'high', 5 * MIN),
    edge('raise', 'IC-00000001', 'SELF_METERING', 'medium', 35 * MIN),
    edge('clear', 'IC-00000001', 'SELF_METERING', 'medium', 15 * MIN),
  ];

  // --- PostgreSQL fixture -------------------------------------------------------------------

  const rotations: Rotation[] = [
    {
      teamId: 'team-east',
      members: ['tech-a', 'tech-b', 'tech-c'],
      shifts: [{ name: 'a', kind: 'on_site', start: '08:00', end: '20:00' }, { name: 'b', kind: 'home', start: '20:00', end: '08:00' }],
      periodDays: 7,
      anchorDate: '2026-11-02',
      timeZone: 'Asia/Shanghai',
    },
    { teamId: 'team-all', members: ['tech-d'], shifts: [{ name: 'day', kind: 'on_site', start: '00:00', end: '00:00' }], periodDays: 1, anchorDate: '2026-01-01', timeZone: 'Asia/Shanghai' },
  ];
  const overrides: Override[] = [{ id: 'ov-1', teamId: 'team-all', personId: 'tech-e', replacesId: 'tech-d', fromMs: now - HOUR, toMs: now + HOUR, reason: 'sick' }];
  const iso = (ms: number) => new Date(ms).toISOString();

  async function loadTickets(): Promise<void> {
    for (const [id, name, role] of [['tech-a', '甲', 'technician'], ['tech-b', '乙', 'technician'], ['tech-c', '丙', 'technician'], ['tech-d', '丁', 'technician'], ['tech-e', '戊', 'technician'], ['sup-1', '主管', 'supervisor']]) {
      await db.query('INSERT INTO people (id, name, role, phone) VALUES ($1, $2, $3, $4)', [id, name, role, `139${id}`]);
    }
    await db.query(`INSERT INTO teams (id, name, districts, supervisor_id) VALUES ('team-east', '城东维修班', '{城东区}', 'sup-1'), ('team-all', '全市班', '{*}', 'sup-1')`);
    for (const r of rotations) {
      await db.query('INSERT INTO rotations (team_id, members, shifts, period_days, anchor_date, time_zone) VALUES ($1, $2, $3, $4, $5, $6)', [r.teamId, r.members, JSON.stringify(r.shifts), r.periodDays, r.anchorDate, r.timeZone]);
    }
    for (const o of overrides) {
      await db.query('INSERT INTO overrides (id, team_id, person_id, replaces_id, from_at, to_at, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)', [o.id, o.teamId, o.personId, o.replacesId ?? null, iso(o.fromMs), iso(o.toMs), o.reason]);
    }
    const tickets: Array<[string, string, string, string | null, number, Record<string, number | string>]> = [
      ['T000001', 'emergency', 'opened', '城东区', 2 * HOUR, { sla_due_at: now - HOUR }],
      ['T000002', 'urgent', 'acknowledged', '城西区', 24 * HOUR, { sla_due_at: now + HOUR }],
      ['T000003', 'normal', 'on_site', null, 3 * HOUR, {}],
      ['T000004', 'low', 'resolved', '城东区', 10 * HOUR, { resolved_at: now - 3 * HOUR, follow_up_due_at: now + 24 * HOUR }],
      ['T000005', 'normal', 'closed', '城东区', 30 * HOUR, { closed_at: now - 5 * HOUR }],
    ];
    for (const [id, priority, status, district, ageMs, times] of tickets) {
      const cols = Object.keys(times);
      await db.query(
        `INSERT INTO tickets (id, subject, subject_id, device_id, district, address, customer, conditions, priority, status, opened_at, sla_started_at, updated_at, assignee${cols.map((c) => ', ' + c).join('')})
         VALUES ($1, 'device', $2, $2, $3, '幸福路 1 号', '张三', '{GAS_ALARM_L1}', $4, $5, $6, $6, $6, 'tech-a'${cols.map((_, i) => `, $${7 + i}`).join('')})`,
        [id, `HM-${id}`, district, priority, status, iso(now - ageMs), ...cols.map((c) => iso(times[c] as number))],
      );
    }
    // Gas alarms on the tickets, with the registry's point (WGS-84): what the gas-safety map and table draw.
    // T000001: L1, L2 and VALVE_NOT_CUT active (one marker, L2); T000002: L1; T000003: L1, no point;
    // T000004: L2 cleared; T000005: closed with an L1 never cleared (not listed).
    for (const [id, lat, lon] of [['T000001', 31.2304, 121.4737], ['T000002', 31.2101, 121.4012], ['T000004', 31.25, 121.5]] as const) {
      await db.query('UPDATE tickets SET lat = $2, lon = $3 WHERE id = $1', [id, lat, lon]);
    }
    await db.query(
      `INSERT INTO ticket_alerts (alert_id, ticket_id, condition, severity, raised_at, cleared_at, detail) VALUES
       ('g1', 'T000001', 'GAS_ALARM_L1', 'critical', $1, NULL, NULL), ('g2', 'T000001', 'GAS_ALARM_L2', 'critical', $2, NULL, '{"lelPct": 62}'),
       ('g2v', 'T000001', 'VALVE_NOT_CUT', 'critical', $2, NULL, NULL),
       ('g3', 'T000002', 'GAS_ALARM_L1', 'critical', $1, NULL, '{"lelPct": 30}'), ('g4', 'T000003', 'GAS_ALARM_L1', 'critical', $1, NULL, NULL),
       ('g5', 'T000004', 'GAS_ALARM_L2', 'critical', $1, $2, NULL), ('g6', 'T000005', 'GAS_ALARM_L1', 'high', $1, NULL, NULL)`,
      [iso(now - 2 * HOUR), iso(now - HOUR)],
    );
    await db.query(
      `INSERT INTO sla_breaches (ticket_id, clock, priority, due_at, breached_at) VALUES
       ('T000001', 'dispatch', 'emergency', $1, $1), ('T000002', 'acknowledge', 'urgent', $2, $2)`,
      [iso(now - HOUR), iso(now - 20 * HOUR)],
    );
    await db.query(
      `INSERT INTO customer_notices (alert_id, device_id, customer, district, condition, opened_at, resolved_at) VALUES
       ('a1', 'HM-00000009', '李四', '北岸区', 'LOW_BALANCE', $1, NULL), ('a2', 'HM-00000010', '王五', '北岸区', 'NO_BALANCE', $1, NULL),
       ('a3', 'HM-00000011', '赵六', '城东区', 'LOW_BALANCE', $1, $2)`,
      [iso(now - 5 * HOUR), iso(now - HOUR)],
    );
    await db.query(`INSERT INTO ticket_notices (id, ticket_id, kind, recipients, created_at, notice) VALUES ('n1', 'T000001', 'dispatch', '{tech-a}', $1, '{}')`, [iso(now - 2 * HOUR)]);
    await db.query(`INSERT INTO push_notices (id, notice) VALUES ('n1', '{}')`);
    await db.query(`INSERT INTO delivery_state (notice_id, recipient_id, channel, status, attempts, last_error, updated_at) VALUES ('n1', 'tech-a', 'wecom-east', 'failed', 5, 'HTTP 500', $1)`, [iso(now - HOUR)]);
    await db.query(
      `INSERT INTO deliveries (notice_id, recipient_id, channel, attempt, status, error, at) VALUES
       ('n1', 'tech-a', 'wecom-east', 1, 'retry', 'HTTP 500', $1), ('n1', 'tech-a', 'wecom-east', 5, 'failed', 'HTTP 500', $2),
       ('n1', 'tech-a', 'sse', 1, 'delivered', NULL, $1)`,
      [iso(now - 2 * HOUR), iso(now - HOUR)],
    );
  }

  beforeAll(async () => {
    await influxRows(`CREATE DATABASE "${database}"`);
    const lines = [...readingLines(), ...edges.map((e) => alertEventLine(e, { districtOf })!)];
    const res = await fetch(`${env.INFLUXQL_URL}/write?${new URLSearchParams({ db: database, precision: 'ns' })}`, { method: 'POST', body: lines.join('\n') });
    if (res.status !== 204) throw new Error(`InfluxDB write: ${res.status} ${await res.text()}`);
    db = await openDb({ databaseUrl: env.TEST_DATABASE_URL!, schema });
    await loadTickets();
  }, 60_000);

  afterAll(async () => {
    await influxRows(`DROP DATABASE "${database}"`).catch(() => undefined);
    if (db) {
      await db.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => undefined);
      await db.close();
    }
  });

  // --- running the dashboards' queries ------------------------------------------------------

  /** "All" everywhere, as a dashboard opens: custom All values verbatim, SQL variables expanded. */
  const influxAll: MacroContext = {
    dialect: 'influxql',
    fromMs: now - 6 * HOUR,
    toMs: now + MIN,
    relative: '6h',
    intervalMs: MIN,
    variables: {
      district: { values: [], allValue: '.*' },
      gateway: { values: [], allValue: '.*' },
      kind: { values: [], allValue: '(household_meter|industrial_controller|flow_meter|home_gas_alarm|alarm_controller)' },
      window: { values: ['25h'] },
    },
  };
  /** One district and one kind picked, absolute time range: the other substitution paths. */
  const influxEast: MacroContext = {
    ...influxAll,
    relative: undefined,
    variables: { ...influxAll.variables, district: { values: ['城东区'] }, kind: { values: ['household_meter', 'home_gas_alarm'] } },
  };

  async function runInflux(q: string, ctx: MacroContext) {
    return influxRows(interpolate(q, ctx));
  }

  /**
   * SQL panels take their dashboard's variables: the tickets dashboard's district comes from
   * PostgreSQL without a custom All (Grafana then sends every value), the meter fleet's from InfluxDB (All is `.*`).
   */
  async function sqlContext(dashboard = 'tickets-sla'): Promise<MacroContext> {
    const base = { dialect: 'sql', fromMs: now - 7 * 24 * HOUR, toMs: now + MIN, intervalMs: HOUR } as const;
    if (dashboard !== 'tickets-sla') return { ...base, variables: influxAll.variables };
    const variable = sqlQueries.find((q) => q.dashboard === 'tickets-sla' && q.where === 'variable district')!;
    const districts = (await db.query(variable.text)).map((r) => Object.values(r)[0] as string);
    return { ...base, variables: { district: { values: districts } } };
  }

  it('every dashboard has queries to run', () => {
    expect(influxQueries.length).toBeGreaterThan(20);
    expect(sqlQueries.length).toBeGreaterThan(10);
  });

  it.each(influxQueries.map((q) => [label(q), q] as const))('InfluxQL, all selected: %s', async (_name, q) => {
    const series = await runInflux(q.text, influxAll);
    expect(series.reduce((n, s) => n + s.values.length, 0), `no rows for ${label(q)}: ${interpolate(q.text, influxAll)}`).toBeGreaterThan(0);
  });

  it.each(influxQueries.map((q) => [label(q), q] as const))('InfluxQL, one district, absolute range: %s', async (_name, q) => {
    await runInflux(q.text, influxEast);
  });

  it.each(sqlQueries.map((q) => [label(q), q] as const))('SQL: %s', async (_name, q) => {
    const ctx = await sqlContext(q.dashboard);
    const sql = interpolate(q.text, ctx);
    const rows = await db.query(sql).catch((err: Error) => {
      throw new Error(`PostgreSQL: ${err.message}\n  in: ${sql}`);
    });
    expect(rows.length, `no rows for ${label(q)}: ${sql}`).toBeGreaterThan(0);
  });

  // --- exact values of the key panels ---------------------------------------------------------

  const panel = (dashboard: string, titleStart: string, refId = 'A') => {
    const q = queries.find((x) => x.dashboard === dashboard && x.where.startsWith(titleStart) && x.refId === refId);
    if (!q) throw new Error(`no panel ${dashboard} / ${titleStart}`);
    return q;
  };
  /** Rows of a SQL panel with its dashboard's variables, `district` optionally picked. */
  const runSql = async (q: DashboardQuery, district?: string[]) => {
    const ctx = await sqlContext(q.dashboard);
    return db.query<Record<string, unknown>>(interpolate(q.text, district ? { ...ctx, variables: { ...ctx.variables, district: { values: district } } } : ctx));
  };
  const single = async (q: DashboardQuery, ctx: MacroContext) => {
    const series = await runInflux(q.text, ctx);
    return series[0]?.values[0]?.[1];
  };

  it('gas safety: active gas alarms, VALVE_NOT_CUT, detectors offline, channels above L1', async () => {
    expect(await single(panel('gas-safety', 'Active gas alarms'), influxAll)).toBe(2);
    expect(await single(panel('gas-safety', 'Active gas alarms'), influxEast)).toBe(1);
    expect(await single(panel('gas-safety', 'VALVE_NOT_CUT'), influxAll)).toBe(1);
    expect(await single(panel('gas-safety', 'Detectors offline'), influxAll)).toBe(1);
    // Judged against each channel's own L1: AC-00000001 at 60 and 30 with its L1 at 35 is one channel, not two.
    expect(await single(panel('gas-safety', 'Detector channels ≥ L1'), influxAll)).toBe(1);
    // The edge table shows raises and clears, newest first.
    const edgesTable = await runInflux(panel('gas-safety', 'Safety alarm edges').text, influxAll);
    expect(edgesTable[0]!.values.length).toBe(6);
    expect(edgesTable[0]!.values[0]!.slice(1, 3)).toEqual(['raise', 'VALVE_NOT_CUT']);
  });

  it('gas safety: the map has one point per device in gas alarm, its worst level, where the registry puts it', async () => {
    const q = panel('gas-safety', 'Active gas alarms on the map');
    const run = async (district: string[]) =>
      db.query<Record<string, unknown>>(interpolate(q.text, { ...(await sqlContext('gas-safety')), variables: { ...influxAll.variables, district: district.length ? { values: district } : { values: [], allValue: '.*' } } }));
    const all = await run([]);
    expect(all.map((r) => [r.ticket, r.condition, r.level, r.latitude, r.longitude])).toEqual([
      ['T000001', 'GAS_ALARM_L2', 2, 31.2304, 121.4737],
      ['T000002', 'GAS_ALARM_L1', 1, 31.2101, 121.4012],
    ]);
    expect((await run(['城东区'])).map((r) => r.ticket)).toEqual(['T000001']);
  });

  it('gas safety: the concentration chart has one series per controller channel, the fixture peak at 60 %LEL', async () => {
    const series = await runInflux(panel('gas-safety', 'Concentration by site').text, influxAll);
    expect(series.length).toBe(2 * 4);
    const ch1 = series.find((s) => s.tags?.device === 'AC-00000001' && s.tags?.detector === '1')!;
    expect(Math.max(...ch1.values.map((v) => v[1] as number))).toBe(60);
    // Each site's own set points beside it: AC-00000001's L1 from the registry, the others' defaults.
    const setPoints = await runInflux(panel('gas-safety', 'Concentration by site', 'B').text, influxAll);
    const own = setPoints.find((s) => s.tags?.device === 'AC-00000001')!;
    expect(own.columns.slice(1)).toEqual(['L1', 'L2']);
    expect(own.values.at(-1)!.slice(1)).toEqual([35, 50]);
    expect(setPoints.filter((s) => s.tags?.device !== 'AC-00000001').every((s) => s.values.at(-1)![1] === 25)).toBe(true);
    const homes = await runInflux(panel('gas-safety', 'Home gas alarms', 'B').text, influxAll);
    expect(homes.length).toBeGreaterThan(0);
    expect(homes.every((s) => s.values.at(-1)![1] === 25 && s.values.at(-1)![2] === 50)).toBe(true);
  });

  it('gas safety: the active gas alarms table lists each live alarm of an open ticket with its address and customer, worst first', async () => {
    const rows = await runSql(panel('gas-safety', 'Active gas alarms: where'));
    expect(rows.map((r) => [r['device 设备'], r['condition 故障'], r['address 地址'], r['customer 用户'], r['ticket 工单']])).toEqual([
      ['HM-T000001', 'VALVE_NOT_CUT', '幸福路 1 号', '张三', 'T000001'],
      ['HM-T000001', 'GAS_ALARM_L2', '幸福路 1 号', '张三', 'T000001'],
      ['HM-T000001', 'GAS_ALARM_L1', '幸福路 1 号', '张三', 'T000001'],
      ['HM-T000002', 'GAS_ALARM_L1', '幸福路 1 号', '张三', 'T000002'],
      ['HM-T000003', 'GAS_ALARM_L1', '幸福路 1 号', '张三', 'T000003'],
    ]);
    expect(Number(rows[1]!['%LEL'])).toBe(62);
    // The closed T000005 and the cleared T000004 are not there; a district picks its own.
    expect((await runSql(panel('gas-safety', 'Active gas alarms: where'), ['城西区'])).map((r) => r['ticket 工单'])).toEqual(['T000002']);
  });

  it('meter fleet: silent devices, gateways offline, closed valves, battery alerts', async () => {
    expect(await single(panel('meter-fleet', 'Silent devices'), influxAll)).toBe(2);
    expect(await single(panel('meter-fleet', 'Gateways offline'), influxAll)).toBe(1);
    expect(await single(panel('meter-fleet', 'Low battery'), influxAll)).toBe(1);
    expect(await single(panel('meter-fleet', 'Valve closed, low battery'), influxAll)).toBe(1);
    const closed = await runInflux(panel('meter-fleet', 'Closed valves').text, influxAll);
    expect(closed.map((s) => [s.tags?.district, s.tags?.gateway, s.values[0]![1]])).toEqual([['城东区', dev('HM-00000001').gatewayId, 1]]);
    // Every device reported within the window: nothing silent per gateway.
    const seen = await runInflux(panel('meter-fleet', 'Reporting vs silent', 'A').text, influxAll);
    const reporting = await runInflux(panel('meter-fleet', 'Reporting vs silent', 'B').text, influxAll);
    const total = (s: typeof seen) => s.reduce((n, x) => n + (x.values[0]![1] as number), 0);
    expect(total(seen)).toBe(fleet.devices.length);
    expect(total(reporting)).toBe(fleet.devices.length);
  });

  it('flow meters: one active OVERLOAD, the fixture overload reaches 125 % of Qmax', async () => {
    const active = await runInflux(panel('flow-meters', 'Active flow alarms').text, influxAll);
    expect(Object.fromEntries(active.map((s) => [s.tags?.condition, s.values[0]![1]]))).toEqual({ OVERLOAD: 1, SELF_METERING: 0 });
    const pct = await runInflux(panel('flow-meters', 'Peak flow as %').text, influxAll);
    const fm1 = pct.find((s) => s.tags?.device === 'FM-00000001')!;
    expect(Math.max(...fm1.values.map((v) => v[1] as number))).toBe(125);
  });

  it('tickets: open by priority, follow-ups due, breaches, notices', async () => {
    const ctx = await sqlContext();
    const run = (q: DashboardQuery) => db.query<Record<string, unknown>>(interpolate(q.text, ctx));
    expect((await run(panel('tickets-sla', 'Open tickets by priority'))).map((r) => [r.priority, Number(r.open)])).toEqual([['emergency', 1], ['urgent', 1], ['normal', 1]]);
    const queue = await run(panel('tickets-sla', 'Open tickets, oldest first'));
    expect(queue.map((r) => [r.id, r.overdue])).toEqual([['T000001', true], ['T000002', false], ['T000003', false]]);
    expect((await run(panel('tickets-sla', 'Follow-ups due'))).map((r) => r.id)).toEqual(['T000004']);
    expect((await run(panel('tickets-sla', 'SLA breaches 超时记录'))).map((r) => [r.ticket_id, r.clock])).toEqual([['T000001', 'dispatch'], ['T000002', 'acknowledge']]);
    const east = { ...ctx, variables: { ...ctx.variables, district: { values: ['城东区'] } } };
    expect((await db.query<Record<string, unknown>>(interpolate(panel('tickets-sla', 'Open by district').text, east))).map((r) => [r.district, Number(r.total)])).toEqual([['城东区', 1]]);
    expect((await db.query<Record<string, unknown>>(interpolate(panel('meter-fleet', 'Low-balance notices').text, await sqlContext('meter-fleet')))).map((r) => r.device_id).sort()).toEqual(['HM-00000009', 'HM-00000010']);
  });

  it('on call now: the SQL rota agrees with alerts/oncall/rota.ts', async () => {
    const ctx = await sqlContext();
    const rows = await db.query<{ team: string; person_id: string; shift: string; stand_in_for: string | null }>(interpolate(panel('tickets-sla', 'On call now').text, ctx));
    const expected = [
      { team: '全市班', rotation: rotations[1]!, overrides },
      { team: '城东维修班', rotation: rotations[0]!, overrides: [] },
    ].flatMap(({ team, rotation, overrides: o }) => onShiftAt(rotation, o, Date.now()).map((a) => ({ team, person_id: a.personId, shift: a.shiftName })));
    expect(rows.map((r) => ({ team: r.team, person_id: r.person_id, shift: r.shift }))).toEqual(expected);
    expect(rows.find((r) => r.team === '全市班')).toMatchObject({ person_id: 'tech-e', stand_in_for: 'stands in for tech-d: sick' });
  });
});
