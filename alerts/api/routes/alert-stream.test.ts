import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertEvent } from '../../../contracts/messages.ts';
import { openStream } from '../../../tests/stream-client.ts';
import { AlertBook, type AlertBookOptions } from '../../alert-book.ts';
import { StreamSlots } from '../stream-slots.ts';
import { alertStreamRoutes, type AlertStreamOptions } from './alert-stream.ts';
import { parseFrames, readUntil, stalledClient, streamHarness, turn, type StreamHarness } from './stream-harness.ts';

const AT = Date.parse('2026-11-23T02:00:00Z');
const OPERATOR = { name: 'control-room', role: 'operator' as const };

const raise = (device: string, detail?: Record<string, unknown>): AlertEvent => ({
  type: 'raise', subject: 'device', subjectId: device, gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT, ...(detail ? { detail } : {}),
});
const clear = (device: string): AlertEvent => ({ type: 'clear', subject: 'device', subjectId: device, gatewayId: 'GW-1', condition: 'GAS_ALARM_L2', severity: 'critical', atMs: AT + 60_000 });

const book = (options: Partial<AlertBookOptions> = {}) => new AlertBook({ historyLimit: 1000, compactAfterLines: 100_000, fsync: false, ...options });

const open: StreamHarness[] = [];
async function serve(alerts: AlertBook, options: AlertStreamOptions = {}): Promise<StreamHarness> {
  const h = await streamHarness({ alerts }, (app) => app.register(alertStreamRoutes, { heartbeat: () => () => undefined, ...options }), OPERATOR);
  open.push(h);
  return h;
}
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

describe('alert stream: Last-Event-ID replay', () => {
  it('replays every change after the id (header or ?lastEventId=), a raise as it was raised', async () => {
    const alerts = book();
    const { base } = await serve(alerts);
    const live = await openStream(`${base}/stream/alerts`);
    alerts.apply([raise('HA-1')]);
    alerts.apply([clear('HA-1')]);
    const cleared = await live.next((e) => e.event === 'alert.cleared');
    expect(live.events.map((e) => [e.id, e.event])).toEqual([['1', 'alert.raised'], ['2', 'alert.cleared']]);
    expect(cleared.data).toMatchObject({ deviceId: 'HA-1', state: 'cleared' });
    live.close();

    // Missed while away: a raise that has been cleared since, and a raise still active.
    alerts.apply([raise('HA-2'), raise('HA-3')]);
    alerts.apply([clear('HA-2')]);
    const byQuery = await openStream(`${base}/stream/alerts?lastEventId=2`);
    await byQuery.next((e) => e.id === '5');
    expect(byQuery.events.map((e) => [e.id, e.event, (e.data as { deviceId: string }).deviceId])).toEqual([
      ['3', 'alert.raised', 'HA-2'],
      ['4', 'alert.raised', 'HA-3'],
      ['5', 'alert.cleared', 'HA-2'],
    ]);
    expect(byQuery.events[0]!.data).toMatchObject({ state: 'active', clearedAt: null });
    // …and live after the replay.
    alerts.apply([clear('HA-3')]);
    expect((await byQuery.next((e) => e.id === '6')).event).toBe('alert.cleared');
    byQuery.close();

    const byHeader = await fetch(`${base}/stream/alerts`, { headers: { 'last-event-id': '4' } });
    const text = await readUntil(byHeader, (t) => t.includes('id: 6\n'));
    expect(parseFrames(text).map((f) => f.id)).toEqual(['5', '6']);
    await byHeader.body!.cancel();
  });

  it('tells a fresh client where it stands, and sends reset for an id it cannot resume from', async () => {
    const alerts = book({ changeLogLimit: 4 });
    const { base } = await serve(alerts);
    for (let i = 0; i < 5; i++) alerts.apply([raise(`HA-${i}`), clear(`HA-${i}`)]); // changes 1..10, the log keeps the last 4 (or a few more)
    const fresh = await fetch(`${base}/stream/alerts`);
    expect(await readUntil(fresh, (t) => t.includes('id: 10\n\n'))).toContain(': connected\n\nid: 10\n\n');
    await fresh.body!.cancel();

    for (const [id, reason] of [['1', 'not_retained'], ['1700000000000-3', 'unknown_id'], ['11', 'unknown_id']] as const) {
      const res = await fetch(`${base}/stream/alerts?lastEventId=${id}`);
      const frames = parseFrames(await readUntil(res, (t) => t.includes('event: reset')));
      expect(frames).toEqual([{ id: '10', event: 'reset', data: { reason, lastEventId: '10' } }]);
      await res.body!.cancel();
    }
  });

  it('replays across a restart: a new book and server over the same data folder keep the ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alert-stream-'));
    const before = book({ dir, compactAfterLines: 3 }); // folds the journal into the snapshot on the way
    const first = await serve(before);
    const client = await openStream(`${first.base}/stream/alerts`);
    before.apply([raise('HA-1'), raise('HA-2')]);
    before.apply([clear('HA-1')]);
    before.apply([raise('HA-3')]);
    const seen = await client.next((e) => e.id === '2');
    client.close();
    await first.close();

    const after = book({ dir, compactAfterLines: 3 });
    expect(after.lastChangeSeq).toBe(4);
    const second = await serve(after);
    after.apply([clear('HA-2')]);
    const resumed = await openStream(`${second.base}/stream/alerts?lastEventId=${seen.id}`);
    await resumed.next((e) => e.id === '5');
    expect(resumed.events.map((e) => [e.id, e.event, (e.data as { deviceId: string }).deviceId])).toEqual([
      ['3', 'alert.cleared', 'HA-1'],
      ['4', 'alert.raised', 'HA-3'],
      ['5', 'alert.cleared', 'HA-2'],
    ]);
    resumed.close();
  });
});

