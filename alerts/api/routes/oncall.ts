import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { FastifyPluginAsync } from 'fastify';
import { OverrideInputSchema, PersonSchema, RotationSchema, TeamSchema } from '../../oncall/schemas.ts';
import { SlaSettingsSchema, type SlaSettings } from '../../sla/sla-policy.ts';
import { BadRequestError, NotFoundError } from '../errors.ts';
import { ANY_ROLE, MANAGERS, requireRole } from '../roles.ts';
import { handOverNote } from '../../tickets/handover.ts';
import { GuardedErrors, IdParams } from '../schemas.ts';
import { TicketView } from './tickets.ts';

const DateTime = Type.String({ format: 'date-time' });
const Instant = Type.String({ maxLength: 40, description: 'ISO-8601 instant, e.g. 2026-11-22T08:00:00Z' });

const PersonView = Type.Object({ ...PersonSchema.properties });
const Shift = Type.Object({ name: Type.String(), kind: Type.Union([Type.Literal('on_site'), Type.Literal('home')]), startsAt: DateTime, endsAt: DateTime });
const OnCallView = Type.Object({
  district: Type.String(),
  teamId: Type.String(),
  at: DateTime,
  technician: Type.Union([PersonView, Type.Null()]),
  shift: Type.Union([Shift, Type.Null()]),
  supervisor: Type.Union([PersonView, Type.Null()]),
  director: Type.Union([PersonView, Type.Null()]),
  gaps: Type.Array(Type.Object({ from: DateTime, to: DateTime }), { description: 'the next 7 days from `at` in which nobody of this district\'s team is on duty: its tickets wait for the next shift, the supervisor paged' }),
});

/** How far ahead GET /oncall looks for stretches nobody covers. */
const GAP_HORIZON_MS = 7 * 86_400_000;

const ScheduleEntry = Type.Object({
  teamId: Type.String(),
  personId: Type.String(),
  personName: Type.Optional(Type.String()),
  shiftName: Type.String(),
  kind: Type.Union([Type.Literal('on_site'), Type.Literal('home')]),
  shiftIndex: Type.Integer(),
  shiftDate: Type.String(),
  startsAt: DateTime,
  endsAt: DateTime,
  override: Type.Optional(Type.Object({ id: Type.String(), reason: Type.String(), replacesId: Type.Optional(Type.String()) })),
});

const OverrideView = Type.Composite([OverrideInputSchema, Type.Object({ id: Type.String() })]);

/** A body may repeat the path's id; omitted, the path's id is used. */
const withOptionalId = <T extends typeof TeamSchema | typeof PersonSchema>(schema: T) =>
  Type.Composite([Type.Omit(schema, ['id']), Type.Object({ id: Type.Optional(schema.properties.id) })], { additionalProperties: false });
const TeamBody = withOptionalId(TeamSchema);
const PersonBody = withOptionalId(PersonSchema);
const RotationBody = Type.Composite([Type.Omit(RotationSchema, ['teamId']), Type.Object({ teamId: Type.Optional(RotationSchema.properties.teamId) })], { additionalProperties: false });

const HandOverView = Type.Object({
  district: Type.String(),
  at: DateTime,
  shift: Type.Union([Type.Object({ technicianId: Type.Union([Type.String(), Type.Null()]), ...Shift.properties }), Type.Null()]),
  previousTechnicianId: Type.Union([Type.String(), Type.Null()]),
  open: Type.Array(
    Type.Object({
      ticket: TicketView,
      passedOn: Type.Boolean({ description: 'opened before this shift began' }),
      waitedForShift: Type.Boolean({ description: 'opened while nobody was on duty; dispatched at this shift\'s start or still waiting' }),
      overdue: Type.Boolean(),
    }),
    { description: 'open tickets of the district, what to do first first: priority, overdue, SLA due time' },
  ),
  followUpsDue: Type.Array(TicketView),
});
const HandOverQuery = Type.Object({ district: Type.String({ minLength: 1, maxLength: 100 }), at: Type.Optional(Instant) }, { additionalProperties: false });

const OnCallQuery = Type.Object({ district: Type.Optional(Type.String({ maxLength: 100 })), at: Type.Optional(Instant) }, { additionalProperties: false });
const RangeQuery = Type.Object({ from: Type.Optional(Instant), to: Type.Optional(Instant) }, { additionalProperties: false });

