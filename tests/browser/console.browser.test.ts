import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { SCREENSHOTS, adminCall, browserSuite, haveChromium, launchChromium, logInAs, screenshot } from './browser-support.ts';
import { startTestPipeline, type TestPipeline } from '../harness.ts';

/**
 * The web console in a real browser (Debian's Chromium driven by playwright-core): an operator
 * watching live alarms sees a leak appear without reloading, and the on-call technician, on a
 * phone-sized screen, gets a notification and acknowledges it, which stops the escalation.
 * Screenshots of every page go to console/screenshots/.
 */


// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site.
const START = Date.parse('2026-11-23T02:00:00.000Z');
const MIN = 60_000;

interface TicketDetail {
  id: string;
  status: string;
  deviceNormalAt: string | null;
  assignee: string | null;
  subject: string;
  escalations: Array<{ level: string; reason: string; at: string }>;
}

describe.skipIf(!haveChromium)(browserSuite('web console in a browser'), () => {
  const clock = new ManualClock(START);
  let pipeline: TestPipeline;
  let browser: Browser;
  let gateway: MqttClient;
  let operator: Page;
  let phone: Page;
  let technician: string;
  let operatorToken: string;
  let techToken: string;
  let seq = 0;

  const api = <T,>(method: string, path: string, body?: unknown) => adminCall<T>(pipeline, method, path, body);

  async function publish(reading: Record<string, unknown>): Promise<void> {
    await publishBatch([{ at: new Date(clock.now()).toISOString(), ...reading }]);
  }

  /** Readings with times of their own (a gateway's backlog), in one batch. */
  async function publishBatch(readings: Array<Record<string, unknown>>): Promise<void> {
    const sentAt = new Date(clock.now()).toISOString();
    await gateway.publishAsync('gas/v1/GW-B/up', JSON.stringify({ gatewayId: 'GW-B', seq: ++seq, sentAt, readings }), { qos: 1 });
  }

  const logIn = (page: Page, token: string) => logInAs(page, pipeline, token);

  const shot = screenshot;

  async function leakTicket(): Promise<TicketDetail> {
    return pipeline.until('the leak ticket', async () => {
      const { items } = await api<{ items: TicketDetail[] }>('GET', '/tickets?deviceId=HA-B1');
      const t = items.find((i) => i.subject === 'device');
      return t && api<TicketDetail>('GET', `/tickets/${t.id}`);
    });
  }

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const dir = mkdtempSync(join(tmpdir(), 'gas-console-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([
      { deviceId: 'HA-B1', kind: 'home_gas_alarm', gatewayId: 'GW-B', district: '城东区', address: '人民路 1 号 3 单元 201', customer: '王芳', reportIntervalS: 3600 },
      { deviceId: 'HM-B2', kind: 'household_meter', gatewayId: 'GW-B', district: '城东区', address: '人民路 1 号 3 单元 202', customer: '李强', reportIntervalS: 3600 },
      { deviceId: 'HA-B3', kind: 'home_gas_alarm', gatewayId: 'GW-B', district: '城东区', address: '人民路 1 号 3 单元 301', customer: '赵敏', reportIntervalS: 3600 },
    ]));
    pipeline = await startTestPipeline({ clock, registryFile, settings: { slaCheckIntervalMs: 3_600_000 } });
    rmSync(dir, { recursive: true, force: true });
    technician = (await api<{ technician: { id: string } }>('GET', `/oncall?district=${encodeURIComponent('城东区')}`)).technician.id;
    operatorToken = (await api<{ token: string }>('POST', '/tokens', { name: 'control room desk 1', role: 'operator' })).token;
    techToken = (await api<{ token: string }>('POST', '/tokens', { name: 'phone of the on-call technician', role: 'technician', personId: technician })).token;
    gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-B' });

    // The control room's alarm must sound without a click first, as a desk's kiosk browser is set up to.
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    const desk = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    operator = await desk.newPage();
    const mobile = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await mobile.grantPermissions(['notifications'], { origin: pipeline.httpUrl });
    // Headless Chromium shows no notification: record what the page asked to show.
    await mobile.addInitScript(() => {
      const shown: string[] = [];
      const Original = window.Notification;
      class Recording extends Original {
        constructor(title: string, options?: NotificationOptions) {
          shown.push(title);
          super(title, options);
        }
      }
      Object.assign(window, { Notification: Recording, shownNotifications: shown });
    });
    phone = await mobile.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.endAsync();
    await pipeline?.close();
  });

  it('shows an operator a leak alarm the moment it is raised, without reloading', async () => {
    await operator.goto(`${pipeline.httpUrl}/`);
    await operator.locator('input[name=token]').waitFor();
    await shot(operator, 'login');
    await logIn(operator, operatorToken);
    await operator.locator('[data-testid=alarms-empty]').waitFor();
    await logIn(phone, techToken);
    await phone.locator('[data-testid=my-tickets-empty]').waitFor();
    // Survives only if the page is never reloaded.
    await operator.evaluate(() => Object.assign(window, { sameDocument: true }));

    await publish({ deviceId: 'HA-B1', kind: 'home_gas_alarm', lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' });

    const row = operator.locator('[data-testid=alarm][data-device=HA-B1][data-condition=GAS_ALARM_L2]');
    await row.waitFor({ timeout: 10_000 });
    expect(await operator.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await expect.poll(() => operator.locator('[data-testid=alarm][data-device=HA-B1]').count()).toBe(3);
    await shot(operator, 'operator-alarms');
    await operator.locator('[data-testid=lang-switch]').click();
    await operator.getByText('Live alarms').waitFor();
    await shot(operator, 'operator-alarms-en');
    await operator.locator('[data-testid=lang-switch]').click();
  });

  it('lets the on-call technician acknowledge from the phone view, and the escalation stops', async () => {
    const { id } = await leakTicket();
    const card = phone.locator(`[data-testid=my-ticket][data-ticket="${id}"]`);
    await card.waitFor({ timeout: 10_000 });
    await expect.poll(() => phone.evaluate(() => (window as unknown as { shownNotifications: string[] }).shownNotifications.length)).toBeGreaterThan(0);
    // The push's link (#/tickets/:id) opens the list on that ticket.
    await phone.evaluate((ticketId) => (location.hash = `#/tickets/${ticketId}`), id);
    await phone.locator(`[data-testid=my-ticket][data-ticket="${id}"].focused`).waitFor();
    await shot(phone, 'technician-ticket');

    // Nobody acknowledges for 6 minutes: the chase starts.
    clock.advance(6 * MIN);
    await pipeline.services.checkSla();
    const before = await leakTicket();
    expect(before).toMatchObject({ status: 'dispatched', assignee: technician });
    expect(before.escalations.filter((e) => e.reason === 'no_ack').length).toBeGreaterThan(0);

    await card.locator('[data-testid=acknowledge]').click();
    await card.locator('[data-testid=ticket-status]', { hasText: '已接单' }).waitFor();
    expect((await leakTicket()).status).toBe('acknowledged');
    await shot(phone, 'technician-acknowledged');

    // Ten more minutes, checked twice: still before the 30-minute on-site limit, so nothing at all is escalated.
    for (let i = 0; i < 2; i++) {
      clock.advance(5 * MIN);
      await pipeline.services.checkSla();
    }
    const after = await leakTicket();
    expect(after.status).toBe('acknowledged');
    expect(after.escalations).toHaveLength(before.escalations.length);
  });

  it('shows the operator the ticket queue, on call now and the device with its readings chart', async () => {
    await operator.locator('[data-testid=tab-tickets]').click();
    const { id } = await leakTicket();
    await operator.locator(`[data-testid=ticket][data-ticket="${id}"] [data-testid=ticket-status]`, { hasText: '已接单' }).waitFor();
    await shot(operator, 'operator-tickets');

    await operator.locator('[data-testid=tab-oncall]').click();
    await operator.locator('[data-testid=oncall-technician]').first().waitFor();
    await shot(operator, 'operator-oncall');

    // The page asks for the range up to the browser's now: the browser keeps the pipeline's clock.
    await operator.clock.setFixedTime(clock.now());
    await operator.goto(`${pipeline.httpUrl}/console/#/device/HA-B1`);
    await operator.locator('[data-testid=readings-chart][data-points="1"] canvas').waitFor();
    // Each new reading reaches the chart through the history as the device reports.
    for (const [i, lelPct] of [55, 47, 38].entries()) {
      clock.advance(MIN);
      await operator.clock.setFixedTime(clock.now());
      await publish({ deviceId: 'HA-B1', kind: 'home_gas_alarm', lelPct, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' });
      await operator.locator(`[data-testid=readings-chart][data-points="${i + 2}"]`).waitFor({ timeout: 5_000 });
    }
    await operator.locator('[data-testid=range-1h]').click();
    await operator.locator('[data-testid=range-1h][aria-pressed=true]').waitFor();
    await operator.locator('[data-testid=readings-chart][data-points="4"]').waitFor();
    await shot(operator, 'operator-device');
  });

  it('charts a week of a device from the readings history, 24 h and 7 d (issue 17 #4)', async () => {
    // A gateway's backlog: HA-B3 hourly over the past week, one self-test and one 18 %LEL peak (under L1).
    const firstMs = clock.now() - 7 * 24 * 60 * MIN + 60 * MIN;
    const week = Array.from({ length: 7 * 24 - 1 }, (_, i) => ({
      at: new Date(firstMs + i * 60 * MIN).toISOString(),
      deviceId: 'HA-B3',
      kind: 'home_gas_alarm',
      lelPct: i === 100 ? 18 : (i * 7) % 5,
      lamps: { power: true, fault: false, alarm: false },
      buzzer: 'off',
      ...(i === 60 ? { status: ['自检'] } : {}),
    }));
    for (let i = 0; i < week.length; i += 24) await publishBatch(week.slice(i, i + 24));
    const range = (days: number) => `from=${new Date(clock.now() - days * 24 * 60 * MIN).toISOString()}&to=${new Date(clock.now()).toISOString()}&limit=500`;
    const weekAnswer = await pipeline.until('the week in the history', async () => {
      const a = await api<{ points: Array<{ lelPct: number; status?: string[] }> }>('GET', `/devices/HA-B3/readings?${range(7)}`);
      return a.points.some((p) => p.lelPct === 18) ? a : undefined;
    });
    // Older than a day the hourly readings are kept two hours a point; the peak and the status stay.
    expect(weekAnswer.points.length).toBeGreaterThan(80);
    expect(weekAnswer.points.length).toBeLessThan(7 * 24 - 1);
    expect(weekAnswer.points.filter((p) => p.status?.includes('自检'))).toHaveLength(1);
    const dayAnswer = await api<{ points: unknown[] }>('GET', `/devices/HA-B3/readings?${range(1)}`);

    await operator.clock.setFixedTime(clock.now());
    await operator.goto(`${pipeline.httpUrl}/console/#/device/HA-B3`);
    await operator.locator(`[data-testid=readings-chart][data-points="${dayAnswer.points.length}"] canvas`).waitFor();
    await operator.locator('[data-testid=range-7d]').click();
    await operator.locator(`[data-testid=readings-chart][data-points="${weekAnswer.points.length}"][data-status-points="1"] canvas`).waitFor();
    await operator.getByText('来源：本地历史').waitFor();
    await shot(operator, 'operator-device-history');
    await operator.locator('[data-testid=lang-switch]').click();
    await operator.getByText('Source: local history').waitFor();
    await operator.locator('[data-testid=lang-switch]').click();
  });

  it('takes the technician through on site and resolved', async () => {
    const { id } = await leakTicket();
    const card = phone.locator(`[data-testid=my-ticket][data-ticket="${id}"]`);
    await card.locator('[data-testid=on-site]').click();
    await card.locator('[data-testid=ticket-status]', { hasText: '已到场' }).waitFor();
    // A leak's ticket resolves only once the device reports normal again (确认故障已消除).
    for (let i = 0; i < 4; i++) {
      clock.advance(30_000);
      await publish({ deviceId: 'HA-B1', kind: 'home_gas_alarm', lelPct: 0, lamps: { power: true, fault: false, alarm: false }, buzzer: 'off', valve: 'closed' });
    }
    await pipeline.until('the device back to normal', async () => (await leakTicket()).deviceNormalAt !== null);
    await card.locator('[data-testid=resolve]').click();
    await card.locator('textarea[name=text]').fill('更换电磁阀 / replaced the solenoid valve');
    await shot(phone, 'technician-resolve');
    await card.locator('[data-testid=confirm]').click();
    // A resolved ticket leaves the technician's open list.
    await card.waitFor({ state: 'detached' });
    expect((await leakTicket()).status).toBe('resolved');
  });

  it('shows the operator a low-balance customer notice with its delivery state (issue 12 #8)', async () => {
    // The test pipeline configures no customer channel: the notice is listed as not sent, with why.
    await publish({ deviceId: 'HM-B2', kind: 'household_meter', volumeM3: 120.5, balanceM3: 2, batteryV: 3.6, valve: 'open' });
    await operator.locator('[data-testid=tab-customer-notices]').click();
    const row = operator.locator('[data-testid=customer-notice][data-device=HM-B2][data-status=not_delivered]');
    await pipeline.until('the customer notice listed', async () => {
      await operator.getByRole('button', { name: '刷新' }).click();
      return (await row.count()) > 0;
    });
    await row.getByText('未发送').waitFor();
    await row.getByText('no customer channel configured').waitFor();
    await shot(operator, 'operator-customer-notices');
  });

  it('sounds a new leak on the control room until an operator acknowledges it, for every desk; folds a power cut, filters kept in the URL (issue 17 #2, #3)', async () => {
    // A second desk whose every tone is counted; Chromium may start audio without a click here.
    const desk2 = await browser.newContext({ viewport: { width: 1366, height: 860 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await desk2.addInitScript(() => {
      const counter = { tones: 0 };
      const start = OscillatorNode.prototype.start;
      OscillatorNode.prototype.start = function (this: OscillatorNode, ...args: [number?]) {
        counter.tones++;
        return start.apply(this, args);
      };
      Object.assign(window, { alarmTones: counter });
    });
    const other = await desk2.newPage();
    try {
      await logIn(other, operatorToken);
      await operator.goto(`${pipeline.httpUrl}/console/#/alarms`);
      await operator.locator('[data-testid=live][data-state=open]').waitFor();
      const enable = other.locator('[data-testid=alarm-sound-enable]');
      if (await enable.count()) await enable.click();

      // A power cut behind GW-B: 12 home alarms lose mains; and a leak in 人民路 1 号, newer than HA-B1's last reading.
      clock.advance(MIN);
      const at = new Date(clock.now()).toISOString();
      const powerLost = Array.from({ length: 12 }, (_, i) => ({ at, deviceId: `HA-PC${String(i).padStart(2, '0')}`, kind: 'home_gas_alarm', lelPct: 0, lamps: { power: false, fault: false, alarm: false }, buzzer: 'off', valve: 'open' }));
      const leak = { at, deviceId: 'HA-B1', kind: 'home_gas_alarm', lelPct: 58, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'closed' };
      await gateway.publishAsync('gas/v1/GW-B/up', JSON.stringify({ gatewayId: 'GW-B', seq: ++seq, sentAt: at, readings: [...powerLost, leak] }), { qos: 1 });

      const sounding = other.locator('[data-testid=alarm-sound][data-state=sounding]');
      await sounding.waitFor({ timeout: 10_000 });
      await operator.locator('[data-testid=alarm-sound][data-state=sounding]').waitFor();
      await expect.poll(() => other.evaluate(() => (window as unknown as { alarmTones: { tones: number } }).alarmTones.tones), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      const group = operator.locator('[data-testid=alarm-group][data-condition=POWER_LOST][data-gateway=GW-B]');
      await group.waitFor();
      expect(await group.getAttribute('data-count')).toBe('12');
      // The leak's rows say where it is.
      await operator.locator('[data-testid=alarm][data-device=HA-B1][data-condition=GAS_ALARM_L2] [data-testid=alarm-address]', { hasText: '人民路 1 号 3 单元 201' }).waitFor();
      await shot(operator, 'operator-alarm-sounding');

      // Filters: a search for the customer leaves the leak, kept in the URL across a reload.
      await operator.locator('[data-testid=filter-q]').fill('王芳');
      await expect.poll(() => operator.locator('[data-testid=alarm-group]').count()).toBe(0);
      expect(decodeURIComponent(new URL(operator.url()).hash)).toContain('q=王芳');
      await operator.reload();
      await operator.locator('[data-testid=alarm][data-device=HA-B1]').first().waitFor();
      expect(await operator.locator('[data-testid=filter-q]').inputValue()).toBe('王芳');
      await expect.poll(() => operator.locator('[data-testid=alarm-group]').count()).toBe(0);
      await shot(operator, 'operator-alarms-filtered');

      // Acknowledged on one desk (one button per safety alarm): silent on both, and both show who saw it.
      const acks = operator.locator('[data-testid=alarm-ack]');
      // A button goes when its alert.seen comes back on the stream: one that went meanwhile is not waited for.
      await expect.poll(async () => {
        const left = await acks.count();
        if (left > 0) await acks.first().click({ timeout: 2_000 }).catch(() => undefined);
        return left;
      }, { timeout: 20_000 }).toBe(0);
      await other.locator('[data-testid=alarm-sound][data-state=quiet]').waitFor({ timeout: 10_000 });
      await operator.locator('[data-testid=alarm-sound][data-state=quiet]').waitFor();
      await other.locator('[data-testid=alarm][data-device=HA-B1][data-condition=GAS_ALARM_L2] [data-testid=alarm-seen]').waitFor();
      const { items } = await api<{ items: Array<{ action: string; actor: string }> }>('GET', '/audit?limit=50');
      expect(items.some((e) => e.action === 'alerts.seen.post')).toBe(true);
      await shot(other, 'operator-alarm-acknowledged');
    } finally {
      await desk2.close();
    }
    // A second browser context and a dozen waits: slow when the machine is busy (the console bundle is built beside it).
  }, 90_000);
});
