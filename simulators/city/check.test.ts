import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCity, metricValue } from './check.ts';

/** A stand-in for the pipeline's API: the alerts and counters the test sets. */
const state = { judged: 0, late: 0, alerts: [] as Array<{ deviceId: string; condition: string }>, authorised: 0 };
let server: Server;
let api: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/metrics') {
      res.end(`# HELP gas_processor_readings_total x\ngas_processor_readings_total ${state.judged}\ngas_processor_late_readings_total ${state.late}\ngas_processor_readings_total_other 99\n`);
      return;
    }
    if (req.headers.authorization === 'Bearer t') state.authorised++;
    const condition = url.searchParams.get('condition');
    const deviceId = url.searchParams.get('deviceId');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ items: state.alerts.filter((a) => a.condition === condition && (!deviceId || a.deviceId === deviceId)) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const report = {
  readings: 1_000,
  faults: [
    { deviceId: 'HM-00000001', condition: 'ERR-3' as const },
    { deviceId: 'HA-00000002', condition: 'GAS_ALARM_L1' as const },
    { deviceId: 'HA-00000002', condition: 'VALVE_NOT_CUT' as const },
  ],
};

describe('checkCity', () => {
  it('passes when every reading was judged (late ones included) and every fault is an alert', async () => {
    Object.assign(state, { judged: 990, late: 10, alerts: [...report.faults, { deviceId: 'HM-00000009', condition: 'ERR-3' }, { deviceId: 'HM-00000005', condition: 'ERR-3' }] });
    // HM-00000005 was given ERR-3 but its readings did not show it in this run: known, not unexpected.
    const result = await checkCity({ ...report, faultsNotShown: [{ deviceId: 'HM-00000005', condition: 'ERR-3' }] }, { api, token: 't' });
    expect(result).toMatchObject({ readingsSent: 1_000, readingsJudged: 1_000, missingReadings: 0, faultsInjected: 3, faultsFound: 3, missingFaults: [], ok: true });
    expect(result.unexpectedAlerts).toEqual([{ deviceId: 'HM-00000009', condition: 'ERR-3' }]);
    expect(state.authorised).toBeGreaterThan(0);
  });

  it('names the readings and faults that are missing', async () => {
    Object.assign(state, { judged: 900, late: 0, alerts: [report.faults[0]!, { deviceId: 'HA-00000002', condition: 'GAS_ALARM_L2' }] });
    const result = await checkCity(report, { api, token: 't', judgedBefore: 0 });
    expect(result.ok).toBe(false);
    expect(result.missingReadings).toBe(100);
    expect(result.missingFaults).toEqual(report.faults.slice(1));
  });

  it('counts only what was judged after the baseline', async () => {
    Object.assign(state, { judged: 1_500, late: 0, alerts: report.faults });
    expect((await checkCity(report, { api, token: 't', judgedBefore: 600 })).missingReadings).toBe(100);
  });

  it('sums a metric over its labelled samples and ignores other names', () => {
    expect(metricValue('a_total{p="0"} 2\na_total{p="1"} 3\na_total_x 7\n', 'a_total')).toBe(5);
  });
});
