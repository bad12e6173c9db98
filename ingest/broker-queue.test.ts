import mqemitter from 'mqemitter';
import { describe, expect, it } from 'vitest';
import { createBrokerQueue } from './broker-queue.ts';

/** One slow delivery holds the only slot while `queued` messages without subscribers wait behind it. */
function jam(mq: ReturnType<typeof mqemitter>, queued: number): { release: () => void; done: number[] } {
  let release: () => void = () => {};
  mq.on('ingest', (_message, cb) => {
    release = cb;
  });
  const done: number[] = [];
  mq.emit({ topic: 'ingest' }, () => done.push(-1));
  for (let i = 0; i < queued; i++) mq.emit({ topic: `$SYS/broker/disconnect/GW-${i}` }, () => done.push(i));
  return { release: () => release(), done };
}

describe('createBrokerQueue', () => {
  it('shows the overflow it exists for: plain mqemitter releases a long queue recursively', () => {
    const { release } = jam(mqemitter({ concurrency: 1 }), 20_000);
    expect(release).toThrow(RangeError);
  });

  it('releases the same long queue in order, without overflowing the stack', async () => {
    const mq = createBrokerQueue(1);
    const { release, done } = jam(mq, 20_000);
    release();
    await new Promise<void>((resolve) => {
      const poll = () => (done.length === 20_001 ? resolve() : setImmediate(poll));
      poll();
    });
    expect(done[0]).toBe(-1);
    expect(done.slice(1)).toEqual(Array.from({ length: 20_000 }, (_, i) => i));
  });

  it('keeps messages emitted while the queue resumes behind the ones already waiting', async () => {
    const mq = createBrokerQueue(1);
    const { release, done } = jam(mq, 1_000);
    release();
    mq.emit({ topic: 'late' }, () => done.push(1_000_000));
    await new Promise<void>((resolve) => {
      const poll = () => (done.length === 1_002 ? resolve() : setImmediate(poll));
      poll();
    });
    expect(done.at(-1)).toBe(1_000_000);
    expect(done.slice(1, -1)).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });
});
