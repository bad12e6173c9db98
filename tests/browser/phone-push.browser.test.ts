import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { newBrowser, type PushServiceStandIn, startPushServiceStandIn } from '../../alerts/push/web-push/push-service-testing.ts';
import { adminCall, browserSuite, haveChromium, launchChromium } from './browser-support.ts';
import { startTestPipeline, type TestPipeline } from '../harness.ts';

/**
 * Web Push to the technician's phone in a real browser (Debian's Chromium, playwright-core): a 报修
 * ticket is dispatched, the web-push channel pushes it to a local push service (VAPID checked,
 * payload decrypted with the subscription's keys), which hands it on to the console's service
 * worker as a push service would (CDP ServiceWorker.deliverPushMessage). The service worker shows
 * the notification with 接单/到场 buttons; the one-tap screen, opened as an iPhone's tap opens it,
 * acknowledges the ticket through the API without a log-in, and a second tap on the same link is
 * refused. A leak, pushed by the safety lane before its ticket exists, carries the buttons too,
 * and its tap acknowledges the ticket opened for it. Headless Chromium has no push service of its own (pushManager.subscribe answers
 * "permission denied"), hence the subscription with the test's keys. Needs console/dist rebuilt.
 */


// Monday 10:00 in Asia/Shanghai: shift a of the example rota is on site.
const START = Date.parse('2026-11-23T02:00:00.000Z');

