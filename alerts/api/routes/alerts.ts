import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { CONDITIONS, SEVERITIES } from '../../../contracts/messages.ts';
import type { DeviceRecords } from '../../../contracts/device-record.ts';
import type { Alert } from '../../alert-book.ts';
import { DEFAULT_MAP_SETTINGS, mapPointOf, type MapSettings } from '../../../registry/map-settings.ts';
import { NotFoundError } from '../errors.ts';
import { actorOf, ANY_ROLE, requireRole, STAFF } from '../roles.ts';
import { ErrorResponse, LimitQuery, parseLimit } from '../schemas.ts';

const Text = Type.Object({ 'zh-CN': Type.String(), en: Type.String() });

export const AlertItem = Type.Object({
  id: Type.String(),
  deviceId: Type.String({ description: 'the device, or the gateway for GATEWAY_OFFLINE' }),
  gatewayId: Type.String(),
  subject: Type.Union([Type.Literal('device'), Type.Literal('gateway')]),
  kind: Type.Optional(Type.String()),
  condition: Type.Union(CONDITIONS.map((c) => Type.Literal(c))),
  severity: Type.Union(SEVERITIES.map((s) => Type.Literal(s))),
  state: Type.Union([Type.Literal('active'), Type.Literal('cleared')]),
  raisedAt: Type.String({ format: 'date-time' }),
  clearedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  cause: Type.String({ description: "the manual's cause, zh-CN / English" }),
  remedy: Type.String({ description: "the manual's remedy, zh-CN / English" }),
  toolCard: Text,
  parts: Type.Array(Text),
  detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  unregistered: Type.Optional(Type.Boolean()),
  inhibited: Type.Optional(Type.Object({
    by: Type.String({ description: 'the condition that inhibits this one (alerts/inhibition.ts)' }),
    alertId: Type.String({ description: 'the inhibiting alert' }),
    since: Type.String({ format: 'date-time' }),
  }, { description: 'kept but inhibited by a more specific alert: no ticket or push of its own while it is' })),
  late: Type.Optional(Type.Literal(true, { description: 'historical: found in a late reading judged in event time, raised and cleared at the device\'s own times (processors/LATE-READINGS.md)' })),
  delayMs: Type.Optional(Type.Integer({ minimum: 0, description: 'how long after its device time the reading that raised it was delivered, ms' })),
  seen: Type.Optional(Type.Object({
    by: Type.String({ description: 'the operator (person, or desk token name) who acknowledged it first' }),
    at: Type.String({ format: 'date-time' }),
  }, { description: 'a control-room operator saw it (POST /alerts/:id/seen); not the technician accepting its ticket' })),
  district: Type.Optional(Type.String({ description: "from the registry, for the control room's filters" })),
  address: Type.Optional(Type.String({ description: 'from the registry' })),
  customer: Type.Optional(Type.String({ description: 'from the registry' })),
  lat: Type.Optional(Type.Number({ description: "from the registry, in the console map's system (GET /console/settings map.crs), converted from the registry's" })),
  lon: Type.Optional(Type.Number({ description: 'as lat' })),
});

const AlertQuery = Type.Object({
  state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('cleared')])),
  deviceId: Type.Optional(Type.String({ maxLength: 64 })),
  gatewayId: Type.Optional(Type.String({ maxLength: 64 })),
  condition: Type.Optional(Type.Union(CONDITIONS.map((c) => Type.Literal(c)))),
  limit: Type.Optional(LimitQuery),
}, { additionalProperties: false });

/**
 * An alert as the API and the alert stream show it, with where it is from the registry (the
 * gateway's record for a gateway alert): its point in the map's system of `map` (as registered without it).
 */
export function alertItem(a: Alert, registry?: Pick<DeviceRecords, 'get'>, map: MapSettings = DEFAULT_MAP_SETTINGS): Static<typeof AlertItem> {
  const record = registry?.get(a.deviceId);
  const point = mapPointOf(map, record);
  return {
    id: a.id,
    deviceId: a.deviceId,
    gatewayId: a.gatewayId,
    subject: a.subject,
    kind: a.kind,
    condition: a.condition,
    severity: a.severity,
    state: a.state,
    raisedAt: a.raisedAt,
    clearedAt: a.clearedAt,
    cause: a.cause,
    remedy: a.remedy,
    toolCard: a.manual.toolCard,
    parts: a.manual.parts,
    detail: a.detail,
    unregistered: a.unregistered,
    ...(a.inhibited ? { inhibited: a.inhibited } : {}),
    ...(a.late ? { late: true as const } : {}),
    ...(a.delayMs !== undefined ? { delayMs: a.delayMs } : {}),
    ...(a.seen ? { seen: a.seen } : {}),
    ...(record?.district ? { district: record.district } : {}),
    ...(record?.address ? { address: record.address } : {}),
    ...(record?.customer ? { customer: record.customer } : {}),
    ...(point ? { lat: point.lat, lon: point.lon } : {}),
  };
}

const AlertParams = Type.Object({ id: Type.String({ maxLength: 128 }) });

export const alertRoutes: FastifyPluginAsync = async (app) => {
  const preHandler = requireRole(...ANY_ROLE);
  app.get<{ Querystring: Static<typeof AlertQuery> }>('/alerts', {
    preHandler,
    schema: { querystring: AlertQuery, response: { 200: Type.Object({ items: Type.Array(AlertItem) }), 400: ErrorResponse } },
  }, async (request) => {
    const { state, deviceId, gatewayId, condition, limit } = request.query;
    const items = app.services.alerts.query({ state, deviceId, gatewayId, condition, limit: parseLimit(limit) });
    const { registry, map } = app.services;
    return { items: items.map((a) => alertItem(a, registry, map)) };
  });

  app.get<{ Params: Static<typeof AlertParams> }>('/alerts/:id', {
    preHandler,
    schema: { params: AlertParams, response: { 200: AlertItem, 404: ErrorResponse } },
  }, async (request) => {
    const alert = app.services.alerts.get(request.params.id);
    if (!alert) throw new NotFoundError(`Alert ${request.params.id}`);
    return alertItem(alert, app.services.registry, app.services.map);
  });

  // The control room's acknowledge: the alarm was seen (its sound stops for every desk). Audited like every change.
  app.post<{ Params: Static<typeof AlertParams> }>('/alerts/:id/seen', {
    preHandler: requireRole(...STAFF),
    schema: { params: AlertParams, response: { 200: AlertItem, 404: ErrorResponse } },
  }, async (request) => {
    const alert = app.services.alerts.markSeen(request.params.id, actorOf(request), app.services.clock?.now() ?? Date.now());
    if (!alert) throw new NotFoundError(`Alert ${request.params.id}`);
    return alertItem(alert, app.services.registry, app.services.map);
  });
};
