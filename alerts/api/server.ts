import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DeviceRecord, DeviceRecords, DeviceStatusView } from '../../contracts/device-record.ts';
import type { DeadLetter, RejectReason } from '../../contracts/messages.ts';
import type { ReadingsHistory } from '../../sinks/history/readings-history.ts';
import { tileOrigins, type MapSettings } from '../../registry/map-settings.ts';
import type { AlertBook } from '../alert-book.ts';
import type { SqlOnCallDirectory } from '../oncall/oncall-directory.ts';
import type { CustomerNoticeLog } from '../push/customer-notice-log.ts';
import type { SseHub } from '../push/sse/hub.ts';
import type { SlaSettings } from '../sla/sla-policy.ts';
import type { TicketReports } from '../tickets/reports.ts';
import type { TicketService } from '../tickets/ticket-service.ts';
import type { SqlAuditLog } from '../audit/audit-log.ts';
import type { ActionApplier, ActionTokenRedeemer } from '../push/actions.ts';
import { auditTrail } from './audit-trail.ts';
import { AuthFailureLimiter, TooManyAuthFailuresError, type AuthFailureLimitOptions } from './auth-limiter.ts';
import { domainHttpError, HttpError, UnauthorizedError } from './errors.ts';
import { serializeResponsesWithoutValidators } from './serialization-schema.ts';
import { inputGuard } from './input-guard.ts';
import { accessTokenOf, urlForLog } from './query-secrets.ts';
import { StreamSlots, type StreamLimits } from './stream-slots.ts';
import { formatValidationErrors, frameworkHttpError } from './request-errors.ts';
import { hasRoleGuard } from './roles.ts';
import type { SqlTokenStore } from './token-store.ts';
import type { Principal, TokenVerifier } from './tokens.ts';
import { alertRoutes } from './routes/alerts.ts';
import { auditRoutes } from './routes/audit.ts';
import { alertStreamRoutes } from './routes/alert-stream.ts';
import { consoleRoutes } from './routes/console.ts';
import { consoleSettingsRoutes } from './routes/console-settings.ts';
import { customerNoticeRoutes } from './routes/customer-notices.ts';
import { deadLetterRoutes } from './routes/dead-letters.ts';
import { deviceReadingRoutes } from './routes/device-readings.ts';
import { deviceRoutes } from './routes/devices.ts';
import { healthRoutes } from './routes/health.ts';
import { hookRoutes } from './routes/hooks.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { oncallRoutes, settingsRoutes } from './routes/oncall.ts';
import { pushSubscriptionRoutes } from './routes/push-subscriptions.ts';
import { reportRoutes } from './routes/reports.ts';
import { streamRoutes, type HeartbeatTimer } from './routes/stream.ts';
import { ticketRoutes } from './routes/tickets.ts';
import { tokenRoutes } from './routes/tokens.ts';

/** What the HTTP API serves, each a narrow view of another part of the pipeline. */
export interface ApiServices {
  alerts: AlertBook;
  registry: DeviceRecords & { put(record: DeviceRecord): DeviceRecord };
  devices: DeviceStatusView;
  deadLetters: { list(limit: number, reason?: RejectReason): DeadLetter[] };
  metrics: { text(): Promise<string> };
  /** Bootstrap TokenBook, or a TokenChain of it and the SQL token store. */
  tokens: TokenVerifier;
  health(): { status: 'ok' | 'degraded'; checks: Record<string, string> };
  /** Settings `map`: the system alert points are served in and the console map's tile source; a WGS-84 registry on the plain map when omitted. */
  map?: MapSettings;

  /** A device's readings over time (local history or InfluxDB): enables /devices/:id/readings. */
  readings?: ReadingsHistory;

