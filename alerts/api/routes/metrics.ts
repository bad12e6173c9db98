import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';

/** Prometheus text exposition: readings/s, rejects by reason, lag, alerts by condition. */
export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(await app.services.metrics.text());
  });
};
