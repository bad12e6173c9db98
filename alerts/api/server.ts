import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { DeviceRecord, DeviceRecords, DeviceStatusView } from '../../contracts/device-record.ts';
import type { DeadLetter, RejectReason } from '../../contracts/messages.ts';
import type { AlertBook } from '../alert-book.ts';
import { HttpError, UnauthorizedError } from './errors.ts';
import type { Principal, TokenBook } from './tokens.ts';
import { alertRoutes } from './routes/alerts.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';

/** What the HTTP API serves, each a narrow view of another part of the pipeline. */
export interface ApiServices {
  alerts: AlertBook;
  registry: DeviceRecords & { put(record: DeviceRecord): DeviceRecord };
  devices: DeviceStatusView;
  deadLetters: { list(limit: number, reason?: RejectReason): DeadLetter[] };
  metrics: { text(): Promise<string> };
  tokens: TokenBook;
  health(): { status: 'ok' | 'degraded'; checks: Record<string, string> };
}

declare module 'fastify' {
  interface FastifyInstance {
    services: ApiServices;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * The HTTP API as a tree of fastify plugins: health and metrics open, everything under `/api/v1`
 * behind a bearer token. Every route declares its request and response schemas.
 */
export async function buildHttpApi(services: ApiServices, log: Logger, options: { bodyLimitBytes?: number } = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    requestIdHeader: 'x-request-id',
    bodyLimit: options.bodyLimitBytes ?? 256 * 1024,
    // Bodies must have the right types, not be coerced into them: a registry record with
    // "qmaxM3h": "12" is refused with a 400 that names the field.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  app.decorate('services', services);

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.code, message: err.message, requestId: request.id });
    if ('validation' in err && err.validation) {
      return reply.code(400).send({ error: 'GAS_HTTP_VALIDATION', message: err.message, requestId: request.id });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err }, 'Request failed');
      return reply.code(500).send({ error: 'GAS_HTTP_INTERNAL', message: 'Internal error; quote the request id when reporting it', requestId: request.id });
    }
    return reply.code(status).send({ error: err.code ?? 'GAS_HTTP_BAD_REQUEST', message: err.message, requestId: request.id });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'GAS_HTTP_NOT_FOUND', message: `No route ${request.method} ${request.url}`, requestId: request.id }));

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (request) => {
        const match = BEARER.exec(request.headers.authorization ?? '');
        const principal = match ? services.tokens.verify(match[1]!) : undefined;
        if (!principal) throw new UnauthorizedError();
        request.principal = principal;
      });
      await api.register(alertRoutes);
      await api.register(deviceRoutes);
      await api.register(deadLetterRoutes);
    },
    { prefix: '/api/v1' },
  );
  return app;
}
