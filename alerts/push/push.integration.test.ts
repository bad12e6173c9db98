import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { SqlOnCallDirectory } from '../oncall/oncall-directory.ts';
import { localToUtcMs } from '../oncall/rota.ts';
import { loadOnCallConfig, seedOnCall } from '../oncall/seed.ts';
import { oncallTestDb } from '../oncall/testing.ts';
import type { PgliteDb } from '../store/pglite-db.ts';
import type { DeliveryOutcome } from '../tickets/notice.ts';
import { type ChannelInstance, closeChannels, createChannels, sseHubOf } from './channels.ts';
import { PushDispatcher } from './delivery-queue.ts';
import { ManualScheduler } from './scheduler.ts';
import { notice } from './testing.ts';

const EXAMPLE = fileURLToPath(new URL('../oncall/oncall.example.json', import.meta.url));

describe('on-call directory → dispatcher → real channels', () => {
  let db: PgliteDb;
  let server: Server;
  let channels: Map<string, ChannelInstance>;
  const bodies: Record<string, unknown[]> = { wecom: [], dingtalk: [] };
  const clock = new ManualClock(localToUtcMs('2026-11-02', '10:00', 'Asia/Shanghai'));

  beforeAll(async () => {
    db = await oncallTestDb();
    await seedOnCall(db, await loadOnCallConfig(EXAMPLE));
    // The east robot answers; the west robot's server is down.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const which = req.url!.startsWith('/wecom') ? 'wecom' : 'dingtalk';
        bodies[which]!.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        if (which === 'wecom') res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
        else res.writeHead(503).end('down');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    channels = createChannels(
      [
        { name: 'sse', type: 'sse' },
        { name: 'wecom-east', type: 'webhook', config: { format: 'wecom', url: `${base}/wecom?key=k` } },
        { name: 'dingtalk-west', type: 'webhook', config: { format: 'dingtalk', url: `${base}/dingtalk?access_token=t`, secret: 'SEC1' } },
      ],
      { log: pino({ level: 'silent' }), clock },
    );
  });
  afterAll(async () => {
    await closeChannels(channels);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await db.close();
  });

  it('reaches the on-call technician’s open stream and robot; a robot that stays down ends failed', async () => {
    const directory = new SqlOnCallDirectory(db);
    const scheduler = new ManualScheduler(clock);
    const dispatcher = new PushDispatcher({ db, people: directory, channels, log: pino({ level: 'silent' }), clock, scheduler, random: () => 1 });
    const outcomes: DeliveryOutcome[] = [];
    dispatcher.onOutcome((o) => outcomes.push(o));

    const east = await directory.whoIsOnCall('城东区', clock.now());
    const stream = sseHubOf(channels)!.subscribe(east.technician!.id);
    await dispatcher.dispatch(notice({ id: 'N-east', recipients: [east.technician!.id] }));
    expect((await stream.next()).value?.noticeId).toBe('N-east');
    await dispatcher.idle();
    expect(outcomes.map((o) => [o.channel, o.status])).toEqual(
      expect.arrayContaining([
        ['sse', 'delivered'],
        ['wecom-east', 'delivered'],
      ]),
    );
    expect(bodies.wecom).toHaveLength(1);
    stream.close();

    const west = await directory.whoIsOnCall('城西区', clock.now());
    await dispatcher.dispatch(notice({ id: 'N-west', recipients: [west.technician!.id] }));
    await dispatcher.idle();
    while ((await scheduler.runNext()) !== undefined);
    expect(bodies.dingtalk).toHaveLength(5);
    expect(outcomes.filter((o) => o.noticeId === 'N-west').map((o) => [o.channel, o.status, o.attempts])).toEqual([['dingtalk-west', 'failed', 5]]);
    const log = await dispatcher.log('N-west');
    expect(log.map((e) => `${e.channel}:${e.status}`).sort()).toEqual([
      'dingtalk-west:failed',
      'dingtalk-west:retry',
      'dingtalk-west:retry',
      'dingtalk-west:retry',
      'dingtalk-west:retry',
      'sse:not_delivered',
    ]);
  });
});
