import { describe, expect, it } from 'vitest';
import { AlertBook } from '../alerts/alert-book.ts';
import { ticketChanges } from '../alerts/ticket-door.ts';
import type { AlertEvent, Reading } from '../contracts/messages.ts';
import { DeviceEngine, type EngineObserver } from './device-engine.ts';
import { DeviceCodesDetector } from './detectors/device-codes/index.ts';
import { GasAlarmDetector } from './detectors/gas-alarm/index.ts';
import { ValveNotCutDetector } from './detectors/valve-not-cut/index.ts';
import { reading } from './detectors/testing.ts';
import { parseFlapSettings } from './flapping.ts';
import { parseLateSettings } from './late-readings.ts';
import { parseSettings } from './settings.ts';

const detectors = [GasAlarmDetector, ValveNotCutDetector, DeviceCodesDetector].map((definition) => ({ definition, settings: parseSettings(definition as never, {}) }));

function engine(late: Record<string, unknown> = {}, observer: EngineObserver = { onJudged() {} }) {
  return new DeviceEngine(detectors as never, { profileOf: () => undefined }, observer, parseFlapSettings({ enabled: false }), parseLateSettings(late));
}

function run(e: DeviceEngine, readings: Reading[]): AlertEvent[] {
  const out: AlertEvent[] = [];
  e.process(readings, out);
  return out;
}

const NOW_S = 3600;
/** A home alarm's reading measured at `atS` and delivered at `receivedS` (device and pipeline seconds from T0). */
const alarm = (atS: number, lelPct: number, receivedS = atS, extra: Partial<Reading> = {}) =>
  ({ ...reading({ kind: 'home_gas_alarm', atS, lelPct, ...extra }), receivedAtMs: reading({ kind: 'home_gas_alarm', atS: receivedS }).atMs });
/** Normal readings every 30 s up to NOW_S, delivered on time. */
const normalUpToNow = () => Array.from({ length: 21 }, (_, i) => alarm(NOW_S - 600 + i * 30, 0));
const lines = (events: AlertEvent[]) => events.map((x) => `${x.type} ${x.condition}${x.late ? ' late' : ''}`);
const ms = (s: number) => reading({ kind: 'home_gas_alarm', atS: s }).atMs;

