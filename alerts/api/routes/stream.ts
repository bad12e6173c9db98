import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { formatSseFrame, type SseSubscription } from '../../push/sse/hub.ts';
import { ForbiddenError } from '../errors.ts';
import { ANY_ROLE, MANAGERS, principalOf, requireRole } from '../roles.ts';
import { everyFifteenSeconds, lastEventIdOf, openEventStream, resetFrame, type EventStreamLimits, type HeartbeatTimer } from '../event-stream.ts';
import { ErrorResponse, GuardedErrors, IdParams } from '../schemas.ts';
import { StreamSlots, streamHolder } from '../stream-slots.ts';

export type { HeartbeatTimer };

const StreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 200, description: 'for EventSource, which cannot send Authorization' })),
  lastEventId: Type.Optional(Type.String({ maxLength: 100, description: 'as the Last-Event-ID header, for clients that cannot set it' })),
}, { additionalProperties: false });

const StreamResponse = Type.String({
  description:
    'text/event-stream: `id`/`event`/`data` frames, one per notice (ids: the hub sequence, kept across restarts); ' +
    '`event: reset` when some notices after Last-Event-ID are no longer kept (reload the tickets); ' +
    '`event: close` with `{"reason","lastEventId"}` before the server ends the stream; `: heartbeat` comments',
});

export interface StreamOptions {
  heartbeat?: HeartbeatTimer | undefined;
  limits?: Partial<EventStreamLimits> | undefined;
  /** Bounds open streams per token and per address, shared with the other stream routes; defaults when omitted. */
  slots?: StreamSlots | undefined;
}

/**
 * Live notices for one person over Server-Sent Events: missed events first (Last-Event-ID, header
 * or `?lastEventId=`), then every new one, with a comment line as heartbeat so proxies keep the
 * connection open. A frame is written only while the socket takes more; a reader that falls
 * `maxBacklogEvents` behind (see the sse channel) gets `event: close` with reason `slow_client`.
 */
export const streamRoutes: FastifyPluginAsync<StreamOptions> = async (app, opts) => {
  const hub = app.services.sse!;
  const heartbeat = opts.heartbeat ?? everyFifteenSeconds;
  const slots = opts.slots ?? new StreamSlots();
  const open = new Set<SseSubscription>();
  // Hijacked replies are not closed by fastify: end them before the server waits for its connections (preClose).
  app.addHook('preClose', async () => {
    for (const sub of [...open]) sub.close();
  });

  function serve(request: FastifyRequest<{ Querystring: Static<typeof StreamQuery> }>, reply: FastifyReply, personId: string): void {
    const release = slots.acquire(streamHolder(principalOf(request)), request.ip);
    const lastEventId = lastEventIdOf(request);
    const sub = hub.subscribe(personId, lastEventId !== undefined ? { lastEventId } : {});
    const stream = openEventStream(request, reply, opts.limits);
    if (sub.reset) stream.write(resetFrame(sub.reset, sub.lastEventId));
    // A fresh client learns where it stands, so even its first reconnect resumes without a gap.
    else if (lastEventId === undefined) stream.write(`id: ${sub.lastEventId}\n\n`);
    open.add(sub);
    const stopBeat = heartbeat(() => stream.heartbeat());
    // The hub ends a subscription that fell too far behind even while this loop waits for a drain.
    sub.onEnd((reason) => stream.close(reason, sub.lastEventId));
    stream.onEnd(() => {
      stopBeat();
      release();
      open.delete(sub);
      sub.close();
    });
    request.log.info({ personId, lastEventId, reset: sub.reset }, 'Live stream opened');
    void (async () => {
      try {
        for await (const event of sub) {
          stream.write(formatSseFrame(event));
          if (!stream.ready) await stream.whenReady();
          if (stream.ended) break;
        }
      } catch (err) {
        request.log.error({ err, personId }, 'Live stream failed');
      } finally {
        open.delete(sub);
        stopBeat();
        // Ended by the app's close (not the hub, not the client): tell the client why.
        if (!stream.ended) stream.close('shutdown', sub.lastEventId);
        request.log.info({ personId, lastEventId: sub.lastEventId }, 'Live stream closed');
      }
    })();
  }

  app.get<{ Querystring: Static<typeof StreamQuery> }>('/stream', {
    preHandler: requireRole(...ANY_ROLE),
    config: { queryToken: true },
    schema: { querystring: StreamQuery, response: { 200: StreamResponse, ...GuardedErrors, 429: ErrorResponse } },
  }, async (request, reply) => {
    const p = principalOf(request);
    if (p.personId === undefined) throw new ForbiddenError('This token names no person (personId), so it has no stream; use /people/:id/stream');
    serve(request, reply, p.personId);
    return reply;
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof StreamQuery> }>('/people/:id/stream', {
    preHandler: requireRole(...MANAGERS),
    config: { queryToken: true },
    schema: { params: IdParams, querystring: StreamQuery, response: { 200: StreamResponse, ...GuardedErrors, 429: ErrorResponse } },
  }, async (request, reply) => {
    serve(request, reply, request.params.id);
    return reply;
  });
};
