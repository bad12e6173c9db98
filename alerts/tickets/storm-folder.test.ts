import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import type { AlertBook, AlertChange } from '../alert-book.ts';
import { ManualScheduler } from '../push/scheduler.ts';
import { type FolderOutput, StormFolder } from './storm-folder.ts';
import { T0, clear, newBook, raise } from './test-support.ts';

function setup(threshold = 10, districtOf?: (deviceId: string) => string | undefined) {
  const clock = new ManualClock(T0);
  const scheduler = new ManualScheduler(clock);
  const out: FolderOutput[] = [];
  const folder = new StormFolder({ groupWaitMs: 3_000, threshold, ...(districtOf ? { districtOf } : {}) }, scheduler, (o) => out.push(o));
  return { clock, scheduler, out, folder, book: newBook() };
}

const many = (book: AlertBook, n: number, condition: 'POWER_LOST' | 'LOW_BATTERY', atMs: number): AlertChange[] =>
  Array.from({ length: n }, (_, i) => raise(book, `HA-${i}`, condition, atMs, { kind: 'home_gas_alarm', severity: 'medium' })).flat();

describe('StormFolder', () => {
  it('folds one condition behind one gateway into one incident once the group wait is over', async () => {
    const { scheduler, out, folder, book } = setup();
    folder.offer(many(book, 400, 'POWER_LOST', T0));
    await scheduler.advance(10);
    folder.offer(many(book, 400, 'LOW_BATTERY', T0 + 10));
    expect(out).toEqual([]);
    expect(folder.holding).toBe(800);
    await scheduler.advance(2_989);
    expect(out).toEqual([]);
    await scheduler.advance(1);
    expect(out.map((o) => (o.type === 'incident' ? [o.condition, o.scope.id, o.alerts.length] : o.type))).toEqual([['POWER_LOST', 'GW-1', 400]]);
    await scheduler.advance(10);
    expect(out.map((o) => (o.type === 'incident' ? [o.condition, o.alerts.length] : o.type))).toEqual([
      ['POWER_LOST', 400],
      ['LOW_BATTERY', 400],
    ]);
    expect(folder.holding).toBe(0);
  });

  it('lets leaks, gateway alerts and customer notices pass at once, never into a group', () => {
    const { out, folder, book } = setup();
    folder.offer([
      ...raise(book, 'HA-1', 'GAS_ALARM_L1', T0, { kind: 'home_gas_alarm', severity: 'high' }),
      ...raise(book, 'HA-2', 'VALVE_NOT_CUT', T0, { kind: 'home_gas_alarm', severity: 'critical' }),
      ...raise(book, 'HA-3', 'SENSOR_FAULT', T0, { kind: 'home_gas_alarm', severity: 'critical' }),
      ...raise(book, 'GW-1', 'GATEWAY_OFFLINE', T0, { gateway: true }),
      ...raise(book, 'HM-1', 'LOW_BALANCE', T0, { severity: 'info' }),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]!.type === 'changes' && out[0].changes.map((c) => c.alert.condition)).toEqual(['GAS_ALARM_L1', 'VALVE_NOT_CUT', 'SENSOR_FAULT', 'GATEWAY_OFFLINE', 'LOW_BALANCE']);
    expect(folder.holding).toBe(0);
  });

  it('below the threshold each alert goes on as itself; a clear of a waiting alert follows its raise', async () => {
    const { scheduler, out, folder, book } = setup();
    folder.offer(many(book, 3, 'POWER_LOST', T0));
    folder.offer(clear(book, 'HA-1', 'POWER_LOST', T0 + 1_000));
    expect(out).toEqual([]);
    await scheduler.advance(3_000);
    expect(out).toHaveLength(1);
    const o = out[0]!;
    expect(o.type === 'changes' && o.changes.map((c) => `${c.type} ${c.alert.subjectId}`)).toEqual(['raised HA-0', 'raised HA-1', 'raised HA-2', 'cleared HA-1']);
  });

  it('a clear of a folded alert is handed on after the incident; flush closes every group now', () => {
    const { out, folder, book } = setup(2);
    folder.offer(many(book, 2, 'POWER_LOST', T0));
    folder.offer(clear(book, 'HA-0', 'POWER_LOST', T0 + 1));
    folder.flush();
    expect(out).toHaveLength(1);
    const o = out[0]!;
    expect(o.type).toBe('incident');
    expect(o.type === 'incident' && o.after.map((c) => `${c.type} ${c.alert.subjectId}`)).toEqual(['cleared HA-0']);
  });

  it('folds a district power cut into one district incident however few devices each gateway has; devices without a district group by gateway', async () => {
    // 30 alarms in 城东区 behind 15 gateways, two each; 20 more behind two gateways, no district.
    const { scheduler, out, folder, book } = setup(10, (id) => (id.startsWith('HA-E') ? '城东区' : undefined));
    const storm = (prefix: string, n: number, gateways: number) =>
      book.apply(Array.from({ length: n }, (_, i) => ({ type: 'raise' as const, subject: 'device' as const, subjectId: `${prefix}${i}`, gatewayId: `GW-${prefix}${i % gateways}`, kind: 'home_gas_alarm' as const, condition: 'POWER_LOST' as const, severity: 'medium' as const, atMs: T0 })));
    folder.offer(storm('HA-E', 30, 15));
    folder.offer(storm('HA-X', 20, 2));
    await scheduler.advance(3_000);
    const incidents = out.flatMap((o) => (o.type === 'incident' ? [[o.scope.subject, o.scope.id, o.alerts.length]] : []));
    expect(incidents).toEqual([
      ['district', '城东区', 30],
      ['gateway', 'GW-HA-X0', 10],
      ['gateway', 'GW-HA-X1', 10],
    ]);
    expect(out.filter((o) => o.type === 'changes')).toEqual([]);
  });
});
