/**
 * Gateway tickets (GATEWAY_OFFLINE, and storm incidents folded on a gateway) over an in-memory
 * PGlite store, with a registry that, like the real one, holds devices and no gateway.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { AlertBook } from '../alert-book.ts';
import type { Db } from '../store/db.ts';
import { openTestDb } from '../store/testing.ts';
import type { Notice } from './notice.ts';
import { TicketService, type DeviceInfo } from './ticket-service.ts';
import { FakeDirectory, MIN, T0, newBook, raise } from './test-support.ts';

const registry: Record<string, DeviceInfo> = {
  'HM-1': { district: 'east', address: '东区幸福路12号阳光花园3栋2单元301室', customer: '张三' },
  'HM-2': { district: 'east', address: '东区幸福路12号阳光花园5栋1单元102室', customer: '李四' },
  'HA-1': { district: 'east', address: '东区幸福路12号阳光花园5栋1单元102室', customer: '李四' },
};

let db: Db;
let book: AlertBook;
let svc: TicketService;
let notices: Notice[];

beforeEach(async () => {
  db = await openTestDb();
  book = newBook();
  notices = [];
  svc = new TicketService({ db, clock: new ManualClock(T0), directory: new FakeDirectory(), lookupDevice: (id) => registry[id] });
  svc.onNotice((n) => notices.push(n));
});
afterEach(async () => {
  await db.close();
});

describe("issue 12 item 11: a gateway ticket shows its first device's customer and address", () => {
  it('gives a GATEWAY_OFFLINE ticket no customer and the gateway site as its address, in the ticket and the work order', async () => {
    await svc.onAlertChanges(raise(book, 'GW-7', 'GATEWAY_OFFLINE', T0, { gateway: true, detail: { deviceCount: 2, gasAlarms: 0, devices: ['HM-1', 'HM-2'] } }));
    const [ticket] = await svc.list();
    expect(ticket).toMatchObject({ subject: 'gateway', subjectId: 'GW-7', district: 'east', address: '东区幸福路12号', customer: null, assignee: 'tech-wang' });
    const order = notices.find((n) => n.kind === 'ticket.dispatched')!;
    expect(order.body['zh-CN']).toContain('网关 GW-7（2 台设备） 站点：东区幸福路12号');
    expect(order.body.en).toContain('gateway GW-7 (2 devices) site: 东区幸福路12号');
    expect(JSON.stringify(order)).not.toContain('张三');
    expect(order.data).toMatchObject({ customer: null, address: '东区幸福路12号' });
  });

  it('gives a storm incident folded on a gateway the same site, not its first device', async () => {
    const storm = ['HM-1', 'HM-2'].flatMap((d) => raise(book, d, 'POWER_LOST', T0 + MIN, { severity: 'medium' }));
    await svc.openIncident({ subject: 'gateway', id: 'GW-1' }, 'POWER_LOST', storm.map((c) => c.alert));
    const [incident] = await svc.list();
    expect(incident).toMatchObject({ subject: 'gateway', subjectId: 'GW-1', address: '东区幸福路12号', customer: null, district: 'east' });
  });
});

describe("issue 12 item 11: GATEWAY_OFFLINE is 'normal' even with home gas alarms behind it", () => {
  it('opens the ticket of a gateway with gas alarms behind it as urgent, one without as normal', async () => {
    await svc.onAlertChanges(raise(book, 'GW-7', 'GATEWAY_OFFLINE', T0, { gateway: true, detail: { deviceCount: 2, gasAlarms: 1, devices: ['HM-2', 'HA-1'] } }));
    await svc.onAlertChanges(raise(book, 'GW-8', 'GATEWAY_OFFLINE', T0, { gateway: true, detail: { deviceCount: 1, gasAlarms: 0, devices: ['HM-1'] } }));
    const bySubject = Object.fromEntries((await svc.list()).map((t) => [t.subjectId, t.priority]));
    expect(bySubject).toEqual({ 'GW-7': 'urgent', 'GW-8': 'normal' });
    expect(notices.find((n) => n.kind === 'ticket.dispatched' && n.ticketId !== '' && n.title['zh-CN'].includes('加急'))).toBeDefined();
  });
});
