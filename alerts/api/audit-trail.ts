import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditDetail, type AuditEntry } from '../audit/audit-log.ts';

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `tickets.dispatch.post` for POST /api/v1/tickets/:id/dispatch: the route's fixed parts and the method. */
export function auditAction(method: string, routeUrl: string): { action: string; targetType: string } {
  const parts = routeUrl.replace(/^\/api\/v1\//, '').split('/').filter((p) => p !== '' && !p.startsWith(':'));
  return { action: [...parts, method.toLowerCase()].join('.'), targetType: parts[0] ?? 'api' };
}

function createdId(payload: unknown): string | undefined {
  if (typeof payload !== 'string' || !payload.startsWith('{')) return undefined;
  try {
    const id = (JSON.parse(payload) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records every successful change made in this scope (POST, PUT, PATCH, DELETE answered 2xx) to the
 * audit log before the answer leaves: who (the token's person or name, and role), when, which route
 * and target, and the request body with secret-looking fields masked. A failure to record is logged
 * as an error; the change itself has already been made.
 */
export function auditTrail(api: FastifyInstance, audit: { record(e: AuditEntry): Promise<void> }, now: () => number): void {
  api.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
    if (!CHANGES.has(request.method) || reply.statusCode >= 400 || !request.principal) return payload;
    const { action, targetType } = auditAction(request.method, request.routeOptions.url ?? request.url);
    const params = request.params as Record<string, unknown> | undefined;
    const targetId = typeof params?.id === 'string' ? params.id : createdId(payload);
    const p = request.principal;
    try {
      await audit.record({
        at: now(),
        actor: p.personId ?? p.name,
        role: p.role,
        action,
        targetType,
        targetId,
        method: request.method,
        path: request.url.split('?')[0]!,
        status: reply.statusCode,
        requestId: request.id,
        clientIp: request.ip,
        detail: auditDetail(request.body),
      });
    } catch (err) {
      request.log.error({ err, action, targetId }, 'Audit log write failed');
    }
    return payload;
  });
}
