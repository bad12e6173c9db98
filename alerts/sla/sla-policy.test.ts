import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../app/errors.ts';
import { parseTicketSettings } from '../tickets/options.ts';
import { limitMs, parseSlaSettings } from './sla-policy.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('SLA settings', () => {
  it('defaults from the manuals', () => {
    const s = parseSlaSettings();
    expect(s.dispatchWithinMs).toEqual({ emergency: 5 * MIN, urgent: 5 * MIN, normal: 5 * MIN, low: 5 * MIN });
    expect(s.acknowledgeWithinMs).toEqual({ emergency: 5 * MIN, urgent: 15 * MIN, normal: 2 * HOUR, low: 24 * HOUR });
    expect(s.onSiteWithinMs).toEqual({ emergency: 30 * MIN, urgent: 2 * HOUR, normal: 24 * HOUR, low: 72 * HOUR });
    expect(s.resolveWithinMs).toEqual({ emergency: 4 * HOUR, urgent: 24 * HOUR, normal: 48 * HOUR, low: 168 * HOUR });
    expect(s.followUpWithinMs.normal).toBe(72 * HOUR);
    expect(s.escalation).toEqual({
      repeatNotifyMs: { emergency: 5 * MIN, urgent: 5 * MIN, normal: 30 * MIN, low: 2 * HOUR },
      repeats: 1,
      topLevel: { emergency: 'director', urgent: 'director', normal: 'director', low: 'director' },
      topRepeats: 6,
    });
    expect(limitMs(s, 'on_site', 'urgent')).toBe(2 * HOUR);
  });

  it('per-condition resolve limit: a MAINTENANCE_DUE ticket has 14 days by default, one that also gathered a fault keeps its priority limit', () => {
    const s = parseSlaSettings();
    expect(s.conditionResolveWithinMs).toEqual({ MAINTENANCE_DUE: 14 * 24 * HOUR });
    expect(limitMs(s, 'resolve', 'low', ['MAINTENANCE_DUE'])).toBe(14 * 24 * HOUR);
    expect(limitMs(s, 'resolve', 'low')).toBe(168 * HOUR);
    expect(limitMs(s, 'resolve', 'normal', ['MAINTENANCE_DUE', 'COUNT_MISMATCH'])).toBe(48 * HOUR);
    // Only the resolve clock: dispatch and acknowledge follow the priority.
    expect(limitMs(s, 'acknowledge', 'low', ['MAINTENANCE_DUE'])).toBe(24 * HOUR);
    expect(limitMs(parseSlaSettings({ conditionResolveWithinMs: { MAINTENANCE_DUE: 30 * 24 * HOUR } }), 'resolve', 'low', ['MAINTENANCE_DUE'])).toBe(30 * 24 * HOUR);
    expect(() => parseSlaSettings({ conditionResolveWithinMs: { NOT_A_CONDITION: 1 } })).toThrow(ConfigError);
  });

  it('keeps given limits and fills the rest', () => {
    const s = parseSlaSettings({ acknowledgeWithinMs: { emergency: 60_000 }, escalation: { repeats: 2 } });
    expect(s.acknowledgeWithinMs).toEqual({ emergency: 60_000, urgent: 15 * MIN, normal: 2 * HOUR, low: 24 * HOUR });
    expect(s.escalation).toMatchObject({ repeatNotifyMs: { emergency: 5 * MIN, low: 2 * HOUR }, repeats: 2, topRepeats: 6 });
  });

  it('reads a single escalation gap saved by an earlier version as the gap of every priority', () => {
    const s = parseSlaSettings({ escalation: { repeatNotifyMs: 2 * MIN, repeats: 2 } });
    expect(s.escalation.repeatNotifyMs).toEqual({ emergency: 2 * MIN, urgent: 2 * MIN, normal: 2 * MIN, low: 2 * MIN });
    expect(() => parseSlaSettings({ escalation: { topLevel: { low: 'ceo' } } })).toThrow(/topLevel/);
  });

  it('refuses bad settings at start', () => {
    expect(() => parseSlaSettings({ dispatchWithinMs: { normal: -1 } })).toThrow(ConfigError);
    expect(() => parseSlaSettings({ resolveWithinMs: { normal: 'soon' } })).toThrow(/resolveWithinMs/);
    expect(() => parseSlaSettings({ nope: 1 })).toThrow(ConfigError);
  });

  it('ticket settings: repeat window 7 days, Asia/Shanghai', () => {
    expect(parseTicketSettings()).toEqual({ stormGroupWaitMs: 3_000, stormFoldThreshold: 10, repeatWindowMs: 7 * 24 * HOUR, autoDispatch: true, timeZone: 'Asia/Shanghai' });
    expect(() => parseTicketSettings({ repeatWindowMs: 'x' })).toThrow(ConfigError);
  });
});
