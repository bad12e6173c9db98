import { describe, expect, it } from 'vitest';
import { BatchSequence } from './batch-sequence.ts';

describe('BatchSequence', () => {
  it('drops a repeated (gatewayId, seq) and counts gaps', () => {
    const s = new BatchSequence();
    expect(s.observe('GW-1', 1, 1000)).toEqual({ verdict: 'new', missing: 0, restarted: false });
    expect(s.observe('GW-1', 1, 1000).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 2, 2000).verdict).toBe('new');
    expect(s.observe('GW-1', 5, 5000)).toEqual({ verdict: 'new', missing: 2, restarted: false });
    expect(s.observe('GW-2', 1, 1000).verdict).toBe('new');
  });

  it('accepts a late batch that fills a gap once, and recognises its redelivery', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 10, 10000);
    s.observe('GW-1', 12, 12000);
    expect(s.observe('GW-1', 11, 11000).verdict).toBe('new');
    expect(s.observe('GW-1', 11, 11000).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 10, 10000).verdict).toBe('duplicate');
  });

  it('treats a low seq sent after the newest batch as a restarted counter, not a repeat', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 40, 40_000);
    expect(s.observe('GW-1', 1, 50_000)).toEqual({ verdict: 'new', missing: 0, restarted: true });
    expect(s.observe('GW-1', 2, 51_000).verdict).toBe('new');
    expect(s.observe('GW-1', 1, 50_000).verdict).toBe('duplicate');
  });

  it('treats a seq far below the window as a gateway restart', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 5000, 5000000);
    expect(s.observe('GW-1', 0, 0)).toEqual({ verdict: 'new', missing: 0, restarted: true });
    expect(s.observe('GW-1', 1, 1000).verdict).toBe('new');
  });

  it('drops a replay of a batch from further back than the window', () => {
    const s = new BatchSequence();
    for (let seq = 100; seq <= 300; seq++) s.observe('GW-1', seq, seq * 1000);
    expect(s.observe('GW-1', 150, 150 * 1000)).toEqual({ verdict: 'duplicate', missing: 0, restarted: false });
    expect(s.observe('GW-1', 301, 301 * 1000)).toEqual({ verdict: 'new', missing: 0, restarted: false });
  });
});

describe('BatchSequence plausibility (issue 12 #13, issue 13 #2)', () => {
  it('same seq re-sent with a later sentAt is a repeat, not a counter restart (its readings were judged again)', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 7, 7_000);
    s.observe('GW-1', 8, 8_000);
    expect(s.observe('GW-1', 8, 9_000)).toEqual({ verdict: 'duplicate', missing: 0, restarted: false });
    expect(s.observe('GW-1', 7, 9_500)).toEqual({ verdict: 'duplicate', missing: 0, restarted: false });
    // A counter that really begins again still does.
    expect(s.observe('GW-1', 1, 10_000)).toEqual({ verdict: 'new', missing: 0, restarted: true });
  });

  it('one batch with seq 2^53−1 and sentAt 9999 does not poison its gateway: the next real batches are taken', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 100, 100_000);
    expect(s.observe('GW-1', Number.MAX_SAFE_INTEGER, Date.parse('9999-12-31T00:00:00Z'))).toEqual({ verdict: 'new', missing: 0, restarted: false, outlier: true });
    expect(s.observe('GW-1', Number.MAX_SAFE_INTEGER, Date.parse('9999-12-31T00:00:00Z')).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 101, 101_000)).toEqual({ verdict: 'new', missing: 0, restarted: false });
    expect(s.observe('GW-1', 102, 102_000)).toEqual({ verdict: 'new', missing: 0, restarted: false });
    expect(s.observe('GW-1', 101, 101_000).verdict).toBe('duplicate');
  });

  it('follows a counter that really jumped once two batches in a row show it', () => {
    const s = new BatchSequence({ maxJump: 1_000 });
    s.observe('GW-1', 5, 5_000);
    expect(s.observe('GW-1', 50_000, 6_000).outlier).toBe(true);
    expect(s.observe('GW-1', 50_001, 7_000)).toEqual({ verdict: 'new', missing: 0, restarted: true });
    expect(s.observe('GW-1', 50_000, 6_000).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 50_002, 8_000)).toEqual({ verdict: 'new', missing: 0, restarted: false });
  });
});
