import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { formatSseFrame, type SseSubscription } from '../../push/sse/hub.ts';
import { ForbiddenError } from '../errors.ts';
import { ANY_ROLE, MANAGERS, principalOf, requireRole } from '../roles.ts';
import { everyFifteenSeconds, openEventStream, type HeartbeatTimer } from '../event-stream.ts';
import { GuardedErrors, IdParams } from '../schemas.ts';

export type { HeartbeatTimer };

const StreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 200, description: 'for EventSource, which cannot send Authorization' })),
  lastEventId: Type.Optional(Type.String({ maxLength: 100, description: 'as the Last-Event-ID header, for clients that cannot set it' })),
}, { additionalProperties: false });

const StreamResponse = Type.String({ description: 'text/event-stream: `id`/`event`/`data` frames, one per notice; `: heartbeat` comments' });

/**
 * Live notices for one person over Server-Sent Events: missed events first (Last-Event-ID), then
 * every new one, with a comment line as heartbeat so proxies keep the connection open.
 */
export const streamRoutes: FastifyPluginAsync<{ heartbeat?: HeartbeatTimer | undefined }> = async (app, opts) => {
  const hub = app.services.sse!;
  const heartbeat = opts.heartbeat ?? everyFifteenSeconds;
  const open = new Set<SseSubscription>();
  // Hijacked replies are not closed by fastify: end them so close() does not wait on them.
  app.addHook('onClose', async () => {
    for (const sub of open) sub.close();
  });

  function serve(request: FastifyRequest<{ Querystring: Static<typeof StreamQuery> }>, reply: FastifyReply, personId: string): void {
    const header = request.headers['last-event-id'];
    const lastEventId = (Array.isArray(header) ? header[0] : header) ?? request.query.lastEventId;
    const res = openEventStream(request, reply);
    const sub = hub.subscribe(personId, lastEventId ? { lastEventId } : {});
    open.add(sub);
    const stopBeat = heartbeat(() => res.write(': heartbeat\n\n'));
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      stopBeat();
      open.delete(sub);
      sub.close();
    };
    request.raw.on('close', finish);
    res.on('error', finish);
    request.log.info({ personId, lastEventId }, 'Live stream opened');
    void (async () => {
      try {
        for await (const event of sub) res.write(formatSseFrame(event));
      } finally {
        finish();
        if (!res.writableEnded) res.end();
        request.log.info({ personId }, 'Live stream closed');
      }
    })();
  }

  app.get<{ Querystring: Static<typeof StreamQuery> }>('/stream', {
    preHandler: requireRole(...ANY_ROLE),
    config: { queryToken: true },
    schema: { querystring: StreamQuery, response: { 200: StreamResponse, ...GuardedErrors } },
  }, async (request, reply) => {
    const p = principalOf(request);
    if (p.personId === undefined) throw new ForbiddenError('This token names no person (personId), so it has no stream; use /people/:id/stream');
    serve(request, reply, p.personId);
    return reply;
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof StreamQuery> }>('/people/:id/stream', {
    preHandler: requireRole(...MANAGERS),
    config: { queryToken: true },
    schema: { params: IdParams, querystring: StreamQuery, response: { 200: StreamResponse, ...GuardedErrors } },
  }, async (request, reply) => {
    serve(request, reply, request.params.id);
    return reply;
  });
};
