import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { RejectReason } from '../../../contracts/messages.ts';
import { requireRole, STAFF } from '../roles.ts';
import { ErrorResponse, LimitQuery, parseLimit } from '../schemas.ts';

const Query = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 32 })), limit: Type.Optional(LimitQuery) }, { additionalProperties: false });

const DeadLetterItem = Type.Object({
  reason: Type.String(),
  message: Type.String(),
  topic: Type.String(),
  gatewayId: Type.Optional(Type.String()),
  deviceId: Type.Optional(Type.String()),
  payload: Type.String(),
  receivedAt: Type.String({ format: 'date-time' }),
});

/** The newest rejected messages and readings with their reasons, for whoever must fix the gateway. */
export const deadLetterRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Querystring: Static<typeof Query> }>('/dead-letters', {
    preHandler: requireRole(...STAFF),
    schema: { querystring: Query, response: { 200: Type.Object({ items: Type.Array(DeadLetterItem) }), 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse } },
  }, async (request) => {
    const items = app.services.deadLetters.list(parseLimit(request.query.limit), request.query.reason as RejectReason | undefined);
    return { items: items.map(({ receivedAtMs, ...rest }) => ({ ...rest, receivedAt: new Date(receivedAtMs).toISOString() })) };
  });
};
