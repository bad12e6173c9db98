import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStream } from '../../../tests/stream-client.ts';
import { SseHub, type SseHubOptions } from '../../push/sse/hub.ts';
import { notice } from '../../push/testing.ts';
import { streamRoutes, type StreamOptions } from './stream.ts';
import { parseFrames, readUntil, stalledClient, streamHarness, turn, type StreamHarness } from './stream-harness.ts';

const TECH = { name: 'phone', role: 'technician' as const, personId: 'P-1' };

const open: StreamHarness[] = [];
async function serve(hub: SseHub, options: StreamOptions = {}): Promise<StreamHarness> {
  const h = await streamHarness({ sse: hub }, (app) => app.register(streamRoutes, { heartbeat: () => () => undefined, ...options }), TECH);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

const noticeIdOf = (data: unknown) => (data as { id: string }).id;

describe('person stream', () => {
  it('replays after Last-Event-ID (header or ?lastEventId=) and says reset for an id it cannot resume from', async () => {
    const hub = new SseHub({ bufferSize: 3 });
    const { base } = await serve(hub);
    const fresh = await fetch(`${base}/stream`);
    expect(await readUntil(fresh, (t) => t.includes('id: 0\n\n'))).toContain(': connected\n\nid: 0\n\n');
    await fresh.body!.cancel();
    for (let i = 1; i <= 4; i++) hub.publish('P-1', notice({ id: `N-${i}` }));
    hub.publish('P-2', notice({ id: 'N-other' }));

    const byQuery = await openStream(`${base}/stream?lastEventId=2`);
    await byQuery.next((e) => e.id === '4');
    expect(byQuery.events.map((e) => [e.id, noticeIdOf(e.data)])).toEqual([['3', 'N-3'], ['4', 'N-4']]);
    hub.publish('P-1', notice({ id: 'N-6' }));
    expect(noticeIdOf((await byQuery.next((e) => e.id === '6')).data)).toBe('N-6');
    byQuery.close();

    const byHeader = await fetch(`${base}/stream`, { headers: { 'last-event-id': '0' } }); // N-1 and N-2 are no longer kept (3 per person)
    const frames = parseFrames(await readUntil(byHeader, (t) => t.includes('"id":"N-6"')));
    expect(frames[0]).toEqual({ id: '2', event: 'reset', data: { reason: 'not_retained', lastEventId: '2' } });
    expect(frames.slice(1).map((f) => f.id)).toEqual(['3', '4', '6']); // the rest still kept is replayed
    await byHeader.body!.cancel();

    const old = await fetch(`${base}/stream?lastEventId=1700000000000-3`); // the id format before this release
    expect(parseFrames(await readUntil(old, (t) => t.includes('event: reset')))).toEqual([{ id: '6', event: 'reset', data: { reason: 'unknown_id', lastEventId: '6' } }]);
    await old.body!.cancel();
  });

  it('replays across a restart: a new hub and server over the same data folder keep the ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'person-stream-'));
    const before = new SseHub({ dir });
    const first = await serve(before);
    const client = await openStream(`${first.base}/stream`);
    before.publish('P-1', notice({ id: 'N-1' }));
    const seen = await client.next((e) => e.id === '1');
    client.close();
    before.publish('P-1', notice({ id: 'N-2' })); // missed: the app is away
    await first.close();
    before.close();

    const after = new SseHub({ dir });
    const second = await serve(after);
    after.publish('P-1', notice({ id: 'N-3' }));
    const resumed = await openStream(`${second.base}/stream?lastEventId=${seen.id}`);
    await resumed.next((e) => e.id === '3');
    expect(resumed.events.map((e) => [e.id, noticeIdOf(e.data)])).toEqual([['2', 'N-2'], ['3', 'N-3']]);
    resumed.close();
  });

  it('closes a client that stops reading with event: close (slow_client), its buffer bounded, and its reconnect misses nothing', async () => {
    const options: SseHubOptions = { bufferSize: 20, maxBacklogEvents: 5 };
    const hub = new SseHub(options);
    const maxBufferedBytes = 32 * 1024;
    const { base, logs } = await serve(hub, { limits: { maxBufferedBytes } });
    const stalled = await stalledClient(`${base}/stream`);
    const big = { 'zh-CN': '请立即到场。'.repeat(2000), en: 'Go on site now. '.repeat(2000) };
    const slowClosed = () => logs.find((l) => l.reason === 'slow_client');
    for (let i = 1; i <= 5000 && !slowClosed(); i++) {
      hub.publish('P-1', notice({ id: `N-${i}`, body: big }));
      await turn();
    }
    const closed = slowClosed();
    expect(closed).toBeDefined();
    expect(closed!.bufferedBytes).toBeLessThan(maxBufferedBytes + 80_000); // the bound plus at most one frame
    expect(hub.listenerCount('P-1')).toBe(0);
    hub.publish('P-1', notice({ id: 'N-after-close' }));

    const { text, ended } = await stalled.resume();
    expect(ended).toBe('end');
    const frames = parseFrames(text);
    const notices = frames.filter((f) => f.event === 'ticket.dispatched');
    const lastId = notices[notices.length - 1]!.id!;
    expect(frames[frames.length - 1]).toEqual({ event: 'close', data: { reason: 'slow_client', lastEventId: lastId } });

    const again = await openStream(`${base}/stream?lastEventId=${lastId}`);
    await again.next((e) => noticeIdOf(e.data) === 'N-after-close');
    const ids = [...notices.map((f) => Number(f.id)), ...again.events.map((e) => Number(e.id))];
    expect(ids).toEqual(Array.from({ length: hub.lastSeq }, (_, i) => i + 1)); // every notice once, in order
    again.close();
  });
});