  // The service stage; each family of routes is registered only when its service is given.
  /** Issued tokens: enables /tokens (admin). Add it to `tokens` too so its tokens verify. */
  apiTokens?: Pick<SqlTokenStore, 'create' | 'list' | 'revoke'>;
  tickets?: TicketApi;
  /** Customer notices with their delivery state: enables /customer-notices (staff). */
  customerNotices?: Pick<CustomerNoticeLog, 'list'>;
  reports?: Pick<TicketReports, 'daily' | 'weekly' | 'monthly' | 'today'>;
  oncall?: OnCallApi;
  /** Live streams per person: enables /stream and /people/:id/stream. */
  sse?: Pick<SseHub, 'subscribe'>;
  /** The SLA and escalation limits in force: enables GET /settings/sla. */
  getSlaSettings?: () => SlaSettings;
  /** Applies (and should persist) new limits after the API validated them: enables PUT /settings/sla. */
  setSlaSettings?: (settings: SlaSettings) => void | Promise<void>;
  /** Wall clock for "now" defaults (on-call now, schedules); Date.now when omitted. */
  clock?: { now(): number };
  /** The audit log: every change made through /api/v1 is recorded; enables GET /audit. */
  audit?: Pick<SqlAuditLog, 'record' | 'list'>;
  /** With `applyAction`: enables POST /hooks/v1/actions, the one-tap acknowledge link's call. */
  actionTokens?: ActionTokenRedeemer;
  applyAction?: ActionApplier;
  /** Push channels' provider callbacks, mounted at /hooks/v1/push/<name>/ (no bearer token). */
  pushCallbacks?: ReadonlyArray<{ name: string; routes: FastifyPluginAsync }>;
}

export type TicketApi = Pick<
  TicketService,
  'list' | 'get' | 'dispatch' | 'acknowledge' | 'arriveOnSite' | 'resolve' | 'followUp' | 'cancel' | 'reopen' | 'comment' | 'customerNotices' | 'openByPerson' | 'recordCustomerContact'
>;

export type OnCallApi = Pick<
  SqlOnCallDirectory,
  | 'whoIsOnCall'
  | 'coverageGaps'
  | 'person'
  | 'listPeople'
  | 'savePerson'
  | 'team'
  | 'listTeams'
  | 'saveTeam'
  | 'rotation'
  | 'saveRotation'
  | 'schedule'
  | 'addOverride'
  | 'removeOverride'
  | 'overrides'
>;

export interface HttpApiOptions {
  bodyLimitBytes?: number;
  /** Starts the SSE heartbeat for one stream and returns its stop; every 15 s when omitted. */
  sseHeartbeat?: HeartbeatTimer;
  /** Failed authentications allowed per client address before it gets 429s; see AuthFailureLimiter. */
  authFailures?: AuthFailureLimitOptions;
  /** Serve HTTPS with this PEM certificate and key (HTTP_TLS_CERT / HTTP_TLS_KEY). */
  https?: { cert: Buffer; key: Buffer };
  /** Open live streams per token holder and per address (settings `api.streams`); 10 and 20 when omitted. */
  streams?: Partial<StreamLimits>;
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

declare module 'fastify' {
  interface FastifyContextConfig {
    /** EventSource cannot send headers: this route also takes `?access_token=`. */
    queryToken?: boolean;
  }
}

/** Fastify's request log fields, with any token in the query string masked however its name is spelled. */
function requestForLog(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: urlForLog(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

function bearerOf(request: FastifyRequest): string | undefined {
  const match = BEARER.exec(request.headers.authorization ?? '');
  if (match) return match[1]!;
  // Read from the raw URL, not the parsed query: only the exact name `access_token` counts.
  if (request.routeOptions.config?.queryToken) return accessTokenOf(request.url);
  return undefined;
}

/** fastify's `https` option when TLS is configured; typed loosely so the app keeps one instance type. */
function httpsOption(options: Pick<HttpApiOptions, 'https'>): object {
  return options.https ? { https: { cert: options.https.cert, key: options.https.key, minVersion: 'TLSv1.2' } } : {};
}

/**
 * The HTTP face of a role without the alert store (ingest, processor): health and metrics only,
 * so orchestrators can probe it and Prometheus can scrape it.
 */
export async function buildOpsApi(services: Pick<ApiServices, 'metrics' | 'health'>, log: Logger, options: Pick<HttpApiOptions, 'https'> = {}): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, requestIdHeader: 'x-request-id', ...(httpsOption(options) as object) });
  app.decorate('services', services as ApiServices);
  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  return app;
}

/**
 * The HTTP API as a tree of fastify plugins: health and metrics open, everything under `/api/v1`
 * behind a bearer token. Every route declares its request and response schemas.
 */