describe('late readings judged in event time (issue 15 #1)', () => {
  it('a buffered reading from 9 minutes ago at 48 %LEL is a historical L1: raised at its own time, cleared at the newest reading, marked late with the delay', () => {
    const e = engine();
    expect(run(e, normalUpToNow())).toEqual([]);
    const events = run(e, [alarm(NOW_S - 540, 48, NOW_S + 5)]);
    expect(lines(events)).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    expect(events[0]).toMatchObject({ atMs: ms(NOW_S - 540), late: true, delayMs: 545_000, severity: 'high', detail: { lelPct: 48 } });
    expect(events[1]).toMatchObject({ atMs: ms(NOW_S), late: true, detail: { clearedBy: 'newer_reading' } });
    // The current state is untouched: nothing active, the newest judged reading still the newest.
    const state = e.devices.get('DEV-1')!;
    expect(state.active).toBe(0);
    expect(state.lastAtMs).toBe(ms(NOW_S));
  });

  it('a late leak with its valve open raises L1, L2 and VALVE_NOT_CUT as of then; the linked valve now is not taken for then', () => {
    const e = engine();
    run(e, normalUpToNow());
    const events = run(e, [alarm(NOW_S - 300, 60, NOW_S, { valve: 'open' })]);
    expect(lines(events).filter((l) => l.startsWith('raise'))).toEqual(['raise GAS_ALARM_L1 late', 'raise GAS_ALARM_L2 late', 'raise VALVE_NOT_CUT late']);
  });

  it('clears at the time the late run itself saw the alarm end, when the backfill shows it', () => {
    const e = engine();
    run(e, normalUpToNow());
    // 30 %LEL at -9 min, then under the set point for a minute: cleared 60 s after the first reading under it.
    const events = run(e, [alarm(NOW_S - 540, 30, NOW_S), alarm(NOW_S - 510, 0, NOW_S), alarm(NOW_S - 480, 0, NOW_S), alarm(NOW_S - 450, 0, NOW_S)]);
    expect(lines(events)).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    expect(events[1]).toMatchObject({ atMs: ms(NOW_S - 450), detail: { clearedBy: 'late_reading' } });
  });

  it('a duplicated late reading, or the same backfill delivered twice, says nothing the second time', () => {
    const e = engine();
    run(e, normalUpToNow());
    const late = [alarm(NOW_S - 540, 48, NOW_S), alarm(NOW_S - 510, 48, NOW_S)];
    expect(lines(run(e, late))).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    expect(run(e, late)).toEqual([]);
    expect(run(e, [late[0]!])).toEqual([]);
  });

  it('out of order: readings older than the late run start it afresh, and a finding inside a known episode is the same episode', () => {
    const e = engine();
    run(e, normalUpToNow());
    expect(lines(run(e, [alarm(NOW_S - 300, 30, NOW_S)]))).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    // Older still, and before the episode just recorded: a separate, earlier episode.
    const earlier = run(e, [alarm(NOW_S - 500, 30, NOW_S), alarm(NOW_S - 400, 30, NOW_S)]);
    expect(lines(earlier)).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    // Cleared at the next known episode's start, not after it: episodes never overlap.
    expect(earlier[1]!.atMs).toBe(ms(NOW_S - 300));
  });

  it('a late finding of a condition active now belongs to the live alert, and one inside a live episode adds nothing', () => {
    const e = engine();
    run(e, [alarm(0, 0), alarm(30, 60), alarm(60, 60)]);
    // L1 and L2 are active since 30 s: a late reading at 15 s adds nothing.
    expect(run(e, [alarm(15, 60, 90)])).toEqual([]);
    run(e, [alarm(90, 0), alarm(120, 0), alarm(150, 0), alarm(180, 0)]);
    expect(e.devices.get('DEV-1')!.active).toBe(0);
    // The live episode ran 30 s … 150 s: a late reading at 45 s is inside it.
    expect(run(e, [alarm(45, 60, 200)])).toEqual([]);
  });

  it('backfilled thousands at once: 5,000 buffered readings with one leak in them make one historical alert per condition, and none the second time', () => {
    let tooOld = 0;
    const e = engine({}, { onJudged: (_j: number, _l: number, _u: number, old: number) => (tooOld += old) });
    run(e, [alarm(250_000, 0)]);
    // 41 h of readings every 30 s; those over 24 h before the newest (the first 2,120) are past the window.
    const backfill = Array.from({ length: 5000 }, (_, i) => alarm(100_000 + i * 30, i >= 4000 && i < 4010 ? 55 : 0, 250_001));
    const events = run(e, backfill);
    expect(events).toHaveLength(4);
    expect(events.every((x) => x.late === true && x.delayMs! > 0)).toBe(true);
    expect(events.filter((x) => x.type === 'raise').map((x) => x.condition).sort()).toEqual(['GAS_ALARM_L1', 'GAS_ALARM_L2']);
    expect(events.find((x) => x.type === 'raise')!.atMs).toBe(ms(100_000 + 4000 * 30));
    expect(events.find((x) => x.type === 'clear' && x.condition === 'GAS_ALARM_L2')!.atMs).toBe(ms(100_000 + 4012 * 30));
    expect(tooOld).toBe(2120);
    expect(run(e, backfill)).toEqual([]);
    expect(e.devices.get('DEV-1')!.active).toBe(0);
  });

  it('a late reading older than the window is counted and not judged', () => {
    let tooOld = 0;
    const e = engine({ historyWindowMs: 3_600_000 }, { onJudged: (_j: number, _l: number, _u: number, old: number) => (tooOld += old) });
    run(e, [alarm(7200, 0)]);
    expect(run(e, [alarm(3599, 60, 7200)])).toEqual([]);
    expect(tooOld).toBe(1);
    expect(lines(run(e, [alarm(3601, 60, 7200)]))).toContain('raise GAS_ALARM_L2 late');
  });

  it('judged not at all when disabled', () => {
    const e = engine({ enabled: false });
    run(e, normalUpToNow());
    expect(run(e, [alarm(NOW_S - 540, 48, NOW_S)])).toEqual([]);
  });

  it('a late non-safety fault is a historical alert too; the ticket side opens no ticket for it, but does for a late leak', () => {
    const e = engine();
    const meter = (atS: number, status: string[], receivedS = atS) => ({ ...reading({ kind: 'household_meter', deviceId: 'M-1', atS, status }), receivedAtMs: ms(receivedS) });
    run(e, [meter(0, []), meter(600, [])]);
    const events = run(e, [meter(300, ['ERR-6'], 600)]);
    expect(events.filter((x) => x.type === 'raise').every((x) => x.late === true)).toBe(true);
    expect(events.length).toBeGreaterThan(0);
    run(e, normalUpToNow());
    events.push(...run(e, [alarm(NOW_S - 540, 48, NOW_S)]));
    const book = new AlertBook({ historyLimit: 100, compactAfterLines: 1000, fsync: false });
    const changes = book.apply(events);
    expect(changes.map((c) => `${c.type} ${c.alert.condition} ${c.alert.state}`)).toHaveLength(events.length);
    expect(book.query({ state: 'active', limit: 10 })).toEqual([]);
    const toTickets = ticketChanges(changes).filter((c) => c.type === 'raised').map((c) => c.alert.condition);
    expect(toTickets).toEqual(['GAS_ALARM_L1']);
  });

  it('the alert book keeps a historical alert apart from live ones: applied after a newer live episode, redelivered, replayed', () => {
    const book = new AlertBook({ historyLimit: 100, compactAfterLines: 1000, fsync: false });
    const e = engine();
    book.apply(run(e, [alarm(0, 0), alarm(300, 60), alarm(330, 0), alarm(360, 0), alarm(390, 0), alarm(420, 0)]));
    // A late leak at 100 s, before the live episode at 300 s: the live last-edge order does not refuse it.
    const historical = run(e, [alarm(100, 30, 450)]);
    expect(lines(historical)).toEqual(['raise GAS_ALARM_L1 late', 'clear GAS_ALARM_L1 late']);
    expect(historical[1]!.atMs).toBe(ms(300));
    const changes = book.apply(historical);
    expect(changes.map((c) => c.type)).toEqual(['raised', 'cleared']);
    expect(changes[0]!.alert).toMatchObject({ late: true, delayMs: 350_000, raisedAt: new Date(ms(100)).toISOString(), state: 'cleared' });
    expect(book.apply(historical)).toEqual([]);
    // Live edges still order as before: a replay of the old live raise is refused.
    expect(book.apply([{ ...historical[0]!, late: undefined, atMs: ms(200) }])).toEqual([]);
  });

  it('snapshots and restores the late run and the episodes: a duplicate after a restart is still recognised', () => {
    const first = engine();
    run(first, normalUpToNow());
    const late = [alarm(NOW_S - 540, 48, NOW_S)];
    expect(run(first, late)).toHaveLength(2);
    const snapshot = JSON.parse(JSON.stringify(first.snapshotDevice(first.devices.get('DEV-1')!)));
    const second = engine();
    second.restoreDevice(snapshot);
    expect(second.devices.get('DEV-1')!.episodes).toEqual(first.devices.get('DEV-1')!.episodes);
    expect(run(second, late)).toEqual([]);
  });

  it('an edge from a reading delivered late but newer than the last judged is live, and carries its delay', () => {
    const e = engine();
    run(e, [alarm(0, 0)]);
    const events = run(e, [alarm(60, 60, 60 + 1200)]);
    expect(events[0]).toMatchObject({ type: 'raise', condition: 'GAS_ALARM_L1', delayMs: 1_200_000 });
    expect(events[0]!.late).toBeUndefined();
    expect(run(e, [alarm(90, 60, 91)]).every((x) => x.delayMs === undefined)).toBe(true);
  });
});
