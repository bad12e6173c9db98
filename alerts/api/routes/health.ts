import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';

export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', {
    schema: {
      response: {
        200: Type.Object({ status: Type.Literal('ok'), checks: Type.Record(Type.String(), Type.String()) }),
        503: Type.Object({ status: Type.Literal('degraded'), checks: Type.Record(Type.String(), Type.String()) }),
      },
    },
  }, async (_request, reply) => {
    const health = app.services.health();
    return reply.code(health.status === 'ok' ? 200 : 503).send(health);
  });
};
