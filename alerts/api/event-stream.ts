import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Starts one stream's heartbeat; returns its stop. Injected so tests beat by hand. */
export type HeartbeatTimer = (beat: () => void) => () => void;

const HEARTBEAT_MS = 15_000;

/** A comment line every 15 s keeps proxies and phones from dropping an idle stream. */
export const everyFifteenSeconds: HeartbeatTimer = (beat) => {
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Takes the response over from fastify and opens a Server-Sent Events stream on it: no caching,
 * no proxy buffering, the request id echoed. The caller writes frames and watches `close`.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  });
  res.write(': connected\n\n');
  return res;
}
