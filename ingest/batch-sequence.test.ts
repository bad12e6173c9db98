import { describe, expect, it } from 'vitest';
import { BatchSequence } from './batch-sequence.ts';

describe('BatchSequence', () => {
  it('drops a repeated (gatewayId, seq) and counts gaps', () => {
    const s = new BatchSequence();
    expect(s.observe('GW-1', 1)).toEqual({ verdict: 'new', missing: 0, restarted: false });
    expect(s.observe('GW-1', 1).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 2).verdict).toBe('new');
    expect(s.observe('GW-1', 5)).toEqual({ verdict: 'new', missing: 2, restarted: false });
    expect(s.observe('GW-2', 1).verdict).toBe('new');
  });

  it('accepts a late batch that fills a gap once, and recognises its redelivery', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 10);
    s.observe('GW-1', 12);
    expect(s.observe('GW-1', 11).verdict).toBe('new');
    expect(s.observe('GW-1', 11).verdict).toBe('duplicate');
    expect(s.observe('GW-1', 10).verdict).toBe('duplicate');
  });

  it('treats a seq far below the window as a gateway restart', () => {
    const s = new BatchSequence();
    s.observe('GW-1', 5000);
    expect(s.observe('GW-1', 0)).toEqual({ verdict: 'new', missing: 0, restarted: true });
    expect(s.observe('GW-1', 1).verdict).toBe('new');
  });
});