const DAY_MS = 24 * 3600_000;

function instant(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new BadRequestError(`${name} must be an ISO-8601 instant, got ${text}`);
  return ms;
}

function sameId(pathId: string, bodyId: string | undefined, what: string): void {
  if (bodyId !== undefined && bodyId !== pathId) throw new BadRequestError(`body ${what} ${bodyId} does not match the path's ${pathId}`);
}

/** Who is on call, teams, people, rotations, overrides: everyone reads, managers write. */
export const oncallRoutes: FastifyPluginAsync = async (app) => {
  const directory = app.services.oncall!;
  const now = () => app.services.clock?.now() ?? Date.now();
  const read = requireRole(...ANY_ROLE);
  const write = requireRole(...MANAGERS);

  app.get<{ Querystring: Static<typeof OnCallQuery> }>('/oncall', {
    preHandler: read,
    schema: { querystring: OnCallQuery, response: { 200: OnCallView, ...GuardedErrors } },
  }, async (request) => {
    const atMs = instant(request.query.at, now(), 'at');
    const a = await directory.whoIsOnCall(request.query.district, atMs);
    return {
      district: a.district,
      teamId: a.teamId,
      at: new Date(atMs).toISOString(),
      technician: a.technician ?? null,
      shift: a.shift ?? null,
      supervisor: a.supervisor ?? null,
      director: a.director ?? null,
      gaps: (await directory.coverageGaps(atMs, atMs + GAP_HORIZON_MS, request.query.district)).map(({ from, to }) => ({ from, to })),
    };
  });

  const tickets = app.services.tickets;
  if (tickets) {
    app.get<{ Querystring: Static<typeof HandOverQuery> }>('/oncall/handover', {
      preHandler: read,
      schema: { querystring: HandOverQuery, response: { 200: HandOverView, ...GuardedErrors } },
    }, async (request) => handOverNote(tickets, directory, request.query.district, instant(request.query.at, now(), 'at')));
  }

  app.get('/oncall/teams', {
    preHandler: read,
    schema: { response: { 200: Type.Object({ items: Type.Array(TeamSchema) }), ...GuardedErrors } },
  }, async () => ({ items: await directory.listTeams() }));

  app.get<{ Params: Static<typeof IdParams> }>('/oncall/teams/:id', {
    preHandler: read,
    schema: { params: IdParams, response: { 200: Type.Composite([TeamSchema, Type.Object({ rotation: Type.Union([RotationSchema, Type.Null()]) })]), ...GuardedErrors } },
  }, async (request) => {
    const team = await directory.team(request.params.id);
    if (!team) throw new NotFoundError(`Team ${request.params.id}`);
    return { ...team, rotation: (await directory.rotation(team.id)) ?? null };
  });

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof TeamBody> }>('/oncall/teams/:id', {
    preHandler: write,
    schema: { params: IdParams, body: TeamBody, response: { 200: TeamSchema, ...GuardedErrors } },
  }, async (request) => {
    sameId(request.params.id, request.body.id, 'id');
    const team = await directory.saveTeam({ ...request.body, id: request.params.id });
    request.log.info({ teamId: team.id, by: request.principal?.name }, 'On-call team saved');
    return team;
  });

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof RotationBody> }>('/oncall/teams/:id/rotation', {
    preHandler: write,
    schema: { params: IdParams, body: RotationBody, response: { 200: RotationSchema, ...GuardedErrors } },
  }, async (request) => {
    sameId(request.params.id, request.body.teamId, 'teamId');
    const rotation = await directory.saveRotation({ ...request.body, teamId: request.params.id });
    request.log.info({ teamId: rotation.teamId, by: request.principal?.name }, 'On-call rotation saved');
    return rotation;
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof RangeQuery> }>('/oncall/teams/:id/schedule', {
    preHandler: read,
    schema: { params: IdParams, querystring: RangeQuery, response: { 200: Type.Object({ from: DateTime, to: DateTime, items: Type.Array(ScheduleEntry) }), ...GuardedErrors } },
  }, async (request) => {
    const fromMs = instant(request.query.from, now(), 'from');
    const toMs = instant(request.query.to, fromMs + 7 * DAY_MS, 'to');
    if (toMs - fromMs > 92 * DAY_MS) throw new BadRequestError('a schedule spans at most 92 days');
    const entries = await directory.schedule(request.params.id, fromMs, toMs);
    return {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      items: entries.map(({ startMs, endMs, ...e }) => ({ ...e, startsAt: new Date(startMs).toISOString(), endsAt: new Date(endMs).toISOString() })),
    };
  });

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof RangeQuery> }>('/oncall/teams/:id/overrides', {
    preHandler: read,
    schema: { params: IdParams, querystring: RangeQuery, response: { 200: Type.Object({ items: Type.Array(OverrideView) }), ...GuardedErrors } },
  }, async (request) => {
    const fromMs = instant(request.query.from, now(), 'from');
    const toMs = instant(request.query.to, fromMs + 30 * DAY_MS, 'to');
    return { items: await directory.overrides(request.params.id, fromMs, toMs) };
  });

  app.post<{ Body: Static<typeof OverrideInputSchema> }>('/oncall/overrides', {
    preHandler: write,
    schema: { body: OverrideInputSchema, response: { 201: OverrideView, ...GuardedErrors } },
  }, async (request, reply) => {
    const o = await directory.addOverride(request.body);
    request.log.info({ overrideId: o.id, teamId: o.teamId, personId: o.personId, by: request.principal?.name }, 'On-call override added');
    return reply.code(201).send(o);
  });

  app.delete<{ Params: Static<typeof IdParams> }>('/oncall/overrides/:id', {
    preHandler: write,
    schema: { params: IdParams, response: { 204: Type.Null(), ...GuardedErrors } },
  }, async (request, reply) => {
    if (!(await directory.removeOverride(request.params.id))) throw new NotFoundError(`Override ${request.params.id}`);
    request.log.info({ overrideId: request.params.id, by: request.principal?.name }, 'On-call override removed');
    return reply.code(204).send();
  });

  app.get('/oncall/people', {
    preHandler: read,
    schema: { response: { 200: Type.Object({ items: Type.Array(PersonView) }), ...GuardedErrors } },
  }, async () => ({ items: await directory.listPeople() }));

  app.get<{ Params: Static<typeof IdParams> }>('/oncall/people/:id', {
    preHandler: read,
    schema: { params: IdParams, response: { 200: PersonView, ...GuardedErrors } },
  }, async (request) => {
    const p = await directory.person(request.params.id);
    if (!p) throw new NotFoundError(`Person ${request.params.id}`);
    return p;
  });

  app.put<{ Params: Static<typeof IdParams>; Body: Static<typeof PersonBody> }>('/oncall/people/:id', {
    preHandler: write,
    schema: { params: IdParams, body: PersonBody, response: { 200: PersonView, ...GuardedErrors } },
  }, async (request) => {
    sameId(request.params.id, request.body.id, 'id');
    const person = await directory.savePerson({ ...request.body, id: request.params.id });
    request.log.info({ personId: person.id, by: request.principal?.name }, 'On-call person saved');
    return person;
  });
};

/**
 * The SLA and escalation limits. PUT replaces them whole: a limit left out gets its default, a
 * wrong one is refused with a 400 naming its field, and the wiring applies (and keeps) the result.
 */
export const settingsRoutes: FastifyPluginAsync = async (app) => {
  const get = app.services.getSlaSettings!;

  app.get('/settings/sla', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { response: { 200: SlaSettingsSchema, ...GuardedErrors } },
  }, async () => get());

  const set = app.services.setSlaSettings;
  if (!set) return;
  app.put<{ Body: SlaSettings }>('/settings/sla', {
    preHandler: requireRole(...MANAGERS),
    schema: { body: SlaSettingsSchema, response: { 200: SlaSettingsSchema, ...GuardedErrors } },
  }, async (request) => {
    // ajv has filled defaults already; the TypeBox check is the same schema the service parses with.
    const settings = Value.Default(SlaSettingsSchema, Value.Clone(request.body)) as SlaSettings;
    const first = Value.Errors(SlaSettingsSchema, settings).First();
    if (first) throw new BadRequestError(`${first.path.replaceAll('/', '.').replace(/^\./, '')}: ${first.message}`);
    await set(settings);
    request.log.info({ by: request.principal?.name }, 'SLA settings updated');
    return get();
  });
};
