import { describe, expect, it } from 'vitest';
import { coverageGaps, localDate, localToUtcMs, onShiftAt, rotaSchedule } from './rota.ts';
import { checkRotation, type Override, parseWith, type Rotation, RotationSchema } from './schemas.ts';

const rotation = (raw: unknown): Rotation => checkRotation(parseWith(RotationSchema, raw, 'rotation'));
const at = (local: string, tz = 'Asia/Shanghai') => localToUtcMs(local.slice(0, 10), local.slice(11, 16), tz);
const who = (r: Rotation | undefined, local: string, overrides: Override[] = []) => onShiftAt(r, overrides, at(local, r?.timeZone))[0]?.personId;

// 004:70–76: a 09:00–17:00 and b 12:00–20:00 on site, c 20:00–22:00 on call at home; 4 people, 3 weeks.
const manual = rotation({
  teamId: 'north',
  members: ['p1', 'p2', 'p3', 'p4'],
  shifts: [
    { name: 'a', kind: 'on_site', start: '09:00', end: '17:00' },
    { name: 'b', kind: 'on_site', start: '12:00', end: '20:00' },
    { name: 'c', kind: 'home', start: '20:00', end: '22:00' },
  ],
  periodDays: 7,
  anchorDate: '2026-11-02',
});

describe('the manual’s 4-person 3-week rota', () => {
  it.each([
    ['2026-11-02 08:59', undefined],
    ['2026-11-02 09:00', 'p1'],
    ['2026-11-02 13:00', 'p1'], // a and b overlap: the first shift answers
    ['2026-11-02 17:00', 'p2'],
    ['2026-11-02 21:30', 'p3'],
    ['2026-11-02 22:00', undefined],
    ['2026-11-08 21:59', 'p3'], // the last day of the first week
    ['2026-11-09 10:00', 'p4'], // week 2: everyone moved on one slot
    ['2026-11-09 18:00', 'p1'],
    ['2026-11-09 20:00', 'p2'],
  ])('at %s local the technician is %s', (local, expected) => {
    expect(who(manual, local)).toBe(expected);
  });

  it('takes each member through a, b and c in three consecutive weeks, then a week off', () => {
    const shiftsOf = (person: string) =>
      [0, 1, 2, 3].map((week) => {
        const date = new Date(Date.UTC(2026, 10, 2 + 7 * week)).toISOString().slice(0, 10);
        const day = rotaSchedule(manual, [], at(`${date} 00:00`), at(`${date} 23:59`));
        return day.find((s) => s.personId === person)?.shiftName ?? 'off';
      });
    expect(shiftsOf('p1')).toEqual(['a', 'b', 'c', 'off']);
    expect(shiftsOf('p2')).toEqual(['b', 'c', 'off', 'a']);
    expect(shiftsOf('p4')).toEqual(['off', 'a', 'b', 'c']);
  });

  it('flags the home on-call shift and hands over exactly at the shift boundary', () => {
    const before = onShiftAt(manual, [], at('2026-11-02 20:00') - 1);
    const after = onShiftAt(manual, [], at('2026-11-02 20:00'));
    expect(before.map((s) => [s.personId, s.shiftName, s.kind])).toEqual([['p2', 'b', 'on_site']]);
    expect(after.map((s) => [s.personId, s.shiftName, s.kind])).toEqual([['p3', 'c', 'home']]);
    expect(after[0]!.startMs).toBe(Date.parse('2026-11-02T12:00:00Z'));
    expect(after[0]!.endMs).toBe(Date.parse('2026-11-02T14:00:00Z'));
  });

  it('lists a day’s schedule in start order', () => {
    const day = rotaSchedule(manual, [], at('2026-11-03 00:00'), at('2026-11-04 00:00'));
    expect(day.map((s) => `${s.shiftName}:${s.personId}:${new Date(s.startMs).toISOString()}`)).toEqual([
      'a:p1:2026-11-03T01:00:00.000Z',
      'b:p2:2026-11-03T04:00:00.000Z',
      'c:p3:2026-11-03T12:00:00.000Z',
    ]);
  });
});