describe.skipIf(!haveChromium)(browserSuite('phone notifications in a browser'), () => {
  const clock = new ManualClock(START);
  const phoneKeys = newBrowser('phone');
  let pushService: PushServiceStandIn;
  /** What the local push service took in, decrypted. */
  const pushed = () => pushService.delivered.map((d) => d.payload);
  let pipeline: TestPipeline;
  let browser: Browser;
  let mobile: BrowserContext;
  let phone: Page;
  let technician: string;
  let techToken: string;

  const api = <T,>(method: string, path: string, body?: unknown) => adminCall<T>(pipeline, method, path, body);

  beforeAll(async () => {
    pushService = await startPushServiceStandIn();

    const dir = mkdtempSync(join(tmpdir(), 'gas-phone-push-'));
    const registryFile = join(dir, 'registry.json');
    writeFileSync(registryFile, JSON.stringify([
      { deviceId: 'HA-P1', kind: 'home_gas_alarm', gatewayId: 'GW-P', district: '城东区', address: '人民路 2 号 1 单元 101', customer: '赵敏', reportIntervalS: 3600 },
    ]));
    pipeline = await startTestPipeline({
      clock,
      registryFile,
      settings: {
        slaCheckIntervalMs: 3_600_000,
        push: { channels: [{ name: 'sse', type: 'sse', config: {} }, { name: 'phones', type: 'web-push', config: { subject: 'mailto:ops@example.com' } }] },
      },
    });
    rmSync(dir, { recursive: true, force: true });
    technician = (await api<{ technician: { id: string } }>('GET', `/oncall?district=${encodeURIComponent('城东区')}`)).technician.id;
    techToken = (await api<{ token: string }>('POST', '/tokens', { name: 'phone of the on-call technician', role: 'technician', personId: technician })).token;
    // What the console's 开启手机通知 would store had the browser a push service: here the test's keys.
    await pipeline.services.webPush!.subscriptions.save(technician, pushService.subscribe(phoneKeys), 'test', clock.now());

    browser = await launchChromium();
    mobile = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await mobile.grantPermissions(['notifications'], { origin: pipeline.httpUrl });
    phone = await mobile.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await pipeline?.close();
    await pushService?.close();
  });

  it('shows a pushed 报修 ticket as a notification with 接单/到场 buttons, the one-tap screen acknowledges it once, the 到场 button puts the technician on site', async () => {
    // iPhones subscribe only from the home-screen web app, which needs the manifest.
    const manifest = await fetch(`${pipeline.httpUrl}/console/manifest.webmanifest`);
    expect(manifest.status).toBe(200);
    expect(await manifest.json()).toMatchObject({ display: 'standalone', start_url: './' });

    // The technician's view offers 开启手机通知 and registers the console's service worker.
    await phone.goto(`${pipeline.httpUrl}/`);
    await phone.locator('input[name=token]').fill(techToken);
    await phone.locator('button[type=submit]').click();
    await phone.locator('[data-testid=phone-push][data-state=off]').waitFor({ timeout: 10_000 });
    const cdp = await mobile.newCDPSession(phone);
    const registrations: Array<{ registrationId: string; scopeURL: string; isDeleted: boolean }> = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
    await cdp.send('ServiceWorker.enable');
    await phone.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));

    // A customer's 报修 is dispatched to the technician on call and pushed with its buttons. (A leak's first
    // push is the safety lane's alarm, sent before its ticket exists, so it carries no ticket to act on.)
    const opened = await api<{ id: string }>('POST', '/tickets', { origin: 'report', contact: { name: '赵敏', phone: '138 0000 0002' }, address: '人民路 2 号 1 单元 101', district: '城东区', description: '厨房有燃气味 / smell of gas in the kitchen' });
    const notice = await pipeline.until('the ticket push at the push service', async () => pushed().find((p) => p.ticketId === opened.id), 15_000);
    expect(notice.kind).toBe('ticket.dispatched');
    expect(notice.actions.map((a) => a.action)).toEqual(['acknowledge', 'on_site']);

    // The push service hands the (decrypted) message to the browser's service worker.
    const registration = registrations.find((r) => r.scopeURL === `${pipeline.httpUrl}/console/` && !r.isDeleted)!;
    expect(registration).toBeDefined();
    await cdp.send('ServiceWorker.deliverPushMessage', { origin: `${pipeline.httpUrl}/`, registrationId: registration.registrationId, data: JSON.stringify(notice) });
    const shown = await pipeline.until('the notification', async () => {
      const list = await phone.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, tag: n.tag, body: n.body, requireInteraction: n.requireInteraction, actions: (n as Notification & { actions: Array<{ action: string; title: string }> }).actions.map((a) => ({ action: a.action, title: a.title })) })));
      return list.find((n) => n.tag === notice.ticketId);
    });
    expect(shown).toEqual({
      title: notice.title,
      tag: notice.ticketId,
      body: notice.body,
      requireInteraction: notice.requireInteraction,
      actions: [{ action: 'acknowledge', title: '接单 Acknowledge' }, { action: 'on_site', title: '到场 On site' }],
    });

    // An iPhone shows no buttons: the tap opens the one-tap screen, with no log-in in that window.
    const token = notice.actions.find((a) => a.action === 'acknowledge')!.token;
    const tapped = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, locale: 'zh-CN' })).newPage();
    await tapped.goto(`${pipeline.httpUrl}/console/#/act/${token}`);
    const screen = tapped.locator('[data-testid=act-screen][data-state=done]');
    await screen.waitFor({ timeout: 10_000 });
    expect(await screen.textContent()).toContain(`已接单 ${notice.ticketId}`);
    // The token leaves the address bar, so a reload does not spend it again.
    expect(new URL(tapped.url()).hash).toBe('');
    expect((await api<{ status: string; assignee: string }>('GET', `/tickets/${notice.ticketId}`))).toMatchObject({ status: 'acknowledged', assignee: technician });

    // 到场 on the notification: the service worker redeems that button's token itself. Headless Chromium
    // cannot click a notification, so the click is dispatched in the worker; a script-made event may not
    // waitUntil (it throws), but the handler has started the request by then.
    const worker = mobile.serviceWorkers().find((w) => w.url() === `${pipeline.httpUrl}/console/sw.js`)!;
    await worker.evaluate(async (tag) => {
      const sw = self as unknown as { registration: ServiceWorkerRegistration; dispatchEvent(e: Event): boolean };
      const [shownHere] = await sw.registration.getNotifications({ tag });
      const Click = (self as unknown as { NotificationEvent: new (type: string, init: { notification: Notification; action: string }) => Event }).NotificationEvent;
      try {
        sw.dispatchEvent(new Click('notificationclick', { notification: shownHere!, action: 'on_site' }));
      } catch {
        // waitUntil on an untrusted event: see above.
      }
    }, notice.ticketId);
    await pipeline.until('on site from the notification button', async () => (await api<{ status: string }>('GET', `/tickets/${notice.ticketId}`)).status === 'on_site');
    const outcome = await pipeline.until('the outcome notification', async () => {
      const titles = await phone.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => n.title));
      return titles.find((title) => title.startsWith('到场 On site ✓'));
    });
    expect(outcome).toBe(`到场 On site ✓ ${notice.ticketId}`);

    // The same link tapped again is refused and says so.
    const again = await tapped.context().newPage();
    await again.goto(`${pipeline.httpUrl}/console/#/act/${token}`);
    await again.locator('[data-testid=act-screen][data-state=refused]').waitFor({ timeout: 10_000 });
    expect(await again.locator('[data-testid=act-screen]').textContent()).toContain('此链接已用过或已过期');
  });

  it('gives the leak the safety lane pushes ahead of its ticket 接单 too: the tap acknowledges the ticket opened for it', async () => {
    const gateway = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: 'GW-P' });
    const at = new Date(clock.now()).toISOString();
    await gateway.publishAsync('gas/v1/GW-P/up', JSON.stringify({ gatewayId: 'GW-P', seq: 1, sentAt: at, readings: [{ at, deviceId: 'HA-P1', kind: 'home_gas_alarm', lelPct: 62, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'open' }] }), { qos: 1 });
    await gateway.endAsync();
    const alarm = await pipeline.until('the leak push at the push service', async () => pushed().find((p) => p.kind === 'alarm.raised'), 15_000);
    expect(alarm).toMatchObject({ ticketId: '', priority: 'emergency', requireInteraction: true });
    expect(alarm.actions.map((a) => a.action)).toEqual(['acknowledge', 'on_site']);
    const leakTicket = await pipeline.until('the leak ticket', async () => (await api<{ items: Array<{ id: string; subject: string }> }>('GET', '/tickets?deviceId=HA-P1')).items.find((t) => t.subject === 'device'));

    const tapped = await (await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, locale: 'zh-CN' })).newPage();
    await tapped.goto(`${pipeline.httpUrl}/console/#/act/${alarm.actions[0]!.token}`);
    const screen = tapped.locator('[data-testid=act-screen][data-state=done]');
    await screen.waitFor({ timeout: 10_000 });
    expect(await screen.textContent()).toContain(`已接单 ${leakTicket.id}`);
    expect(await api<{ status: string }>('GET', `/tickets/${leakTicket.id}`)).toMatchObject({ status: 'acknowledged', assignee: technician });
  });
});
