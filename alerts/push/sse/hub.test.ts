import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { createChannels, sseHubOf } from '../channels.ts';
import { notice, technician } from '../testing.ts';
import { formatSseFrame, SseHub, type SseEndReason } from './hub.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'sse-hub-'));

describe('SseHub', () => {
  it('streams a person’s notices to each of their open streams, and only theirs', async () => {
    const hub = new SseHub();
    const phone = hub.subscribe('tech-chen');
    const tablet = hub.subscribe('tech-chen');
    const other = hub.subscribe('tech-liu');
    expect(hub.publish('tech-chen', notice()).listeners).toBe(2);
    const [a, b] = await Promise.all([phone.next(), tablet.next()]);
    expect(a.value).toMatchObject({ id: '1', event: 'ticket.dispatched', noticeId: 'N-1' });
    expect(phone.lastEventId).toBe('1');
    expect(JSON.parse(b.value!.data)).toMatchObject({ id: 'N-1', ticketId: 'T000001' });
    other.close();
    expect(await other.next()).toEqual({ value: undefined, done: true });
    phone.close();
    tablet.close();
    expect(hub.listenerCount('tech-chen')).toBe(0);
  });

  it('wakes a waiting reader and ends it on close, saying why', async () => {
    const hub = new SseHub();
    const sub = hub.subscribe('p');
    const ended: SseEndReason[] = [];
    sub.onEnd((r) => ended.push(r));
    const pending = sub.next();
    hub.publish('p', notice({ id: 'N-2' }));
    expect((await pending).value?.noticeId).toBe('N-2');
    const waiting = sub.next();
    hub.close();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(ended).toEqual(['shutdown']);
    expect(sub.endReason).toBe('shutdown');
  });

  it('replays what a reconnecting app missed after its Last-Event-ID; says reset when some is no longer kept', async () => {
    const hub = new SseHub({ bufferSize: 3 });
    const ids = [1, 2, 3, 4].map((i) => hub.publish('p', notice({ id: `N-${i}` })).event.id);
    hub.publish('q', notice({ id: 'N-q' }));
    expect(ids).toEqual(['1', '2', '3', '4']);
    expect(hub.missedSince('p', '2').map((e) => e.noticeId)).toEqual(['N-3', 'N-4']);
    expect(hub.missedSince('p')).toEqual([]);
    expect(hub.missedSince('p', '7-3')).toEqual([]); // an id of the old format: nothing to resume from

    const gap = hub.subscribe('p', { lastEventId: '0' }); // N-1 fell out of the 3 kept
    expect(gap.reset).toBe('not_retained');
    expect((await gap.next()).value?.noticeId).toBe('N-2');
    gap.close();
    for (const id of ['7-3', '99', 'x']) {
      const unknown = hub.subscribe('p', { lastEventId: id });
      expect(unknown.reset).toBe('unknown_id');
      expect(unknown.lastEventId).toBe('5');
      unknown.close();
    }

    const sub = hub.subscribe('p', { lastEventId: '3' });
    expect(sub.reset).toBeUndefined();
    hub.publish('p', notice({ id: 'N-6' }));
    const got: string[] = [];
    for await (const e of sub) {
      got.push(e.noticeId);
      if (got.length === 2) break; // for-await's break closes the subscription
    }
    expect(got).toEqual(['N-4', 'N-6']);
    expect(hub.listenerCount('p')).toBe(0);
  });

  it('ends a reader that falls maxBacklogEvents behind as slow_client, and its reconnect misses nothing', async () => {
    const hub = new SseHub({ bufferSize: 10, maxBacklogEvents: 3 });
    const slow = hub.subscribe('p');
    const ended: SseEndReason[] = [];
    slow.onEnd((r) => ended.push(r));
    hub.publish('p', notice({ id: 'N-1' }));
    expect((await slow.next()).value?.noticeId).toBe('N-1');
    for (let i = 2; i <= 4; i++) hub.publish('p', notice({ id: `N-${i}` }));
    expect(ended).toEqual([]); // 3 behind: still within the bound
    hub.publish('p', notice({ id: 'N-5' }));
    expect(ended).toEqual(['slow_client']);
    expect(slow.lastEventId).toBe('1');
    expect(await slow.next()).toEqual({ value: undefined, done: true });
    expect(hub.listenerCount('p')).toBe(0);

    const again = hub.subscribe('p', { lastEventId: slow.lastEventId });
    expect(again.reset).toBeUndefined();
    const got: string[] = [];
    for await (const e of again) {
      got.push(e.noticeId);
      if (got.length === 4) break;
    }
    expect(got).toEqual(['N-2', 'N-3', 'N-4', 'N-5']);
  });

  it('keeps ids and replay across a restart (a new hub over the same folder), compacting its journal', async () => {
    const dir = tmp();
    const first = new SseHub({ dir, bufferSize: 2 });
    first.publish('p', notice({ id: 'N-1' }));
    first.publish('p', notice({ id: 'N-2' }));
    first.publish('q', notice({ id: 'N-q' }));
    first.publish('p', notice({ id: 'N-3' }));
    first.close();

    const second = new SseHub({ dir, bufferSize: 2 });
    expect(second.lastSeq).toBe(4);
    const sub = second.subscribe('p', { lastEventId: '2' });
    expect(sub.reset).toBeUndefined();
    expect((await sub.next()).value).toMatchObject({ id: '4', noticeId: 'N-3' });
    expect(second.publish('p', notice({ id: 'N-4' })).event.id).toBe('5');
    expect((await sub.next()).value).toMatchObject({ id: '5', noticeId: 'N-4' });
    sub.close();
    expect(second.subscribe('p', { lastEventId: '1' }).reset).toBe('not_retained'); // N-1 and N-2 fell out

    for (let i = 0; i < 1500; i++) second.publish('p', notice({ id: `M-${i}` }));
    const lines = readFileSync(join(dir, 'sse-events.jsonl'), 'utf8').trim().split('\n');
    expect(lines.length).toBeLessThan(1100); // compacted to what is kept
    const third = new SseHub({ dir, bufferSize: 2 });
    expect(third.lastSeq).toBe(1505);
    expect(third.missedSince('p', '1503').map((e) => e.noticeId)).toEqual(['M-1498', 'M-1499']);
    expect(third.subscribe('p', { lastEventId: '1000' }).reset).toBe('not_retained'); // the floor survived compaction
    expect(third.missedSince('q', '2').map((e) => e.noticeId)).toEqual(['N-q']);
  });

  it('formats an SSE frame, one data line per text line', () => {
    expect(formatSseFrame({ id: '1', event: 'ticket.opened', data: 'a\nb', noticeId: 'x' })).toBe('id: 1\nevent: ticket.opened\ndata: a\ndata: b\n\n');
  });
});

