import { describe, expect, it } from 'vitest';
import { OrderedAcks } from './ordered-acks.ts';

/** Plays mqtt.js: a message's go-ahead asks to send its PUBACK, then the client reads the next packet. */
function client(maxInFlight: number) {
  const acks = new OrderedAcks(maxInFlight);
  const sent: number[] = [];
  const started: number[] = [];
  const messages = new Map<number, ReturnType<OrderedAcks['begin']>>();
  let next = 1;
  let parked: number[] = [];
  const deliver = (count: number) => {
    parked = [];
    for (let i = 0; i < count; i++) parked.push(next++);
    take();
  };
  const take = () => {
    const id = parked.shift();
    if (id === undefined) return;
    started.push(id);
    messages.set(id, acks.begin(id, () => {
      if (!acks.holdAck(id, () => sent.push(id))) sent.push(id);
      take();
    }));
  };
  return { acks, sent, started, deliver, settle: (id: number) => acks.settle(messages.get(id)!), fail: (id: number) => acks.fail(messages.get(id)!), message: (id: number) => messages.get(id)! };
}

describe('OrderedAcks', () => {
  it('with one in flight, takes the next message only after the previous is acknowledged', () => {
    const c = client(1);
    c.deliver(3);
    expect(c.started).toEqual([1]);
    c.settle(1);
    expect(c.sent).toEqual([1]);
    expect(c.started).toEqual([1, 2]);
    c.settle(2);
    c.settle(3);
    expect(c.sent).toEqual([1, 2, 3]);
  });

  it('works on up to maxInFlight at once and acknowledges in arrival order whatever order they finish in', () => {
    const c = client(3);
    c.deliver(6);
    expect(c.started).toEqual([1, 2, 3]);
    c.settle(3);
    c.settle(2);
    expect(c.sent).toEqual([]);
    c.settle(1);
    expect(c.sent).toEqual([1, 2, 3]);
    expect(c.started).toEqual([1, 2, 3, 4, 5, 6]);
    c.settle(6);
    c.settle(4);
    expect(c.sent).toEqual([1, 2, 3, 4]);
    c.settle(5);
    expect(c.sent).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c.acks.inFlight).toBe(0);
  });

  it('after a failure acknowledges nothing more until the connection is reset; late results of the old connection change nothing', () => {
    const c = client(4);
    c.deliver(4);
    c.settle(1);
    c.fail(2);
    c.settle(3);
    c.settle(2);
    expect(c.sent).toEqual([1]);
    const stale = c.message(4);
    c.acks.reset();
    c.acks.settle(stale);
    expect(c.acks.inFlight).toBe(0);
    c.deliver(1);
    c.settle(5);
    expect(c.sent).toEqual([1, 5]);
  });

  it('passes through PUBACKs of messages it does not hold, and refuses a limit below one', () => {
    const acks = new OrderedAcks(2);
    expect(acks.holdAck(42, () => {})).toBe(false);
    expect(() => new OrderedAcks(0)).toThrow(RangeError);
  });
});