describe('the day/evening rota (001:100)', () => {
  const dayEvening = rotation({
    teamId: 'south',
    members: ['d1', 'd2'],
    shifts: [
      { name: 'day', kind: 'on_site', start: '09:00', end: '18:00' },
      { name: 'evening', kind: 'on_site', start: '18:00', end: '23:00' },
    ],
    periodDays: 7,
    anchorDate: '2026-11-02',
  });

  it.each([
    ['2026-11-04 09:00', 'd1'],
    ['2026-11-04 17:59', 'd1'],
    ['2026-11-04 18:00', 'd2'],
    ['2026-11-04 23:00', undefined],
    ['2026-11-10 09:00', 'd2'],
    ['2026-11-10 18:00', 'd1'],
    ['2026-11-01 09:00', 'd2'], // before the anchor: periods count backwards too
  ])('at %s local the technician is %s', (local, expected) => {
    expect(who(dayEvening, local)).toBe(expected);
  });
});

describe('shifts over midnight', () => {
  const dayNight = rotation({
    teamId: 'plant',
    members: ['n1', 'n2'],
    shifts: [
      { name: 'day', kind: 'on_site', start: '08:00', end: '20:00' },
      { name: 'night', kind: 'home', start: '20:00', end: '08:00' },
    ],
    periodDays: 1,
    anchorDate: '2026-11-02',
  });

  it('belongs to the day it started, so the hand-over is at 08:00, not midnight', () => {
    expect(who(dayNight, '2026-11-02 23:00')).toBe('n2');
    expect(who(dayNight, '2026-11-03 00:00')).toBe('n2'); // still the night of the 2nd
    expect(who(dayNight, '2026-11-03 07:59')).toBe('n2');
    expect(who(dayNight, '2026-11-03 08:00')).toBe('n2'); // the 3rd's day shift: n2's turn
    expect(who(dayNight, '2026-11-03 20:00')).toBe('n1');
    const night = onShiftAt(dayNight, [], at('2026-11-03 03:00'))[0]!;
    expect(night).toMatchObject({ shiftName: 'night', kind: 'home', shiftDate: '2026-11-02' });
    expect(night.endMs - night.startMs).toBe(12 * 3_600_000);
  });

  it('treats equal start and end as a 24-hour shift', () => {
    const allDay = rotation({ teamId: 't', members: ['x', 'y'], shifts: [{ name: 'all', kind: 'home', start: '08:00', end: '08:00' }], periodDays: 1, anchorDate: '2026-11-02' });
    expect(who(allDay, '2026-11-03 07:59')).toBe('x');
    expect(who(allDay, '2026-11-03 08:00')).toBe('y');
  });
});

describe('overrides', () => {
  const standIn: Override = { id: 'o1', teamId: 'north', personId: 'p4', replacesId: 'p2', fromMs: at('2026-11-02 14:00'), toMs: at('2026-11-02 19:00'), reason: '病假 sick leave' };
  const teamWide: Override = { id: 'o2', teamId: 'north', personId: 'p9', fromMs: at('2026-11-02 21:00'), toMs: at('2026-11-03 09:30'), reason: '抢险 emergency cover' };

  it('lets a stand-in take over part of one person’s shift', () => {
    expect(who(manual, '2026-11-02 18:00', [standIn])).toBe('p4');
    expect(who(manual, '2026-11-02 19:00', [standIn])).toBe('p2');
    const seg = onShiftAt(manual, [standIn], at('2026-11-02 18:00'))[0]!;
    expect(seg).toMatchObject({ shiftName: 'b', override: { id: 'o1', replacesId: 'p2' }, startMs: at('2026-11-02 14:00'), endMs: at('2026-11-02 19:00') });
    const b = rotaSchedule(manual, [standIn], at('2026-11-02 00:00'), at('2026-11-03 00:00')).filter((s) => s.shiftName === 'b');
    expect(b.map((s) => s.personId)).toEqual(['p2', 'p4', 'p2']);
  });

  it('puts a team-wide override ahead of the rotation, even outside any shift', () => {
    expect(who(manual, '2026-11-02 21:30', [teamWide])).toBe('p9');
    expect(who(manual, '2026-11-03 03:00', [teamWide])).toBe('p9');
    expect(who(manual, '2026-11-03 09:30', [teamWide])).toBe('p1');
    expect(onShiftAt(manual, [teamWide], at('2026-11-02 21:30')).map((s) => s.personId)).toEqual(['p9', 'p3']);
  });
});

