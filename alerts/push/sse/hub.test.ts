import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { createChannels, sseHubOf } from '../channels.ts';
import { notice, technician } from '../testing.ts';
import { formatSseFrame, SseHub } from './hub.ts';

describe('SseHub', () => {
  it('streams a person’s notices to each of their open streams, and only theirs', async () => {
    const hub = new SseHub({ startedAtMs: 1 });
    const phone = hub.subscribe('tech-chen');
    const tablet = hub.subscribe('tech-chen');
    const other = hub.subscribe('tech-liu');
    expect(hub.publish('tech-chen', notice()).listeners).toBe(2);
    const [a, b] = await Promise.all([phone.next(), tablet.next()]);
    expect(a.value).toMatchObject({ id: '1-1', event: 'ticket.dispatched', noticeId: 'N-1' });
    expect(JSON.parse(b.value!.data)).toMatchObject({ id: 'N-1', ticketId: 'T000001' });
    other.close();
    expect(await other.next()).toEqual({ value: undefined, done: true });
    phone.close();
    tablet.close();
    expect(hub.listenerCount('tech-chen')).toBe(0);
  });

  it('wakes a waiting reader and ends it on close', async () => {
    const hub = new SseHub();
    const sub = hub.subscribe('p');
    const pending = sub.next();
    hub.publish('p', notice({ id: 'N-2' }));
    expect((await pending).value?.noticeId).toBe('N-2');
    const waiting = sub.next();
    hub.close();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });

  it('replays what a reconnecting app missed after its Last-Event-ID, keeping the last N', async () => {
    const hub = new SseHub({ bufferSize: 3, startedAtMs: 7 });
    const ids = [1, 2, 3, 4].map((i) => hub.publish('p', notice({ id: `N-${i}` })).event.id);
    expect(ids).toEqual(['7-1', '7-2', '7-3', '7-4']);
    expect(hub.missedSince('p', '7-2').map((e) => e.noticeId)).toEqual(['N-3', 'N-4']);
    expect(hub.missedSince('p', '7-1').map((e) => e.noticeId)).toEqual(['N-2', 'N-3', 'N-4']); // fell out: replay all kept
    expect(hub.missedSince('p', 'from-an-earlier-run').length).toBe(3);
    expect(hub.missedSince('p')).toEqual([]);
    const sub = hub.subscribe('p', { lastEventId: '7-3' });
    hub.publish('p', notice({ id: 'N-5' }));
    const got: string[] = [];
    for await (const e of sub) {
      got.push(e.noticeId);
      if (got.length === 2) break; // for-await's break closes the subscription
    }
    expect(got).toEqual(['N-4', 'N-5']);
    expect(hub.listenerCount('p')).toBe(0);
  });

  it('formats an SSE frame, one data line per text line', () => {
    expect(formatSseFrame({ id: '1-1', event: 'ticket.opened', data: 'a\nb', noticeId: 'x' })).toBe('id: 1-1\nevent: ticket.opened\ndata: a\ndata: b\n\n');
  });
});

describe('sse channel', () => {
  it('delivers to an open stream and reports "not delivered" (no error) without one', async () => {
    const channels = createChannels([{ name: 'sse', type: 'sse', config: {} }], { log: pino({ level: 'silent' }), clock: new ManualClock() });
    const sse = channels.get('sse')!;
    const hub = sseHubOf(channels)!;
    await expect(sse.channel.send(notice(), technician)).resolves.toEqual({ delivered: false, reason: 'no open stream (kept for replay)' });
    const sub = hub.subscribe(technician.id, { lastEventId: 'none' });
    expect((await sub.next()).value?.noticeId).toBe('N-1'); // the missed one, replayed
    await expect(sse.channel.send(notice({ id: 'N-2' }), technician)).resolves.toEqual({ delivered: true });
    expect((await sub.next()).value?.noticeId).toBe('N-2');
    await sse.channel.close();
    expect((await sub.next()).done).toBe(true);
  });
});