describe('sse channel', () => {
  it('delivers to an open stream and reports "not delivered" (no error) without one', async () => {
    const channels = createChannels([{ name: 'sse', type: 'sse', config: {} }], { log: pino({ level: 'silent' }), clock: new ManualClock() });
    const sse = channels.get('sse')!;
    const hub = sseHubOf(channels)!;
    await expect(sse.channel.send(notice(), technician)).resolves.toEqual({ delivered: false, reason: 'no open stream (kept for replay)' });
    const sub = hub.subscribe(technician.id, { lastEventId: '0' });
    expect((await sub.next()).value?.noticeId).toBe('N-1'); // the missed one, replayed
    await expect(sse.channel.send(notice({ id: 'N-2' }), technician)).resolves.toEqual({ delivered: true });
    expect((await sub.next()).value?.noticeId).toBe('N-2');
    await sse.channel.close();
    expect((await sub.next()).done).toBe(true);
  });

  it('journals under <dataDir>/sse when given the data folder, so a restarted channel replays', async () => {
    const deps = { log: pino({ level: 'silent' }), clock: new ManualClock(), dataDir: tmp() };
    const before = createChannels([{ name: 'sse', type: 'sse', config: {} }], deps);
    await before.get('sse')!.channel.send(notice({ id: 'N-kept' }), technician);
    await before.get('sse')!.channel.close();
    const after = sseHubOf(createChannels([{ name: 'sse', type: 'sse', config: {} }], deps))!;
    expect(after.missedSince(technician.id, '0').map((e) => e.noticeId)).toEqual(['N-kept']);
  });
});
