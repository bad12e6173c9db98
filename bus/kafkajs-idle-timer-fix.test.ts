import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestQueue } from './kafkajs-idle-timer-fix.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** kafkajs's request queue of one broker connection, with at most one request in flight. */
function queue() {
  return new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger: silent });
}

interface Queue {
  push(request: unknown): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

/** Pushes a request; `sent` lists the correlation ids written to the socket, in order. */
function push(q: Queue, correlationId: number, sent: number[]): void {
  q.push({
    entry: { correlationId, apiName: 'Fetch', apiKey: 1, apiVersion: 11, resolve() {}, reject() {} },
    expectResponse: true,
    sendRequest: () => sent.push(correlationId),
  });
}

const respond = (q: Queue, correlationId: number) => q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

describe('kafkajs request queue without its idle timer loop (tulios/kafkajs#1556)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('arms no timer while nothing is held back', () => {
    const q = queue() as unknown as Queue;
    const sent: number[] = [];
    push(q, 1, sent);
    respond(q, 1);
    // kafkajs 2.2.4 left a 1 ms timer here that re-armed itself for ever.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(vi.getTimerCount()).toBe(0);
    expect(sent).toEqual([1]);
    q.destroy();
  });

  it('sends a request held over the in-flight limit as soon as the one in flight is answered', () => {
    const q = queue() as unknown as Queue;
    const sent: number[] = [];
    push(q, 1, sent);
    push(q, 2, sent);
    expect(sent).toEqual([1]);
    respond(q, 1);
    expect(sent).toEqual([1, 2]);
    respond(q, 2);
    vi.advanceTimersByTime(100);
    expect(vi.getTimerCount()).toBe(0);
    q.destroy();
  });

  it('sends a request held by the broker’s throttle when the throttle ends, not before', () => {
    const q = queue() as unknown as Queue;
    const sent: number[] = [];
    q.maybeThrottle(50);
    push(q, 1, sent);
    vi.advanceTimersByTime(45);
    expect(sent).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(sent).toEqual([1]);
    respond(q, 1);
    expect(vi.getTimerCount()).toBe(0);
    q.destroy();
  });
});
