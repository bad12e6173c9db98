import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { BadRequestError } from '../errors.ts';
import { MANAGERS, requireRole } from '../roles.ts';
import { GuardedErrors, LimitQuery, parseLimit } from '../schemas.ts';

const Short = Type.String({ minLength: 1, maxLength: 200 });
const Instant = Type.String({ maxLength: 40, description: 'ISO-8601 instant' });

const AuditQuery = Type.Object({
  actor: Type.Optional(Short),
  action: Type.Optional(Short),
  targetType: Type.Optional(Short),
  targetId: Type.Optional(Short),
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  before: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'only entries older than this id, for paging' })),
  limit: Type.Optional(LimitQuery),
}, { additionalProperties: false });

const AuditView = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.String(),
  role: Type.String(),
  action: Type.String({ description: 'route parts and method, e.g. devices.put, tickets.dispatch.post, settings.sla.put, tokens.delete' }),
  targetType: Type.String(),
  targetId: Type.Union([Type.String(), Type.Null()]),
  method: Type.String(),
  path: Type.String(),
  status: Type.Integer(),
  requestId: Type.Union([Type.String(), Type.Null()]),
  clientIp: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Unknown({ description: 'the request body, secrets masked' }),
});

function instant(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadRequestError(`${name} must be an ISO-8601 instant, got ${text}`);
  return ms;
}

/** GET /audit: the audit log of changes made through the API, newest first; admins and supervisors. */
export const auditRoutes: FastifyPluginAsync = async (app) => {
  const audit = app.services.audit!;
  app.get<{ Querystring: Static<typeof AuditQuery> }>('/audit', {
    preHandler: requireRole(...MANAGERS),
    schema: { querystring: AuditQuery, response: { 200: Type.Object({ items: Type.Array(AuditView) }), ...GuardedErrors } },
  }, async (request) => {
    const q = request.query;
    return {
      items: await audit.list({
        actor: q.actor,
        action: q.action,
        targetType: q.targetType,
        targetId: q.targetId,
        fromMs: instant(q.from, 'from'),
        toMs: instant(q.to, 'to'),
        beforeId: q.before,
        limit: parseLimit(q.limit),
      }),
    };
  });
};
