import { type Static, Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ActionTokenError, redeemAndApply } from '../../push/actions.ts';
import { TooManyAuthFailuresError, type AuthFailureLimiter } from '../auth-limiter.ts';
import { ErrorResponse } from '../schemas.ts';

const ActionBody = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z0-9_.-]+$', description: 'The action token from the notification link or button' }) },
  { additionalProperties: false },
);
const ActionDone = Type.Object({
  ticketId: Type.String(),
  action: Type.Union([Type.Literal('acknowledge'), Type.Literal('on_site')]),
  status: Type.String({ description: 'The ticket status after the action' }),
});

export interface HookRoutesOptions {
  /** The API's limiter: a refused token counts as a failed authentication of that address. */
  authFailures: AuthFailureLimiter;
}

/**
 * Routes called without a bearer token, under `/hooks/v1`: `POST /actions` redeems a one-tap
 * action token (the token is the credential), and each push channel's provider callbacks sit
 * under `/push/<instance name>/`, checking the provider's own signature.
 */
export const hookRoutes: FastifyPluginAsync<HookRoutesOptions> = async (app, { authFailures }) => {
  const { actionTokens, applyAction, pushCallbacks } = app.services;

  if (actionTokens && applyAction) {
    app.post<{ Body: Static<typeof ActionBody> }>('/actions', {
      schema: {
        body: ActionBody,
        response: { 200: ActionDone, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 410: ErrorResponse, 429: ErrorResponse },
      },
    }, async (request, reply) => {
      const waitMs = authFailures.blockedForMs(request.ip);
      if (waitMs > 0) {
        const retryAfterS = Math.ceil(waitMs / 1000);
        reply.header('retry-after', String(retryAfterS));
        throw new TooManyAuthFailuresError(retryAfterS);
      }
      let out;
      try {
        out = await redeemAndApply(actionTokens, applyAction, request.body.token, { via: 'link', path: '/hooks/v1/actions', clientIp: request.ip, requestId: request.id });
      } catch (err) {
        if (err instanceof ActionTokenError) {
          authFailures.fail(request.ip);
          request.log.info({ remoteAddress: request.ip, reason: err.reason }, 'Action token refused');
        }
        throw err;
      }
      const { claim, done } = out;
      request.log.info({ ticketId: done.ticketId, action: claim.action, personId: claim.personId, via: 'link' }, 'Ticket action from a one-tap link');
      return { ticketId: done.ticketId, action: claim.action, status: done.status };
    });
  }

  for (const { name, routes } of pushCallbacks ?? []) await app.register(routes, { prefix: `/push/${name}` });
};
