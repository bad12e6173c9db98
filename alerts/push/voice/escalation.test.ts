/**
 * Issue 14 #3 through the real ticket side: an emergency nobody acknowledges is repeated to the
 * technician by the SLA watch, and the repeat rings the phone (Aliyun SingleCallByTts stand-in,
 * signature checked); acknowledging stops the chain and the calls. A call that cannot be placed
 * fails the delivery and the watch escalates the person no channel reached. PGlite store,
 * TicketService, SlaWatch and PushDispatcher as the service stage wires them; time is a ManualClock.
 */
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { Person } from '../../oncall/directory.ts';
import { parseSlaSettings } from '../../sla/sla-policy.ts';
import { SlaWatch } from '../../sla/sla-watch.ts';
import type { Db } from '../../store/db.ts';
import { openTestDb } from '../../store/testing.ts';
import type { Notice } from '../../tickets/notice.ts';
import { FakeDirectory, lookupDevice, MIN, newBook, people, raise, T0 } from '../../tickets/test-support.ts';
import { TicketService } from '../../tickets/ticket-service.ts';
import { createChannels } from '../channels.ts';
import { PushDispatcher } from '../delivery-queue.ts';
import { ManualScheduler } from '../scheduler.ts';
import { ProviderStandIn } from '../sms/provider-stand-ins.ts';

const ALIYUN = { accessKeyId: 'LTAI5tVoiceKey', accessKeySecret: 'aliyun-voice-secret' };
const provider = new ProviderStandIn({ aliyunSecret: ALIYUN.accessKeySecret, tencentSecretId: 'unused', tencentSecretKey: 'unused' });
const PHONES: Record<string, string> = { 'tech-li': '13900000201', 'sup-zhao': '13900000301', 'dir-qian': '13900000401' };

/** The test directory, each person with a phone (what the voice channel serves). */
class PhoneDirectory extends FakeDirectory {
  override async person(id: string): Promise<Person | undefined> {
    const p = people[id];
    return p && { ...p, phone: PHONES[id] };
  }
}

const log = pino({ level: 'silent' });
let db: Db;
let clock: ManualClock;
let svc: TicketService;
let watch: SlaWatch;
let notices: Notice[];
let push: PushDispatcher;
let sending: Promise<unknown>[];

/** Until quiet: a failed outcome's escalation is itself pushed, and so on up the chain. */
async function settle(): Promise<void> {
  do {
    await Promise.allSettled(sending.splice(0));
    await push.idle();
    await new Promise((resolve) => setImmediate(resolve));
  } while (sending.length);
}

function wire(voiceConfig: Record<string, unknown>): void {
  const directory = new PhoneDirectory();
  svc = new TicketService({ db, clock, directory, lookupDevice });
  watch = new SlaWatch({ db, directory, settings: parseSlaSettings({}) });
  const channels = createChannels([{ name: 'voice', type: 'voice', config: { provider: 'aliyun', ...ALIYUN, ttsCode: 'TTS_287910001', endpoint: provider.base, ...voiceConfig } }], { log, clock });
  push = new PushDispatcher({ db, people: directory, channels, log, clock, scheduler: new ManualScheduler(clock), random: () => 0 });
  const sendFresh = (n: Notice) => {
    notices.push(n);
    sending.push(push.dispatchFresh(n));
  };
  svc.onNotice(sendFresh);
  watch.onNotice(sendFresh);
  push.onOutcome((o) => {
    if (o.status === 'failed') sending.push(watch.onDeliveryOutcome(o));
  });
}

beforeAll(async () => {
  await provider.start();
  provider.answerAliyun = ({ params }) => ({ body: { Code: 'OK', Message: 'OK', RequestId: 'R-1', CallId: `call-${params.CalledNumber}` } });
});
afterAll(() => provider.close());
beforeEach(async () => {
  db = await openTestDb();
  clock = new ManualClock(T0);
  notices = [];
  sending = [];
  provider.aliyunCalls = [];
});
afterEach(async () => {
  await push.close();
  await db.close();
});

const calledNumbers = () => provider.aliyunCalls.filter((c) => c.signatureValid).map((c) => c.params.CalledNumber);

describe('voice in the escalation chain', () => {
  it('an emergency nobody acknowledges rings the technician at the repeat, not before; acknowledging stops the chain and the calls', async () => {
    wire({});
    await svc.onAlertChanges(raise(newBook(), 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
    await settle();
    const [ticket] = await svc.list();
    expect(ticket).toMatchObject({ status: 'dispatched', assignee: 'tech-li', priority: 'emergency' });
    expect(calledNumbers()).toEqual([]); // the dispatch goes to the other channels, not to the phone

    clock.set(T0 + 5 * MIN + 1000);
    await watch.check(clock.now());
    await settle();
    const repeat = notices.find((n) => n.kind === 'ticket.escalated');
    expect(repeat).toMatchObject({ recipients: ['tech-li'], data: { level: 'repeat' } });
    expect(calledNumbers()).toEqual(['13900000201']);
    expect(JSON.parse(provider.aliyunCalls[0]!.params.TtsParam!)).toMatchObject({ priority: '紧急', ticket: ticket!.id, condition: '二级燃气报警' });

    await svc.acknowledge(ticket!.id, 'tech-li');
    clock.set(T0 + 30 * MIN);
    await watch.check(clock.now());
    await settle();
    expect(notices.filter((n) => n.kind === 'ticket.escalated')).toHaveLength(1);
    expect(calledNumbers()).toEqual(['13900000201']);
  });

  it('a call refused in the provider’s quiet hours fails the delivery, and the watch escalates to the supervisor, saying why', async () => {
    wire({ quietHours: [{ start: '00:00', end: '23:59' }] });
    await svc.onAlertChanges(raise(newBook(), 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' }));
    await settle();
    clock.set(T0 + 5 * MIN + 1000);
    await watch.check(clock.now());
    await settle();
    const deliveries = await push.log(notices.find((n) => n.kind === 'ticket.escalated')!.id);
    expect(deliveries).toEqual([expect.objectContaining({ recipientId: 'tech-li', channel: 'voice', status: 'failed', error: expect.stringContaining('服务商 00:00–23:59 不允许外呼') })]);
    expect(notices.filter((n) => n.kind === 'ticket.escalated').map((n) => [n.recipients[0], n.data.level, n.data.reason])).toEqual([
      ['tech-li', 'repeat', 'no_ack'],
      ['sup-zhao', 'supervisor', 'delivery_failed'],
      ['dir-qian', 'director', 'delivery_failed'],
    ]);
    expect(calledNumbers()).toEqual([]);
  });
});
