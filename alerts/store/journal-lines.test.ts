/**
 * Issue 13 #1: a start never fails on one bad stored record. A journal line that parses but is
 * not a record of its journal (`null`, a raise without its alert, a seq that is text) used to
 * throw while replaying, so the process could not start again; now each journal skips the line
 * and dead-letters it, and replays the rest.
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertBook } from '../alert-book.ts';
import { notice } from '../push/testing.ts';
import { SseHub } from '../push/sse/hub.ts';
import { AlarmJournal } from '../safety/alarm-journal.ts';
import type { StoreDeadLetter } from './dead-letters.ts';

const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const tmp = () => mkdtempSync(join(tmpdir(), 'journal-lines-'));
const corrupt = ['null', '[1,2]', '{"op":"raise"}', '{"op":"raise","seq":"x","alert":{"id":1}}', '{"t":"e","seq":"NaN","personId":"p","notice":null}', '{"op":"cle'];

describe('journal replay skips and dead-letters what is not a record', () => {
  const openBook = (dir: string, letters: StoreDeadLetter[]) => new AlertBook({ dir, historyLimit: 100, compactAfterLines: 1000, fsync: false, onDeadLetter: (l) => letters.push(l) });
  const leak = (deviceId: string, atMs: number) =>
    ({ type: 'raise', subject: 'device', subjectId: deviceId, gatewayId: 'GW-1', kind: 'home_gas_alarm', condition: 'GAS_ALARM_L2', severity: 'critical', atMs }) as const;

  it('issue 13 #1: a restart on an alert journal with corrupt lines starts, with the leaks around them active', () => {
    const dir = tmp();
    openBook(dir, []).apply([leak('HA-1', T0)]);
    appendFileSync(join(dir, 'alerts.journal'), corrupt.map((l) => `${l}\n`).join(''));
    openBook(dir, []).apply([leak('HA-2', T0 + 1000)]);

    const letters: StoreDeadLetter[] = [];
    const book = openBook(dir, letters);
    expect([...book.active()].map((a) => a.subjectId).sort()).toEqual(['HA-1', 'HA-2']);
    expect(book.lastChangeSeq).toBe(2);
    expect(letters).toHaveLength(corrupt.length);
    expect(letters.every((l) => l.reason === 'journal_record_corrupt' && l.source === 'alerts.journal')).toBe(true);
    expect(letters[0]!.message).toMatch(/^line 2: /);
  });

  it('issue 13 #1: a restart on an unreadable alert snapshot starts from the journal, the snapshot kept aside', () => {
    const dir = tmp();
    const first = openBook(dir, []);
    first.apply([leak('HA-1', T0)]);
    first.compact();
    first.apply([leak('HA-2', T0 + 1000)]);
    writeFileSync(join(dir, 'alerts.json'), '{"active": [');

    const letters: StoreDeadLetter[] = [];
    const book = openBook(dir, letters);
    expect([...book.active()].map((a) => a.subjectId)).toEqual(['HA-2']);
    expect(existsSync(join(dir, 'alerts.json.corrupt'))).toBe(true);
    expect(letters).toEqual([expect.objectContaining({ reason: 'journal_record_corrupt', source: 'alerts.json' })]);
  });

  it('issue 13 #1: one stored alert in the snapshot that cannot be replayed is skipped, the others kept', () => {
    const dir = tmp();
    const first = openBook(dir, []);
    first.apply([leak('HA-1', T0), leak('HA-2', T0)]);
    first.compact();
    const snapshot = JSON.parse(readFileSync(join(dir, 'alerts.json'), 'utf8'));
    snapshot.active[0] = { id: 42, subjectId: null };
    writeFileSync(join(dir, 'alerts.json'), JSON.stringify(snapshot));

    const letters: StoreDeadLetter[] = [];
    const book = openBook(dir, letters);
    expect([...book.active()]).toHaveLength(1);
    expect(letters).toEqual([expect.objectContaining({ source: 'alerts.json', message: expect.stringMatching(/^active alert: /) })]);
  });

  it('issue 13 #1: a restart on an alarm journal with corrupt lines starts, and the pushes around them still stand for their alerts', () => {
    const dir = tmp();
    const push = (id: string, atMs: number) => ({ notice: notice({ id: `alarm:${id}`, kind: 'alarm.raised' }), alertIds: [id], recipients: ['tech-li'], atMs });
    const lines = [JSON.stringify(push('A-1', T0)), ...corrupt, '{"notice":{},"alertIds":["A-9"],"recipients":[],"atMs":"soon"}', JSON.stringify(push('A-2', T0 + 1))];
    writeFileSync(join(dir, 'alarm-pushes.jsonl'), lines.map((l) => `${l}\n`).join(''));

    const letters: StoreDeadLetter[] = [];
    const journal = new AlarmJournal(dir, T0 + 2, undefined, (l) => letters.push(l));
    expect(journal.pushFor(['A-1'])?.notice.id).toBe('alarm:A-1');
    expect(journal.pushFor(['A-2'])?.notice.id).toBe('alarm:A-2');
    expect(journal.pushFor(['A-9'])).toBeUndefined();
    expect(letters).toHaveLength(corrupt.length + 1);
    // The file is rewritten with what replayed: the next start has nothing to skip.
    const again: StoreDeadLetter[] = [];
    new AlarmJournal(dir, T0 + 3, undefined, (l) => again.push(l));
    expect(again).toEqual([]);
  });

  it('issue 13 #1: a restart on an SSE replay journal with corrupt lines starts, ids and replay intact', () => {
    const dir = tmp();
    const before = new SseHub({ dir });
    before.publish('tech-li', notice({ id: 'N-1' }));
    appendFileSync(join(dir, 'sse-events.jsonl'), [...corrupt, '{"t":"e","seq":7,"personId":"tech-li","notice":null}'].map((l) => `${l}\n`).join(''));
    new SseHub({ dir }).publish('tech-li', notice({ id: 'N-2' }));

    const letters: StoreDeadLetter[] = [];
    const hub = new SseHub({ dir, onDeadLetter: (l) => letters.push(l) });
    expect(hub.lastSeq).toBe(2);
    expect(hub.missedSince('tech-li', '0').map((e) => e.noticeId)).toEqual(['N-1', 'N-2']);
    expect(letters).toHaveLength(corrupt.length + 1);
    expect(letters.every((l) => l.source === 'sse-events.jsonl')).toBe(true);
  });
});
