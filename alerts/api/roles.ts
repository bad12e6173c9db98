import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { ForbiddenError, UnauthorizedError } from './errors.ts';
import { ROLES, type Principal, type Role } from './tokens.ts';

/** Marks the guards so the API scope can refuse, at start, a route registered without one. */
export const ROLE_GUARD = Symbol('roleGuard');

export type RoleGuard = preHandlerAsyncHookHandler & { [ROLE_GUARD]: readonly Role[] };

/** A preHandler that lets only these roles through (403 otherwise). */
export function requireRole(...roles: Role[]): RoleGuard {
  const guard = async (request: FastifyRequest): Promise<void> => {
    const p = request.principal;
    if (!p) throw new UnauthorizedError();
    if (!roles.includes(p.role)) throw new ForbiddenError(`Role ${p.role} may not do this; needs ${roles.join(' or ')}`);
  };
  return Object.assign(guard, { [ROLE_GUARD]: roles }) as unknown as RoleGuard;
}

export const ANY_ROLE = ROLES;
/** Roles that work on every ticket: the call centre and its supervisors. */
export const STAFF: readonly Role[] = ['admin', 'supervisor', 'operator'];
export const MANAGERS: readonly Role[] = ['admin', 'supervisor'];

export function hasRoleGuard(preHandler: unknown): boolean {
  const list = Array.isArray(preHandler) ? preHandler : [preHandler];
  return list.some((h) => typeof h === 'function' && ROLE_GUARD in h);
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal;
}

/** Who an audit event names: the person when the token is tied to one, else the token's name. */
export function actorOf(request: FastifyRequest): string {
  const p = principalOf(request);
  return p.personId ?? p.name;
}
