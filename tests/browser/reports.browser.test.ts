import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { SCREENSHOTS, adminCall, browserSuite, haveChromium, launchChromium, logInAs, screenshot } from './browser-support.ts';
import { startTestPipeline, type TestPipeline } from '../harness.ts';

/**
 * The console's 报表 / Reports tab and the ticket queue's filters in Debian's Chromium (issue 17
 * #3, #5, #7): faults published over MQTT make tickets, the tickets' actions fill the daily,
 * weekly and monthly reports, shown as tables with CSV downloads and a chart of faults by class;
 * the queue's filters live in the URL, the API filtering district, and a power cut is one row
 * with its device count. Screenshots go to console/screenshots/.
 */


// Monday 2026-11-23 10:00 in Asia/Shanghai (the tickets' time zone), still Sunday evening in California.
const START = Date.parse('2026-11-23T02:00:00.000Z');
const TODAY = '2026-11-23';
const MIN = 60_000;
const POWER_CUT = Array.from({ length: 12 }, (_, i) => `HA-PC${String(i).padStart(2, '0')}`);

interface Ticket {
  id: string;
  subject: string;
  subjectId: string;
  district: string | null;
  devices: string[];
  assignee: string | null;
}

describe.skipIf(!haveChromium)(browserSuite('reports and ticket filters in a browser'), () => {
  const clock = new ManualClock(START);
  let pipeline: TestPipeline;
  let browser: Browser;
  let gateway: MqttClient;
  let operator: Page;
  let operatorToken: string;
  let seq = 0;
  let incident: Ticket;
  let westLeak: Ticket;

  const api = <T,>(method: string, path: string, body?: unknown) => adminCall<T>(pipeline, method, path, body);

  async function publish(readings: Array<Record<string, unknown>>): Promise<void> {
    const at = new Date(clock.now()).toISOString();
    await gateway.publishAsync('gas/v1/GW-R/up', JSON.stringify({ gatewayId: 'GW-R', seq: ++seq, sentAt: at, readings: readings.map((r) => ({ at, ...r })) }), { qos: 1 });
  }

  const leak = (deviceId: string) => ({ deviceId, kind: 'home_gas_alarm', lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' });
  const powerLost = (deviceId: string) => ({ deviceId, kind: 'home_gas_alarm', lelPct: 0, lamps: { power: false, fault: false, alarm: false }, buzzer: 'off', valve: 'open' });

  const logIn = (page: Page, token: string) => logInAs(page, pipeline, token);

  const shot = screenshot;
  const hashOf = (page: Page) => decodeURIComponent(new URL(page.url()).hash);
  const cells = (page: Page, table: string) => page.locator(`[data-testid=report-table][data-table=${table}] tbody tr`);

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'gas-reports-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([
      { deviceId: 'HA-E1', kind: 'home_gas_alarm', gatewayId: 'GW-R', district: '城东区', address: '人民路 1 号 3 单元 201', customer: '王芳', reportIntervalS: 3600 },
      { deviceId: 'HA-W1', kind: 'home_gas_alarm', gatewayId: 'GW-R', district: '城西区', address: '解放路 8 号 502', customer: '李强', reportIntervalS: 3600 },
      ...POWER_CUT.map((deviceId, i) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: 'GW-R', district: '城东区', address: `和平街 ${i + 1} 号`, customer: `住户 ${i + 1}`, reportIntervalS: 3600 })),
    ]));
    // A short storm wait: the power cut's twelve alarms become one incident in half a second.
    pipeline = await startTestPipeline({ clock, registryFile, settings: { slaCheckIntervalMs: 3_600_000, tickets: { stormGroupWaitMs: 500 } } });
    rmSync(dir, { recursive: true, force: true });
    operatorToken = (await api<{ token: string }>('POST', '/tokens', { name: 'control room desk 1', role: 'operator' })).token;
    gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-R' });

    // A leak on each side of town and a power cut in 城东区: three tickets, one of them an incident on twelve devices.
    await publish([leak('HA-E1'), leak('HA-W1'), ...POWER_CUT.map(powerLost)]);
    const tickets = await pipeline.until('the leak tickets and the power cut incident', async () => {
      const { items } = await api<{ items: Ticket[] }>('GET', '/tickets?status=opened,dispatched');
      return items.length === 3 && items;
    });
    incident = tickets.find((t) => t.subject === 'district')!;
    westLeak = tickets.find((t) => t.subjectId === 'HA-W1')!;
    expect(incident).toMatchObject({ subjectId: '城东区', district: '城东区' });
    expect(incident.devices).toHaveLength(12);

    // The day's work: the 城东区 leak acknowledged, the power cut mended but the customer not satisfied
    // (followed up and sent back), the 城西区 leak left unacknowledged past its limit (an SLA breach).
    const eastLeak = tickets.find((t) => t.subjectId === 'HA-E1')!;
    await api('POST', `/tickets/${eastLeak.id}/acknowledge`, {});
    await api('POST', `/tickets/${incident.id}/acknowledge`, {});
    await api('POST', `/tickets/${incident.id}/resolve`, { remedyDone: '供电恢复 / mains restored' });
    await api('POST', `/tickets/${incident.id}/follow-up`, { satisfied: false, notes: '仍有住户无电 / some homes still without power' });
    clock.advance(20 * MIN);
    await pipeline.services.checkSla();

    browser = await launchChromium();
    const desk = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    operator = await desk.newPage();
    await logIn(operator, operatorToken);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.endAsync();
    await pipeline?.close();
  });

  it("opens the daily duty report on today in the tickets' time zone, the day's tickets per priority, downloadable as CSV", async () => {
    await operator.locator('[data-testid=tab-reports]').click();
    const byPriority = cells(operator, 'by-priority');
    await byPriority.first().waitFor();
    expect(await operator.locator('[data-testid=report-period]').inputValue()).toBe(TODAY);

    const report = await api<{ counts: Record<string, number>; breachesByClock: Record<string, number> }>('GET', `/reports/daily?date=${TODAY}`);
    expect(report.counts).toMatchObject({ opened: 3, acknowledged: 2, resolved: 1, followedUp: 1, reopened: 1 });
    expect(report.counts.breaches).toBeGreaterThan(0);
    // The total row: 合计, then opened, dispatched, acknowledged, on site, resolved, followed up, closed, cancelled, reopened, breaches, open at the end of the day.
    const total = await byPriority.last().locator('td').allTextContents();
    const keys = ['opened', 'dispatched', 'acknowledged', 'onSite', 'resolved', 'followedUp', 'closed', 'cancelled', 'reopened', 'breaches', 'openAtEndOfDay'];
    expect(total).toEqual(['合计', ...keys.map((k) => String(report.counts[k]))]);
    await operator.locator('[data-testid=report-table][data-table=breaches-by-clock] tbody tr', { hasText: '接单' }).waitFor();

    const [download] = await Promise.all([
      operator.waitForEvent('download'),
      operator.locator('[data-testid=report-table][data-table=by-priority] [data-testid=report-csv]').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`daily-${TODAY}-by-priority.csv`);
    const csv = readFileSync((await download.path())!, 'utf8');
    expect(csv.startsWith('\uFEFF优先级,新开,派工,接单,')).toBe(true);
    expect(csv.trimEnd().split('\r\n').at(-1)).toBe(total.join(','));
    await shot(operator, 'operator-reports-daily');

    // A desk whose own clock is still on Sunday gets Monday too: "today" is the reports' time zone's.
    const far = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: 'en-US', timezoneId: 'America/Los_Angeles' });
    try {
      const page = await far.newPage();
      await logIn(page, operatorToken);
      await page.goto(`${pipeline.httpUrl}/console/#/reports`);
      await cells(page, 'by-priority').first().waitFor();
      expect(await page.locator('[data-testid=report-period]').inputValue()).toBe(TODAY);
    } finally {
      await far.close();
    }
  });

  it('shows the weekly follow-up coverage and the monthly fault classification as a chart and tables; the period is kept in the URL', async () => {
    await operator.locator('[data-testid=report-kind-weekly]').click();
    await cells(operator, 'follow-up').first().waitFor();
    expect(await operator.locator('[data-testid=report-period]').inputValue()).toBe(TODAY);
    // Resolved once, followed up once (not satisfied): coverage 100 %.
    expect(await cells(operator, 'follow-up').first().locator('td').allTextContents()).toEqual(['1', '1', '1', '100', '100', '72']);

    await operator.locator('[data-testid=report-kind-monthly]').click();
    await operator.locator('[data-testid=report-chart] canvas').waitFor();
    const month = await api<{ byCondition: Array<{ condition: string; name: { 'zh-CN': string }; alerts: number; tickets: number }> }>('GET', '/reports/monthly?month=2026-11');
    expect(await operator.locator('[data-testid=report-chart]').getAttribute('data-categories')).toBe(String(month.byCondition.length));
    const power = month.byCondition.find((c) => c.condition === 'POWER_LOST')!;
    expect(power).toMatchObject({ alerts: 12, tickets: 1 });
    await cells(operator, 'by-condition').filter({ hasText: power.name['zh-CN'] }).filter({ hasText: '12' }).waitFor();
    await cells(operator, 'by-condition-and-district').filter({ hasText: '城东区' }).first().waitFor();
    expect(await operator.locator('[data-testid=report-period-shown]').textContent()).toContain('本月尚未结束');
    await shot(operator, 'operator-reports');

    // The previous month, by its button and in the URL: a reload shows it again.
    await operator.locator('[data-testid=report-previous-month]').click();
    await expect.poll(() => operator.locator('[data-testid=report-period]').inputValue()).toBe('2026-10');
    expect(hashOf(operator)).toBe('#/reports/monthly?month=previous');
    await operator.reload();
    await operator.locator('[data-testid=report-table][data-table=by-condition][data-rows="0"]').waitFor();
    expect(await operator.locator('[data-testid=report-period]').inputValue()).toBe('2026-10');
  });

  it('filters the ticket queue in the URL (district by the API, search in the browser) and shows the power cut as one row with its device count', async () => {
    await operator.goto(`${pipeline.httpUrl}/console/#/tickets`);
    const rows = operator.locator('[data-testid=ticket]');
    await expect.poll(() => rows.count()).toBe(3);
    const incidentRow = operator.locator(`[data-testid=ticket][data-ticket="${incident.id}"]`);
    expect(await incidentRow.getAttribute('data-incident')).toBe('12');
    await incidentRow.locator('[data-testid=incident-count]', { hasText: '12' }).waitFor();
    expect(await incidentRow.locator('[data-testid=incident]').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await operator.locator(`[data-testid=ticket][data-ticket="${westLeak.id}"] [data-testid=ticket-address]`, { hasText: '解放路 8 号 502' }).waitFor();

    // The district goes to the API, not filtered out of what was loaded.
    const asked = operator.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/tickets' && new URL(r.url()).searchParams.get('district') === '城西区');
    await operator.locator('[data-testid=filter-district]').selectOption('城西区');
    await asked;
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().locator('[data-testid=ticket-address]', { hasText: '李强' }).waitFor();
    expect(hashOf(operator)).toBe('#/tickets?district=城西区');

    // One of the power cut's devices: only the incident is left, opened on that device.
    await operator.locator('[data-testid=filter-district]').selectOption('城东区');
    await operator.locator('[data-testid=filter-q]').fill('HA-PC07');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-ticket')).toBe(incident.id);
    expect(hashOf(operator)).toBe('#/tickets?district=城东区&q=HA-PC07');
    await operator.reload();
    await incidentRow.locator('li.match', { hasText: 'HA-PC07' }).waitFor();
    expect(await operator.locator('[data-testid=filter-q]').inputValue()).toBe('HA-PC07');
    expect(await incidentRow.locator('[data-testid=incident]').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    await expect.poll(() => rows.count()).toBe(1);

    // Every status in 城东区: the leak and the power cut; the fold opens on a click.
    await operator.locator('[data-testid=filter-q]').fill('');
    await operator.locator('[data-testid=filter-status]').selectOption('all');
    await expect.poll(() => rows.count()).toBe(2);
    expect(hashOf(operator)).toBe('#/tickets?status=all&district=城东区');
    await incidentRow.locator('[data-testid=incident] summary').click();
    await incidentRow.locator('ul.fold li').nth(11).waitFor();
    await shot(operator, 'operator-tickets-filtered');

    // Emergency tickets only, from the API: the power cut is not one.
    await operator.locator('[data-testid=filter-priority]').selectOption('emergency');
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-ticket')).not.toBe(incident.id);

    // The 城西区 technician's tickets, asked of the API by person id, shown by name.
    const { items: people } = await api<{ items: Array<{ id: string; name: string }> }>('GET', '/oncall/people');
    const tech = people.find((p) => p.id === westLeak.assignee)!;
    await operator.getByRole('button', { name: '清除筛选' }).click();
    await expect.poll(() => rows.count()).toBe(3);
    const byPerson = operator.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/tickets' && new URL(r.url()).searchParams.get('assignee') === tech.id);
    await operator.locator('[data-testid=filter-assignee]').selectOption(tech.id);
    await byPerson;
    await expect.poll(() => rows.count()).toBe(1);
    await rows.first().locator('[data-testid=ticket-assignee]', { hasText: tech.name }).waitFor();
    expect(hashOf(operator)).toBe(`#/tickets?assignee=${tech.id}`);
  });
});
