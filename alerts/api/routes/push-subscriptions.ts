import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { WebPushChannel } from '../../push/web-push/index.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import { ANY_ROLE, principalOf, requireRole } from '../roles.ts';
import { GuardedErrors } from '../schemas.ts';

declare module '../server.ts' {
  interface ApiServices {
    /** The Web Push channel: enables /push/vapid-public-key and /push/subscriptions. */
    webPush?: Pick<WebPushChannel, 'publicKey' | 'subscriptions'>;
  }
}

// Push services are HTTPS; an http: or internal address would have the server post wherever a token holder points it.
const Endpoint = Type.String({ pattern: '^https://', minLength: 9, maxLength: 1000, description: 'the push service URL of the browser (PushSubscription.endpoint)' });

const SubscribeBody = Type.Object(
  {
    endpoint: Endpoint,
    expirationTime: Type.Optional(Type.Union([Type.Number(), Type.Null()])),
    keys: Type.Object(
      {
        p256dh: Type.String({ pattern: '^[A-Za-z0-9_-]{87}$', description: 'the browser’s P-256 public key, base64url' }),
        auth: Type.String({ pattern: '^[A-Za-z0-9_-]{22}$', description: 'the 16-byte auth secret, base64url' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, description: 'PushSubscription.toJSON() as the browser gives it' },
);

const UnsubscribeBody = Type.Object({ endpoint: Endpoint }, { additionalProperties: false });

const Subscribed = Type.Object({ endpoint: Type.String(), personId: Type.String() });

/** Only a token tied to a person can be reached on a phone: pushes are addressed to people. */
function personOf(request: Parameters<typeof principalOf>[0]): string {
  const personId = principalOf(request).personId;
  if (!personId) throw new ForbiddenError('This token is not tied to a person (personId): phone notifications are sent to people');
  return personId;
}

/** Web Push subscriptions of the token's own person: the console's "enable phone notifications". */
export const pushSubscriptionRoutes: FastifyPluginAsync = async (app) => {
  const webPush = app.services.webPush!;
  const clock = () => app.services.clock?.now() ?? Date.now();
  const preHandler = requireRole(...ANY_ROLE);

  app.get('/push/vapid-public-key', {
    preHandler,
    schema: { response: { 200: Type.Object({ publicKey: Type.String({ description: 'applicationServerKey for pushManager.subscribe, base64url' }) }), ...GuardedErrors } },
  }, async () => ({ publicKey: webPush.publicKey }));

  app.post<{ Body: Static<typeof SubscribeBody> }>('/push/subscriptions', {
    preHandler,
    schema: { body: SubscribeBody, response: { 201: Subscribed, ...GuardedErrors } },
  }, async (request, reply) => {
    const personId = personOf(request);
    const { endpoint, keys } = request.body;
    await webPush.subscriptions.save(personId, { endpoint, keys }, request.headers['user-agent'], clock());
    request.log.info({ personId, endpointHost: new URL(endpoint).host }, 'Phone notifications enabled');
    return reply.code(201).send({ endpoint, personId });
  });

  app.delete<{ Body: Static<typeof UnsubscribeBody> }>('/push/subscriptions', {
    preHandler,
    schema: { body: UnsubscribeBody, response: { 204: Type.Null(), ...GuardedErrors } },
  }, async (request, reply) => {
    const personId = personOf(request);
    if (!(await webPush.subscriptions.remove(personId, request.body.endpoint))) throw new NotFoundError('Push subscription');
    request.log.info({ personId, endpointHost: new URL(request.body.endpoint).host }, 'Phone notifications turned off');
    return reply.code(204).send();
  });
};