describe('alert stream: slow and busy', () => {
  const pad = 'x'.repeat(32 * 1024);

  it('closes a client that stops reading with event: close (slow_client), its buffer bounded, and its reconnect misses nothing', async () => {
    const alerts = book();
    const maxBufferedBytes = 64 * 1024;
    const { base, logs } = await serve(alerts, { limits: { maxBufferedBytes }, maxBacklogEvents: 20 });
    const stalled = await stalledClient(`${base}/stream/alerts`);
    const slowClosed = () => logs.find((l) => l.reason === 'slow_client');
    // Fill the socket buffers on both ends, one change at a time, letting I/O run in between.
    for (let i = 0; i < 5000 && !slowClosed(); i++) {
      alerts.apply([raise(`HA-${i}`, { pad })]);
      await turn();
    }
    const closed = slowClosed();
    expect(closed).toBeDefined();
    expect(closed!.msg).toMatch(/client too slow/);
    expect(closed!.backlogEvents).toBe(21);
    expect(closed!.bufferedBytes).toBeLessThan(maxBufferedBytes + pad.length + 2048); // the bound plus at most one frame
    alerts.apply([raise('HA-after-close')]);

    const { text, ended } = await stalled.resume();
    expect(ended).toBe('end'); // ended by the server, not cut off
    const frames = parseFrames(text);
    const last = frames[frames.length - 1]!;
    const alertFrames = frames.filter((f) => f.event?.startsWith('alert.'));
    expect(last).toEqual({ event: 'close', data: { reason: 'slow_client', lastEventId: alertFrames[alertFrames.length - 1]!.id } });
    expect(closed!.lastEventId).toBe(alertFrames[alertFrames.length - 1]!.id);

    const again = await openStream(`${base}/stream/alerts?lastEventId=${(last.data as { lastEventId: string }).lastEventId}`);
    await again.next((e) => e.id === String(alerts.lastChangeSeq));
    const ids = [...alertFrames.map((f) => Number(f.id)), ...again.events.map((e) => Number(e.id))];
    expect(ids).toEqual(Array.from({ length: alerts.lastChangeSeq }, (_, i) => i + 1)); // every change once, in order
    again.close();
  });

  it('a burst far larger than the socket takes at once reaches a reading client whole (no cut while the server is busy)', async () => {
    const alerts = book();
    const { base, logs } = await serve(alerts, { limits: { maxBufferedBytes: 64 * 1024 } });
    const client = await openStream(`${base}/stream/alerts`);
    // One synchronous storm: 600 leak alerts, ~20 MB of frames, written while the event loop is busy.
    alerts.apply(Array.from({ length: 600 }, (_, i) => raise(`HA-${i}`, { pad })));
    await client.next((e) => e.id === '600', 30_000);
    expect(client.events.map((e) => e.id)).toEqual(Array.from({ length: 600 }, (_, i) => String(i + 1)));
    expect(logs.filter((l) => l.reason === 'slow_client')).toEqual([]);
    client.close();
  });

  it('beats while idle and ends open streams with event: close (shutdown) when the server closes', async () => {
    const alerts = book();
    const beats: Array<() => void> = [];
    const h = await streamHarness({ alerts }, (app) => app.register(alertStreamRoutes, { heartbeat: (beat) => (beats.push(beat), () => beats.splice(beats.indexOf(beat), 1)) }), OPERATOR);
    const res = await fetch(`${h.base}/stream/alerts`);
    await readUntil(res, (t) => t.includes('id: 0'));
    expect(beats).toHaveLength(1);
    beats[0]!();
    expect(await readUntil(res, (t) => t.includes(': heartbeat'))).toContain(': heartbeat');
    const closing = h.close();
    expect(parseFrames(await readUntil(res, (t) => t.includes('event: close')))).toEqual([{ event: 'close', data: { reason: 'shutdown', lastEventId: '0' } }]);
    await closing;
    expect(beats).toHaveLength(0);
  });
});

describe('alert stream: bounded streams', () => {
  it('issue 13 #8: the 11th stream of one token answers 429 (200 used to be accepted), and a closed stream frees its slot', async () => {
    const alerts = book();
    const { base } = await serve(alerts, { slots: new StreamSlots() });
    const streams = [];
    for (let i = 0; i < 10; i++) streams.push(await openStream(`${base}/stream/alerts`));
    const refused = await fetch(`${base}/stream/alerts`);
    expect(refused.status).toBe(429);
    expect((await refused.json()).message).toContain('10 live streams');

    streams.shift()!.close();
    // The server frees the slot once it sees the connection close.
    let reopened: Response | undefined;
    await expect.poll(async () => {
      const res = await fetch(`${base}/stream/alerts`);
      if (res.ok) reopened = res;
      else await res.body?.cancel();
      return res.status;
    }).toBe(200);
    expect(await readUntil(reopened!, (t) => t.includes(': connected'))).toContain(': connected');
    await reopened!.body!.cancel();
    for (const s of streams) s.close();
  });
});
