import { describe, expect, it } from 'vitest';
import { alarmRows, filtersFromHash, hashWithFilters, matchesFilters } from './alarm-filters.ts';
import { needsSound } from './alarm-sound.ts';
import type { Alert } from './api.ts';

const alert = (id: string, condition: string, fields: Partial<Alert> = {}): Alert => ({
  id, deviceId: `D-${id}`, gatewayId: 'GW-1', subject: 'device', condition, severity: condition.startsWith('GAS') ? 'critical' : 'medium', state: 'active',
  raisedAt: `2026-12-06T0${id.length % 10}:00:00.000Z`, clearedAt: null, cause: 'c / c', remedy: 'r / r', toolCard: { 'zh-CN': '', en: '' }, parts: [], ...fields,
});

describe('alarm list filters and folds (issue 17 #3)', () => {
  it('keeps filters in the URL, Chinese included, and reads them back', () => {
    const hash = hashWithFilters({ district: '城东区', severity: 'critical', q: '人民路 1 号' });
    expect(hash.startsWith('#/alarms?')).toBe(true);
    expect(filtersFromHash(hash)).toEqual({ district: '城东区', severity: 'critical', q: '人民路 1 号' });
    expect(hashWithFilters({})).toBe('#/alarms');
    expect(filtersFromHash('#/alarms')).toEqual({});
  });

  it('matches by district, severity, condition, gateway, and searches device, address, customer and gateway', () => {
    const a = alert('1', 'POWER_LOST', { district: '城东区', address: '人民路 1 号 201', customer: '王芳' });
    expect(matchesFilters(a, { district: '城东区', condition: 'POWER_LOST', gateway: 'GW-1', severity: 'medium' })).toBe(true);
    expect(matchesFilters(a, { district: '城西区' })).toBe(false);
    for (const q of ['d-1', '人民路', '王芳', 'gw-1']) expect(matchesFilters(a, { q }), q).toBe(true);
    expect(matchesFilters(a, { q: '李强' })).toBe(false);
  });

  it('folds ten or more of one condition behind one gateway into one row with the count, never a leak', () => {
    const power = Array.from({ length: 12 }, (_, i) => alert(`p${i}`, 'POWER_LOST'));
    const leaks = Array.from({ length: 12 }, (_, i) => alert(`l${i}`, 'GAS_ALARM_L2'));
    const few = Array.from({ length: 9 }, (_, i) => alert(`s${i}`, 'SENSOR_FAULT'));
    const rows = alarmRows([...power, ...leaks, ...few]);
    expect(rows.filter((r) => r.type === 'group').map((r) => (r.type === 'group' ? [r.condition, r.alerts.length] : []))).toEqual([['POWER_LOST', 12]]);
    expect(rows.filter((r) => r.type === 'alert' && r.alert.condition === 'GAS_ALARM_L2')).toHaveLength(12);
    expect(rows.filter((r) => r.type === 'alert' && r.alert.condition === 'SENSOR_FAULT')).toHaveLength(9);
    // Leaks first: critical before medium.
    expect(rows[0]).toMatchObject({ type: 'alert', alert: { condition: 'GAS_ALARM_L2' } });
  });

  it('sounds while a safety alarm is unacknowledged, not for other faults or once seen', () => {
    expect(needsSound([alert('1', 'POWER_LOST')])).toBe(false);
    expect(needsSound([alert('1', 'POWER_LOST'), alert('2', 'GAS_ALARM_L1')])).toBe(true);
    expect(needsSound([alert('2', 'GAS_ALARM_L1', { seen: { by: 'desk 1', at: '2026-12-06T00:00:00Z' } })])).toBe(false);
    expect(needsSound([alert('3', 'VALVE_NOT_CUT', { state: 'cleared' })])).toBe(false);
  });
});
