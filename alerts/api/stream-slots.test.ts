import { describe, expect, it } from 'vitest';
import { StreamSlots, streamHolder } from './stream-slots.ts';

describe('StreamSlots', () => {
  it('issue 13 #8: bounds streams per token holder and per address, and a release frees the slot once', () => {
    const slots = new StreamSlots({ maxPerToken: 2, maxPerAddress: 3 });
    const a1 = slots.acquire('person:tech-1', '10.0.0.1');
    slots.acquire('person:tech-1', '10.0.0.2');
    expect(() => slots.acquire('person:tech-1', '10.0.0.3')).toThrow(expect.objectContaining({ statusCode: 429, code: 'GAS_HTTP_TOO_MANY_STREAMS' }));
    // Other holders from the first address, up to its bound.
    slots.acquire('person:tech-2', '10.0.0.1');
    slots.acquire('person:tech-3', '10.0.0.1');
    expect(() => slots.acquire('person:tech-4', '10.0.0.1')).toThrow(/address already holds 3 live streams/);
    a1();
    a1(); // twice: frees one slot, not two
    slots.acquire('person:tech-1', '10.0.0.1');
    expect(() => slots.acquire('person:tech-1', '10.0.0.9')).toThrow(/token already holds 2/);
    expect(() => slots.acquire('person:tech-5', '10.0.0.1')).toThrow(/address/);
  });

  it('defaults to 10 per token holder and 20 per address', () => {
    const slots = new StreamSlots();
    for (let i = 0; i < 10; i++) slots.acquire('admin:admin', `10.0.0.${i}`);
    expect(() => slots.acquire('admin:admin', '10.0.1.1')).toThrow(/10 live streams/);
    for (let i = 0; i < 20; i++) slots.acquire(`person:p${i}`, '10.0.2.1');
    expect(() => slots.acquire('person:p99', '10.0.2.1')).toThrow(/20 live streams/);
  });

  it('counts a person across their tokens, a token without a person by its name and role', () => {
    expect(streamHolder({ name: '王师傅', role: 'technician', personId: 'tech-wang' })).toBe('person:tech-wang');
    expect(streamHolder({ name: 'control-room', role: 'operator' })).toBe('operator:control-room');
  });
});
