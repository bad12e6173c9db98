import mqemitter, { type MQEmitter } from 'mqemitter';

/** Nested deliveries allowed before the queue resumes on a fresh stack. */
const MAX_NESTED_DELIVERIES = 200;

interface EmitterInternals {
  _do(message: unknown, callback: unknown): unknown;
  current: number;
}

/**
 * aedes' message queue (mqemitter) with its release made iterative. mqemitter queues messages
 * beyond `concurrency` and, as each delivery ends, starts the next from inside the previous one's
 * callback. When ingest falls behind and ten thousand gateways then disconnect (their $SYS notices
 * and last wills queue up, most with no subscriber, so each finishes at once), that chain nests ten
 * thousand deep and the process dies of a stack overflow (mcollina/mqemitter#204). Here, past
 * `MAX_NESTED_DELIVERIES` the message is delivered on the next turn of the event loop, on a fresh
 * stack, and keeps its slot meanwhile so that newer messages still queue behind it: the same order.
 */
export function createBrokerQueue(concurrency: number): MQEmitter {
  const mq = mqemitter({ concurrency });
  const internals = mq as unknown as EmitterInternals;
  const deliver = internals._do.bind(mq);
  let nested = 0;
  internals._do = (message, callback) => {
    if (nested >= MAX_NESTED_DELIVERIES) {
      // The slot this message was given stays taken until it is delivered (which takes it again).
      internals.current++;
      setImmediate(() => {
        internals.current--;
        deliver(message, callback);
      });
      return mq;
    }
    nested++;
    try {
      return deliver(message, callback);
    } finally {
      nested--;
    }
  };
  return mq;
}