describe('time zones', () => {
  it('reads shift times in the rotation’s zone (Asia/Shanghai by default)', () => {
    expect(manual.timeZone).toBe('Asia/Shanghai');
    expect(onShiftAt(manual, [], Date.parse('2026-11-02T01:00:00Z'))[0]?.personId).toBe('p1');
    expect(onShiftAt(manual, [], Date.parse('2026-11-02T00:59:59Z'))).toEqual([]);
    expect(localDate(Date.parse('2026-11-02T16:30:00Z'), 'Asia/Shanghai')).toBe('2026-11-03');
  });

  it('follows daylight saving in a zone that has it', () => {
    const berlin = rotation({ ...manual, timeZone: 'Europe/Berlin', anchorDate: '2026-03-23' });
    // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer (switch on 2026-03-29).
    expect(onShiftAt(berlin, [], Date.parse('2026-03-28T08:00:00Z'))[0]?.shiftName).toBe('a');
    expect(onShiftAt(berlin, [], Date.parse('2026-03-30T07:00:00Z'))[0]?.shiftName).toBe('a');
    expect(onShiftAt(berlin, [], Date.parse('2026-03-30T06:59:00Z'))).toEqual([]);
  });

  it('refuses unknown zones and too few members', () => {
    expect(() => rotation({ ...manual, timeZone: 'Mars/Olympus' })).toThrow(/time zone/);
    expect(() => rotation({ ...manual, members: ['p1', 'p2'] })).toThrow(/at least as many members/);
  });
});

describe('coverage gaps (the seeded rota leaves 22:00–09:00 uncovered and nothing warned)', () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  it('finds every night nobody is on duty, and none where an override covers it', () => {
    const gaps = coverageGaps(manual, [], at('2026-11-02 00:00'), at('2026-11-04 00:00'));
    expect(gaps.map((g) => [iso(g.fromMs), iso(g.toMs)])).toEqual([
      [iso(at('2026-11-02 00:00')), iso(at('2026-11-02 09:00'))],
      [iso(at('2026-11-02 22:00')), iso(at('2026-11-03 09:00'))],
      [iso(at('2026-11-03 22:00')), iso(at('2026-11-04 00:00'))],
    ]);
    const night: Override = { id: 'o1', teamId: 'north', personId: 'p9', fromMs: at('2026-11-02 22:00'), toMs: at('2026-11-03 09:00'), reason: 'night cover' };
    expect(coverageGaps(manual, [night], at('2026-11-02 12:00'), at('2026-11-03 12:00'))).toEqual([]);
  });

  it('a round-the-clock rota has no gap; a team with no rotation is one gap', () => {
    const allDay = rotation({ teamId: 'x', members: ['p1', 'p2'], shifts: [{ name: 'day', kind: 'on_site', start: '09:00', end: '21:00' }, { name: 'night', kind: 'home', start: '21:00', end: '09:00' }], periodDays: 1, anchorDate: '2026-11-02' });
    expect(coverageGaps(allDay, [], at('2026-11-02 00:00'), at('2026-11-09 00:00'))).toEqual([]);
    expect(coverageGaps(undefined, [], 0, 86_400_000)).toEqual([{ fromMs: 0, toMs: 86_400_000 }]);
  });
});
