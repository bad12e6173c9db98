import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { DeviceRecordSchema, type DeviceRecord } from '../../../contracts/device-record.ts';
import { recordProblem } from '../../../registry/device-registry.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import { ANY_ROLE, MANAGERS, requireRole } from '../roles.ts';
import { ErrorResponse } from '../schemas.ts';

const DeviceParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }) });

const DeviceView = Type.Object({
  deviceId: Type.String(),
  kind: Type.String(),
  registered: Type.Boolean(),
  record: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  lastReading: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()]),
  lastSeenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  activeConditions: Type.Array(Type.String()),
}, { additionalProperties: true });

const RecordBody = Type.Composite([Type.Omit(DeviceRecordSchema, ['deviceId']), Type.Object({ deviceId: Type.Optional(DeviceRecordSchema.properties.deviceId) })], { additionalProperties: true });
const RecordResponse = Type.Object({ ...DeviceRecordSchema.properties }, { additionalProperties: true });

export const deviceRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: Static<typeof DeviceParams> }>('/devices/:id', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { params: DeviceParams, response: { 200: DeviceView, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse } },
  }, async (request) => {
    const { id } = request.params;
    const record = app.services.registry.get(id);
    const status = app.services.devices.statusOf(id);
    if (!record && !status) throw new NotFoundError(`Device ${id}`);
    // The reading as received, without the fields ingest added for the stages behind it.
    const { atMs: _a, receivedAtMs: _r, ...lastReading } = status?.lastReading ?? ({} as Record<string, unknown>);
    return {
      // The registry's record fields first, so a record's own fields read back under their names.
      ...(record ?? {}),
      deviceId: id,
      kind: record?.kind ?? status!.kind,
      registered: record !== undefined,
      record: record ?? null,
      lastReading: status?.lastReading ? lastReading : null,
      lastSeenAt: status?.lastSeenAtMs !== undefined && Number.isFinite(status.lastSeenAtMs) ? new Date(status.lastSeenAtMs).toISOString() : null,
      activeConditions: app.services.alerts.activeFor(id).map((a) => a.condition),
    };
  });

  app.put<{ Params: Static<typeof DeviceParams>; Body: Static<typeof RecordBody> }>('/devices/:id', {
    preHandler: requireRole(...MANAGERS),
    schema: { params: DeviceParams, body: RecordBody, response: { 200: RecordResponse, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse } },
  }, async (request) => {
    const { id } = request.params;
    if (request.body.deviceId !== undefined && request.body.deviceId !== id) {
      throw new BadRequestError(`body deviceId ${request.body.deviceId} does not match the path's ${id}`);
    }
    const record = { ...request.body, deviceId: id } as DeviceRecord;
    // The registry's own bounds (depth, text), the same as for its file.
    const problem = recordProblem(record);
    if (problem) throw new BadRequestError(`body/${problem}`);
    request.log.info({ deviceId: id, by: request.principal?.name }, 'Device record updated');
    return app.services.registry.put(record);
  });
};
