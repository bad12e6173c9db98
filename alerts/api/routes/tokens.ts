import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../errors.ts';
import { requireRole } from '../roles.ts';
import { GuardedErrors, IdParams } from '../schemas.ts';
import { ROLES } from '../tokens.ts';

const RoleSchema = Type.Union(ROLES.map((r) => Type.Literal(r)));

const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  personId: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'who or what holds the token' }),
    role: RoleSchema,
    personId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9_.:-]+$', description: 'the on-call person the token acts as' })),
  },
  { additionalProperties: false },
);

/** Issuing and revoking API tokens: admins only; a token is shown once, at creation. */
export const tokenRoutes: FastifyPluginAsync = async (app) => {
  const preHandler = requireRole('admin');
  const store = app.services.apiTokens!;

  app.post<{ Body: Static<typeof CreateBody> }>('/tokens', {
    preHandler,
    schema: { body: CreateBody, response: { 201: Type.Composite([TokenInfo, Type.Object({ token: Type.String({ description: 'shown only now' }) })]), ...GuardedErrors } },
  }, async (request, reply) => {
    const created = await store.create(request.body);
    request.log.info({ tokenId: created.id, role: created.role, personId: created.personId, by: request.principal?.name }, 'API token issued');
    return reply.code(201).send(created);
  });

  app.get('/tokens', {
    preHandler,
    schema: { response: { 200: Type.Object({ items: Type.Array(TokenInfo) }), ...GuardedErrors } },
  }, async () => ({ items: await store.list() }));

  app.delete<{ Params: Static<typeof IdParams> }>('/tokens/:id', {
    preHandler,
    schema: { params: IdParams, response: { 204: Type.Null(), ...GuardedErrors } },
  }, async (request, reply) => {
    if (!(await store.revoke(request.params.id))) throw new NotFoundError(`Token ${request.params.id}`);
    request.log.info({ tokenId: request.params.id, by: request.principal?.name }, 'API token revoked');
    return reply.code(204).send();
  });
};
