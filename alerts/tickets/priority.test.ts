import { describe, expect, it } from 'vitest';
import type { Condition, Severity } from '../../contracts/messages.ts';
import { isPreventive, priorityOf, worstPriority } from './priority.ts';

describe('priorityOf', () => {
  const cases: Array<[Condition, Severity, Record<string, unknown> | undefined, string]> = [
    ['VALVE_NOT_CUT', 'critical', undefined, 'emergency'],
    ['GAS_ALARM_L2', 'critical', undefined, 'emergency'],
    ['GAS_ALARM_L1', 'high', undefined, 'urgent'],
    ['DETECTOR_OFFLINE', 'high', undefined, 'urgent'],
    ['TAMPER', 'high', undefined, 'urgent'],
    ['VALVE_CLOSED_LOW_BATTERY', 'high', undefined, 'urgent'],
    ['DEVICE_FAULT', 'high', { tokens: ['故障', '关阀'], valveClosed: true }, 'urgent'],
    ['DEVICE_FAULT', 'medium', { tokens: ['故障'], valveClosed: false }, 'normal'],
    ['ERR-4', 'high', undefined, 'normal'],
    ['LOW_BATTERY', 'medium', undefined, 'normal'],
    ['MAINTENANCE_DUE', 'low', undefined, 'low'],
    ['LOW_BALANCE', 'info', undefined, 'low'],
    ['SENSOR_FAULT', 'critical', undefined, 'emergency'],
    // Issue 12 item 11: GATEWAY_OFFLINE is 'normal' even with home gas alarms behind it.
    ['GATEWAY_OFFLINE', 'high', { deviceCount: 3, gasAlarms: 1 }, 'urgent'],
    ['GATEWAY_OFFLINE', 'high', { deviceCount: 3, gasAlarms: 0 }, 'normal'],
    ['GATEWAY_OFFLINE', 'high', undefined, 'normal'],
  ];
  it.each(cases)('%s (%s, %j) → %s', (condition, severity, detail, expected) => {
    expect(priorityOf({ condition, severity, detail })).toBe(expected);
  });

  it('takes the worst condition', () => {
    expect(worstPriority([{ condition: 'LOW_BATTERY', severity: 'medium' }, { condition: 'VALVE_NOT_CUT', severity: 'critical' }])).toBe('emergency');
    expect(worstPriority([])).toBe('low');
  });

  it('MAINTENANCE_DUE is preventive work, low, not a fault; a ticket that also holds a fault is not preventive', () => {
    expect(priorityOf({ condition: 'MAINTENANCE_DUE', severity: 'low' })).toBe('low');
    expect(isPreventive(['MAINTENANCE_DUE'])).toBe(true);
    expect(isPreventive(['MAINTENANCE_DUE', 'SENSOR_FAULT'])).toBe(false);
    expect(isPreventive([])).toBe(false);
  });
});
