import { describe, expect, it } from 'vitest';
import { manualEntryFor } from '../catalog/manual.ts';
import { alarmNotice } from './notice-text.ts';

const leak = (extra: Record<string, unknown> = {}) => ({
  id: 'a1', condition: 'GAS_ALARM_L2' as const, severity: 'critical' as const, subjectId: 'HA-1', deviceId: 'HA-1', gatewayId: 'GW-1',
  raisedAt: '2026-12-06T01:51:00.000Z', clearedAt: null, manual: manualEntryFor('GAS_ALARM_L2', 'home_gas_alarm'), detail: { lelPct: 62 }, ...extra,
});
const notice = (alert: ReturnType<typeof leak>) => alarmNotice('alarm:a1', { alerts: [alert], priority: 'emergency' }, ['tech-1'], { nowMs: Date.parse('2026-12-06T02:00:00Z') });

describe('the alarm push text (issue 15 #1)', () => {
  it('a live leak says act now, with no word of lateness', () => {
    const n = notice(leak());
    expect(n.title['zh-CN']).toBe('【紧急】燃气报警 HA-1 二级燃气报警');
    expect(n.body['zh-CN']).not.toContain('迟报');
  });

  it('a leak found in a late reading says so in the title, when it happened, how late it came and that the site must be checked', () => {
    const n = notice(leak({ late: true, delayMs: 540_000, clearedAt: '2026-12-06T02:00:00.000Z' }));
    expect(n.title['zh-CN']).toContain('（迟报）');
    expect(n.title.en).toContain('(reported late)');
    expect(n.body['zh-CN']).toContain('迟报：设备于 2026-12-06 09:51 (Asia/Shanghai) 报警，9 分钟后才送达，其后读数已恢复正常。请到现场检查。');
    expect(n.body.en).toContain('delivered 9 min later; its later readings are normal. Check the site.');
    expect(n.data).toMatchObject({ late: true, delayMs: 540_000 });
  });

  it('a live leak from a backlog delivered late (newer than anything judged) says how late it came too', () => {
    const n = notice(leak({ delayMs: 1_800_000 }));
    expect(n.body['zh-CN']).toContain('30 分钟后才送达');
    expect(n.data).toMatchObject({ late: false, delayMs: 1_800_000 });
  });
});
