import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer per broker connection on every pass of its
 * request queue, and with nothing pending and no throttle the delay is negative, so it fires again
 * after 1 ms, for ever: tulios/kafkajs#1556 and #1704, fixes proposed in #1667 and #1768, none
 * merged. Each of the pipeline's consumers, producers and admin clients holds such a connection:
 * measured on the Kafka path at 1 % of its peak, the three roles burned about half a core doing
 * nothing, and at 50 % the two cores were full. The queue only needs the timer for requests it
 * holds back (throttled by the broker, or over the in-flight limit); a request that can go out
 * goes out at once, and a held one is sent when an in-flight response arrives or the timer fires.
 */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own interval for a held request when the broker did not say how long to wait, ms. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

const require = createRequire(import.meta.url);

export const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueInternals } & (new (options: Record<string, unknown>) => RequestQueueInternals);

RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledForMs = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, throttledForMs > 0 ? throttledForMs : CHECK_PENDING_REQUESTS_INTERVAL_MS);
};
