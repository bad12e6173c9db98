import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { OnCallAnswer, Person } from '../oncall/directory.ts';
import type { Notice } from '../tickets/notice.ts';
import { FakeDirectory, T0, lookupDevice, newBook, raise } from '../tickets/test-support.ts';
import { AlarmJournal } from './alarm-journal.ts';
import { SafetyLane } from './safety-lane.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The on-call directory's in-memory answer, as SqlOnCallDirectory gives it once loaded. */
class LoadedDirectory extends FakeDirectory {
  loaded = true;
  whoIsOnCallNow(district: string | undefined, _atMs: number): OnCallAnswer | undefined {
    if (!this.loaded) return undefined;
    const tech = district ? this.technicians.get(district) : undefined;
    return { district: district ?? '', teamId: 't', ...(tech ? { technician: { id: tech, name: tech, role: 'technician' } } : {}), supervisor: { id: 'sup-zhao', name: '赵主管', role: 'supervisor' } };
  }
}

function lane(dir?: string, clock = new ManualClock(T0)) {
  const sent: Array<{ notice: Notice; people?: readonly Person[] }> = [];
  const directory = new LoadedDirectory();
  const journal = new AlarmJournal(dir, clock.now());
  const log = { warn: () => {}, error: () => {} };
  const l = new SafetyLane({ journal, directory, lookupDevice, clock, log, push: { dispatchFresh: async (notice, people) => void sent.push({ notice, ...(people ? { people } : {}) }) } });
  return { lane: l, sent, directory, journal, clock };
}

describe('SafetyLane', () => {
  it('pushes a leak to the technician on call synchronously, one push per device at the worst priority', () => {
    const { lane: l, sent } = lane();
    const book = newBook();
    const changes = [
      ...raise(book, 'HA-1', 'GAS_ALARM_L1', T0, { kind: 'home_gas_alarm', severity: 'high', detail: { lelPct: 70 } }),
      ...raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical', detail: { lelPct: 70 } }),
      ...raise(book, 'HA-1', 'VALVE_NOT_CUT', T0, { kind: 'home_gas_alarm', severity: 'critical' }),
      ...raise(book, 'HM-1', 'ERR-1', T0),
    ];
    l.onAlertChanges(changes);
    // No await above: the push is out before the alert book's listener returns.
    expect(sent).toHaveLength(1);
    const n = sent[0]!.notice;
    expect(n).toMatchObject({ id: `alarm:${changes[0]!.alert.id}`, kind: 'alarm.raised', priority: 'emergency', recipients: ['tech-li'], ticketId: '' });
    expect(n.title['zh-CN']).toContain('【紧急】');
    expect(n.body['zh-CN']).toContain('70 %LEL');
    expect([...(n.data.alertIds as string[])].sort()).toEqual(changes.slice(0, 3).map((c) => c.alert.id).sort());
    expect((n.data.conditions as string[])[0]).not.toBe('GAS_ALARM_L1');
    expect(sent[0]!.people?.map((p) => p.id)).toEqual(['tech-li']);
  });

  it('goes to the supervisor when no technician is on call, and waits for one directory read before it is loaded', async () => {
    const { lane: l, sent, directory } = lane();
    const book = newBook();
    l.onAlertChanges(raise(book, 'HM-9', 'GAS_ALARM_L1', T0, { severity: 'high' }));
    expect(sent.map((s) => s.notice.recipients)).toEqual([['sup-zhao']]);
    directory.loaded = false;
    l.onAlertChanges(raise(book, 'HM-1', 'GAS_ALARM_L1', T0, { severity: 'high' }));
    expect(sent).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.map((s) => s.notice.recipients)).toEqual([['sup-zhao'], ['tech-wang']]);
  });

  it('never pushes the same alert twice, also after a restart, and tells the ticket which push it stands for', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lane-'));
    dirs.push(dir);
    const book = newBook();
    const changes = raise(book, 'HA-1', 'GAS_ALARM_L2', T0, { kind: 'home_gas_alarm', severity: 'critical' });
    const first = lane(dir);
    first.lane.onAlertChanges(changes);
    first.lane.onAlertChanges(changes);
    expect(first.sent).toHaveLength(1);

    const restarted = lane(dir);
    restarted.lane.onAlertChanges(changes); // the alert book's replay
    expect(restarted.sent).toHaveLength(0);
    expect(restarted.lane.priorPush([changes[0]!.alert.id])).toMatchObject({ recipients: ['tech-li'], notice: { id: `alarm:${changes[0]!.alert.id}` } });
    const again: string[] = [];
    expect(restarted.lane.resume(3_600_000, (n) => again.push(n.id))).toBe(1);
    expect(again).toEqual([`alarm:${changes[0]!.alert.id}`]);
  });
});