export async function buildHttpApi(services: ApiServices, log: Logger, options: HttpApiOptions = {}): Promise<FastifyInstance> {
  const bodyLimit = options.bodyLimitBytes ?? 256 * 1024;
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    requestIdHeader: 'x-request-id',
    bodyLimit,
    // A client that trickles its request (slowloris) is cut off; SSE responses are not limited by it.
    requestTimeout: 60_000,
    schemaErrorFormatter: formatValidationErrors,
    // Bodies must have the right types, not be coerced into them: a registry record with
    // "qmaxM3h": "12" is refused with a 400 that names the field.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // The stream routes take `?access_token=`: keep it out of the request logs.
    childLoggerFactory: (logger, bindings, opts) =>
      logger.child(bindings, { ...opts, serializers: { ...opts.serializers, req: requestForLog } }),
    ...(httpsOption(options) as object),
  });
  const authFailures = new AuthFailureLimiter(options.authFailures);
  app.decorate('services', services);
  // Before any route: response unions become what fast-json-stringify writes without validators.
  serializeResponsesWithoutValidators(app);

  app.setErrorHandler((thrown: FastifyError | HttpError, request, reply) => {
    const err = domainHttpError(thrown) ?? frameworkHttpError(thrown, bodyLimit) ?? thrown;
    if (err instanceof HttpError) {
      if (err.statusCode === 409) request.log.info({ code: err.code }, 'Request refused: conflict');
      return reply.code(err.statusCode).send({ error: err.code, message: err.message, requestId: request.id });
    }
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
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: 'GAS_HTTP_NOT_FOUND', message: `No route ${request.method} ${urlForLog(request.url)}`, requestId: request.id }));
  inputGuard(app, bodyLimit);

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  // The map's tiles are the one thing the console loads from elsewhere.
  await app.register(consoleRoutes, { imgSources: tileOrigins(services.map?.tiles ?? null) });
  await app.register(
    async (api) => {
      // Every route here must say who may call it: refused at start, not found out in production.
      api.addHook('onRoute', (route) => {
        if (!hasRoleGuard(route.preHandler)) throw new Error(`Route ${String(route.method)} ${route.url} has no requireRole guard`);
      });
      api.addHook('onRequest', async (request, reply) => {
        const waitMs = authFailures.blockedForMs(request.ip);
        if (waitMs > 0) {
          const retryAfterS = Math.ceil(waitMs / 1000);
          reply.header('retry-after', String(retryAfterS));
          throw new TooManyAuthFailuresError(retryAfterS);
        }
        const token = bearerOf(request);
        const principal = token ? await services.tokens.verify(token) : undefined;
        if (!principal) {
          authFailures.fail(request.ip);
          request.log.info({ remoteAddress: request.ip, tokenGiven: token !== undefined }, 'Authentication failed');
          throw new UnauthorizedError();
        }
        request.principal = principal;
      });
      if (services.audit) {
        auditTrail(api, services.audit, () => services.clock?.now() ?? Date.now());
        await api.register(auditRoutes);
      }
      await api.register(alertRoutes);
      await api.register(consoleSettingsRoutes);
      await api.register(deviceRoutes);
      if (services.readings) await api.register(deviceReadingRoutes);
      await api.register(deadLetterRoutes);
      if (services.apiTokens) await api.register(tokenRoutes);
      if (services.tickets) await api.register(ticketRoutes);
      if (services.customerNotices) await api.register(customerNoticeRoutes);
      if (services.reports) await api.register(reportRoutes);
      if (services.oncall) await api.register(oncallRoutes);
      if (services.getSlaSettings) await api.register(settingsRoutes);
      if (services.webPush) await api.register(pushSubscriptionRoutes);
      // One set of slots for every stream route: the bounds hold across them.
      const slots = new StreamSlots(options.streams);
      if (services.sse) await api.register(streamRoutes, { heartbeat: options.sseHeartbeat, slots });
      await api.register(alertStreamRoutes, { heartbeat: options.sseHeartbeat, slots });
    },
    { prefix: '/api/v1' },
  );
  // Called by phones and providers, not token holders: each route checks its own credential.
  if ((services.actionTokens && services.applyAction) || services.pushCallbacks?.length) {
    await app.register(hookRoutes, { prefix: '/hooks/v1', authFailures });
  }
  return app;
}
