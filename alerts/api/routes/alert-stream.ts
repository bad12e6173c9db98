import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { AlertChange } from '../../alert-book.ts';
import { ANY_ROLE, principalOf, requireRole } from '../roles.ts';
import { GuardedErrors } from '../schemas.ts';
import { alertItem } from './alerts.ts';
import { everyFifteenSeconds, openEventStream, type HeartbeatTimer } from '../event-stream.ts';

/** A client that stops reading is cut off past this much unsent text; it reconnects and refetches. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

const AlertStreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 200, description: 'for EventSource, which cannot send Authorization' })),
}, { additionalProperties: false });

const AlertStreamResponse = Type.String({ description: 'text/event-stream: `event: alert.raised|alert.cleared`, `data: <alert as in GET /alerts>`; `: heartbeat` comments' });

const Me = Type.Object({
  name: Type.String(),
  role: Type.Union(ANY_ROLE.map((r) => Type.Literal(r))),
  personId: Type.Union([Type.String(), Type.Null()]),
});

function frameOf(id: string, change: AlertChange): string {
  return `id: ${id}\nevent: alert.${change.type}\ndata: ${JSON.stringify(alertItem(change.alert))}\n\n`;
}

/**
 * What the web console needs beyond the ticket API: who the token is (`/me`, so the console picks
 * the operator or the technician view) and every alert raise and clear as it happens
 * (`/stream/alerts`). The person streams (`/stream`) carry ticket notices to their recipients
 * only, and an operator's token names no person, so the control room needs this one.
 *
 * No replay: a (re)connecting console opens the stream first and then reads `GET /alerts`, so
 * nothing falls between the two.
 */
export const alertStreamRoutes: FastifyPluginAsync<{ heartbeat?: HeartbeatTimer | undefined }> = async (app, opts) => {
  const heartbeat = opts.heartbeat ?? everyFifteenSeconds;
  const clients = new Set<ServerResponse>();
  const epoch = Date.now();
  let seq = 0;
  let closed = false;

  // AlertBook has no way to remove a listener: after close this one only returns.
  app.services.alerts.onChange((changes) => {
    if (closed || clients.size === 0) return;
    for (const change of changes) {
      const frame = frameOf(`${epoch}-${++seq}`, change);
      for (const res of clients) {
        if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
        else res.write(frame);
      }
    }
  });
  // Hijacked replies are not closed by fastify: end them so close() does not wait on them.
  app.addHook('onClose', async () => {
    closed = true;
    for (const res of clients) res.end();
    clients.clear();
  });

  app.get('/me', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { response: { 200: Me, ...GuardedErrors } },
  }, async (request) => {
    const p = principalOf(request);
    return { name: p.name, role: p.role, personId: p.personId ?? null };
  });

  app.get<{ Querystring: Static<typeof AlertStreamQuery> }>('/stream/alerts', {
    preHandler: requireRole(...ANY_ROLE),
    config: { queryToken: true },
    schema: { querystring: AlertStreamQuery, response: { 200: AlertStreamResponse, ...GuardedErrors } },
  }, async (request, reply) => {
    const res = openEventStream(request, reply);
    clients.add(res);
    const stopBeat = heartbeat(() => res.write(': heartbeat\n\n'));
    // The response's close is the connection's end; the request's may come as soon as its body is read.
    const finish = () => {
      stopBeat();
      clients.delete(res);
    };
    res.on('close', finish);
    res.on('error', finish);
    return reply;
  });
};
