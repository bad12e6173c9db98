import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { DEVICE_KINDS } from '../../../contracts/messages.ts';
import { HISTORY_FIELDS } from '../../../sinks/history/fields.ts';
import { BadRangeError, NotFoundError } from '../errors.ts';
import { ANY_ROLE, requireRole } from '../roles.ts';
import { ErrorResponse, GuardedErrors } from '../schemas.ts';

const HOUR = 3_600_000;
/** Longest range one request may ask for: a month, so one InfluxDB query stays cheap. */
export const MAX_RANGE_MS = 31 * 24 * HOUR;
export const DEFAULT_RANGE_MS = 24 * HOUR;
const LIMIT = { min: 10, max: 2000, default: 500 };

const DeviceParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) });
const Instant = Type.String({ maxLength: 40, description: 'ISO-8601 instant' });

const ReadingsQuery = Type.Object({
  from: Type.Optional(Instant),
  to: Type.Optional(Instant),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `most points (${LIMIT.min}-${LIMIT.max}, default ${LIMIT.default}); more readings are merged into equal buckets of time` })),
}, { additionalProperties: false });

const ReadingPoint = Type.Object({
  at: Type.String({ format: 'date-time', description: 'device time of the reading, of the newest reading merged into the point, or the start of its bucket' }),
  ...Object.fromEntries(HISTORY_FIELDS.map((f) => [f, Type.Optional(Type.Number())])),
  status: Type.Optional(Type.Array(Type.String(), { description: 'status tokens shown by the device (all of them, over a merged point; the last, from InfluxDB)' })),
}, { additionalProperties: false });

const ReadingsView = Type.Object({
  deviceId: Type.String(),
  kind: Type.Union(DEVICE_KINDS.map((k) => Type.Literal(k))),
  source: Type.Union([Type.Literal('local'), Type.Literal('influxdb')], { description: 'local: the bounded history kept by the API process (sinks/history); influxdb: InfluxQL' }),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  bucketMs: Type.Union([Type.Integer(), Type.Null()], { description: 'null: every stored point; else points are aggregates over epoch-aligned buckets this wide' }),
  points: Type.Array(ReadingPoint),
});

function instant(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadRangeError(`${name} must be an ISO-8601 instant, got ${text}`);
  return ms;
}

/** GET /devices/:id/readings?from=&to=&limit=: a device's readings over time, for its chart. */
export const deviceReadingRoutes: FastifyPluginAsync = async (app) => {
  const readings = app.services.readings!;
  app.get<{ Params: Static<typeof DeviceParams>; Querystring: Static<typeof ReadingsQuery> }>('/devices/:id/readings', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { params: DeviceParams, querystring: ReadingsQuery, response: { 200: ReadingsView, ...GuardedErrors, 503: ErrorResponse } },
  }, async (request) => {
    const { id } = request.params;
    const q = request.query;
    const toMs = instant(q.to, 'to') ?? app.services.clock?.now() ?? Date.now();
    const fromMs = instant(q.from, 'from') ?? toMs - DEFAULT_RANGE_MS;
    if (fromMs >= toMs) throw new BadRangeError(`from (${new Date(fromMs).toISOString()}) must be before to (${new Date(toMs).toISOString()})`);
    if (toMs - fromMs > MAX_RANGE_MS) throw new BadRangeError(`the range may span at most ${MAX_RANGE_MS / (24 * HOUR)} days`);
    const limit = q.limit === undefined ? LIMIT.default : Number(q.limit);
    if (limit < LIMIT.min || limit > LIMIT.max) throw new BadRangeError(`limit must be ${LIMIT.min}-${LIMIT.max}, got ${q.limit}`);

    const record = app.services.registry.get(id);
    const status = app.services.devices.statusOf(id);
    const kind = record?.kind ?? status?.kind ?? readings.kindOf?.(id);
    if (!kind) throw new NotFoundError(`Device ${id}`);
    const answer = await readings.query({ deviceId: id, kind, gatewayId: record?.gatewayId ?? status?.lastReading?.gatewayId, fromMs, toMs, limit });
    return {
      deviceId: id,
      kind,
      source: answer.source,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      bucketMs: answer.bucketMs,
      points: answer.points.map((p) => (p.status ? { at: new Date(p.atMs).toISOString(), ...p.values, status: p.status } : { at: new Date(p.atMs).toISOString(), ...p.values })),
    };
  });
};
