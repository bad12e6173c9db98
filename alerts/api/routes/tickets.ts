import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { CONDITIONS, SEVERITIES } from '../../../contracts/messages.ts';
import { PRIORITIES, type Priority } from '../../sla/sla-policy.ts';
import { CustomerContactBody, PersonTicketBody } from '../../tickets/person-tickets.ts';
import { COMPLAINT_CLASSES, COMPLAINT_KINDS, TICKET_ORIGINS, type Ticket, type TicketDetail, type TicketOrigin } from '../../tickets/ticket.ts';
import { TICKET_STATUSES, type TicketStatus } from '../../tickets/ticket-lifecycle.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import { actorOf, ANY_ROLE, principalOf, requireRole, STAFF } from '../roles.ts';
import type { Role } from '../tokens.ts';
import { GuardedErrors, IdParams, LimitQuery, parseLimit } from '../schemas.ts';

const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Text = Type.Object({ 'zh-CN': Type.String(), en: Type.String() });
const StatusSchema = Type.Union(TICKET_STATUSES.map((s) => Type.Literal(s)));
const PrioritySchema = Type.Union(PRIORITIES.map((p) => Type.Literal(p)));
const ConditionSchema = Type.Union(CONDITIONS.map((c) => Type.Literal(c)));

export const TicketView = Type.Object({
  id: Type.String(),
  subject: Type.Union([Type.Literal('device'), Type.Literal('gateway'), Type.Literal('district'), Type.Literal('customer')], { description: 'district: a storm folded into one incident; customer: a person’s 报修 or 投诉, subjectId its own id' }),
  subjectId: Type.String(),
  deviceId: NullableString,
  gatewayId: NullableString,
  kind: NullableString,
  vendor: NullableString,
  district: NullableString,
  address: NullableString,
  customer: NullableString,
  lat: Type.Union([Type.Number(), Type.Null()], { description: 'WGS-84, from the registry when the ticket opened' }),
  lon: Type.Union([Type.Number(), Type.Null()]),
  conditions: Type.Array(ConditionSchema),
  activeConditions: Type.Array(ConditionSchema),
  devices: Type.Array(Type.String()),
  priority: PrioritySchema,
  status: StatusSchema,
  round: Type.Integer(),
  openedAt: DateTime,
  slaStartedAt: DateTime,
  dispatchedAt: NullableDateTime,
  acknowledgedAt: NullableDateTime,
  onSiteAt: NullableDateTime,
  resolvedAt: NullableDateTime,
  followedUpAt: NullableDateTime,
  closedAt: NullableDateTime,
  cancelledAt: NullableDateTime,
  assignee: NullableString,
  slaDueAt: NullableDateTime,
  followUpDueAt: NullableDateTime,
  repeatOf: NullableString,
  deviceNormalAt: NullableDateTime,
  remedyDone: NullableString,
  partsUsed: Type.Unknown(),
  notes: NullableString,
  satisfaction: Type.Union([Type.Literal('satisfied'), Type.Literal('unsatisfied'), Type.Null()]),
  followUpNotes: NullableString,
  manual: Type.Array(Type.Object({ condition: Type.String(), title: Text, cause: Text, remedy: Text, toolCard: Text, parts: Type.Array(Text), source: Type.String() })),
  escalationStep: Type.Integer(),
  escalatedAt: NullableDateTime,
  updatedAt: DateTime,
  origin: Type.Union(TICKET_ORIGINS.map((o) => Type.Literal(o)), { description: 'alert, or opened by a person: report (报修), complaint (投诉)' }),
  contact: Type.Union([Type.Object({ name: Type.String(), phone: Type.String() }), Type.Null()]),
  description: NullableString,
  complaintClass: Type.Union([...COMPLAINT_CLASSES.map((c) => Type.Literal(c)), Type.Null()]),
  complaintKind: Type.Union([...COMPLAINT_KINDS.map((k) => Type.Literal(k)), Type.Null()]),
});

const Comment = Type.Object({ id: Type.String(), at: DateTime, author: Type.String(), body: Type.String() });
const CustomerContact = Type.Object({ id: Type.String(), at: DateTime, actor: Type.String(), channel: Type.String(), message: Type.String() });
const Delivery = Type.Object({
  noticeId: Type.String(),
  kind: Type.String(),
  recipientId: Type.String(),
  channel: Type.String({ description: 'channel instance name; none: nobody could be reached' }),
  status: Type.Union(['pending', 'sent', 'delivered', 'failed', 'not_delivered'].map((s) => Type.Literal(s)), {
    description: 'sent: the channel accepted it; delivered: the provider said it reached the device; not_delivered: nobody there (no open console) or not needed (another channel reached the person)',
  }),
  attempts: Type.Integer(),
  lastError: NullableString,
  queuedAt: DateTime,
  sentAt: NullableDateTime,
  deliveredAt: NullableDateTime,
  readAt: Type.Union([DateTime, Type.Null()], { description: 'the provider’s read receipt, where the channel reports one' }),
  nextAttemptAt: Type.Union([DateTime, Type.Null()], { description: 'while pending: the next retry, or the end of the person’s quiet hours' }),
  waitsFor: Type.Union([Type.String(), Type.Null()], { description: 'while pending: the channel before it in the person’s order' }),
  acknowledgedVia: Type.Union([Type.String(), Type.Null()], { description: 'where this person acknowledged: a channel’s button, link (one-tap screen) or console' }),
});

const TicketDetailView = Type.Composite([
  TicketView,
  Type.Object({
    history: Type.Array(Type.Object({
      id: Type.String(),
      at: DateTime,
      actor: Type.String(),
      action: Type.String(),
      fromStatus: NullableString,
      toStatus: NullableString,
      detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    })),
    alerts: Type.Array(Type.Object({
      alertId: Type.String(),
      condition: ConditionSchema,
      severity: Type.Union(SEVERITIES.map((s) => Type.Literal(s))),
      raisedAt: DateTime,
      clearedAt: NullableDateTime,
      detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    })),
    comments: Type.Array(Comment),
    breaches: Type.Array(Type.Object({ clock: Type.String(), priority: PrioritySchema, dueAt: DateTime, breachedAt: DateTime })),
    escalations: Type.Array(Type.Object({ id: Type.String(), step: Type.Integer(), level: Type.String(), target: NullableString, at: DateTime, reason: Type.String() })),
    customerContacts: Type.Array(CustomerContact),
    deliveries: Type.Array(Delivery, { description: 'the ticket’s pushes per notice, person and channel' }),
  }),
]);

const csvOf = (values: readonly string[]) => Type.String({ pattern: `^(${values.join('|')})(,(${values.join('|')}))*$`, description: `one or more of ${values.join(', ')}, comma-separated` });
const ShortText = Type.String({ maxLength: 100 });

const ListQuery = Type.Object({
  status: Type.Optional(csvOf(TICKET_STATUSES)),
  priority: Type.Optional(csvOf(PRIORITIES)),
  origin: Type.Optional(csvOf(TICKET_ORIGINS)),
  deviceId: Type.Optional(ShortText),
  assignee: Type.Optional(ShortText),
  district: Type.Optional(ShortText),
  order: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('urgency')], { description: 'newest first, or by urgency: priority, then SLA due time; default urgency for a technician, newest otherwise' })),
  limit: Type.Optional(LimitQuery),
}, { additionalProperties: false });

const DispatchBody = Type.Object({ assignee: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });
const ResolveBody = Type.Object({
  remedyDone: Type.String({ minLength: 1, maxLength: 4000, description: 'what was done' }),
  partsUsed: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 200 })),
  notes: Type.Optional(Type.String({ maxLength: 4000 })),
  overrideReason: Type.Optional(Type.String({ minLength: 1, maxLength: 1000, description: 'supervisor or admin only: resolve although a leak (GAS_ALARM_L1/L2, VALVE_NOT_CUT) is still active, and why; recorded in the history' })),
  serviceDone: Type.Optional(Type.Boolean({ description: "the preventive service was done: recorded as the device's lastServiceAt in the registry (implied when the ticket holds MAINTENANCE_DUE)" })),
}, { additionalProperties: false });
const FollowUpBody = Type.Object({ satisfied: Type.Boolean(), notes: Type.Optional(Type.String({ maxLength: 4000 })) }, { additionalProperties: false });
const ReasonBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });
const CommentBody = Type.Object({ body: Type.String({ minLength: 1, maxLength: 4000 }) }, { additionalProperties: false });
const EmptyBody = Type.Union([Type.Object({}, { additionalProperties: false }), Type.Null()]);

/**
 * Service tickets. Staff (admin, supervisor, operator) work every ticket; a technician sees and
 * acts only on tickets assigned to their personId, and another's ticket answers 404 so its id
 * does not leak. Follow-up (回访) is a call-centre task, so technicians may not do it.
 */
export const ticketRoutes: FastifyPluginAsync = async (app) => {
  const tickets = app.services.tickets!;
  const anyone = requireRole(...ANY_ROLE);
  const staff = requireRole(...STAFF);

  /** The ticket when the caller may see it; a technician's view of another's ticket is "not found". */
  async function visible(request: FastifyRequest, id: string): Promise<TicketDetail> {
    const p = principalOf(request);
    const t = await tickets.get(id);
    if (!t || (p.role === 'technician' && (p.personId === undefined || t.assignee !== p.personId))) throw new NotFoundError(`Ticket ${id}`);
    return t;
  }

  app.get<{ Querystring: Static<typeof ListQuery> }>('/tickets', {
    preHandler: anyone,
    schema: { querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(TicketView) }), ...GuardedErrors } },
  }, async (request) => {
    const p = principalOf(request);
    const q = request.query;
    let assignee = q.assignee;
    if (p.role === 'technician') {
      if (p.personId === undefined) throw new ForbiddenError('This technician token names no person (personId), so it has no tickets');
      // Whatever was asked, a technician lists only their own.
      assignee = p.personId;
    }
    const items = await tickets.list({
      ...(q.status ? { status: q.status.split(',') as TicketStatus[] } : {}),
      ...(q.priority ? { priority: q.priority.split(',') as Priority[] } : {}),
      ...(q.origin ? { origin: q.origin.split(',') as TicketOrigin[] } : {}),
      ...(q.deviceId !== undefined ? { deviceId: q.deviceId } : {}),
      ...(assignee !== undefined ? { assignee } : {}),
      ...(q.district !== undefined ? { district: q.district } : {}),
      order: q.order ?? (p.role === 'technician' ? 'urgency' : 'newest'),
      limit: Math.min(parseLimit(q.limit), 1000),
    });
    return { items };
  });

  // 受理/登记: the call centre opens a ticket for a fault phoned in or a complaint; a form sent
  // twice under one requestId answers 200 with the ticket the first one opened.
  app.post<{ Body: Static<typeof PersonTicketBody> }>('/tickets', {
    preHandler: staff,
    schema: { body: PersonTicketBody, response: { 201: TicketView, 200: TicketView, 409: GuardedErrors[400], ...GuardedErrors } },
  }, async (request, reply) => {
    const { ticket, created } = await tickets.openByPerson(request.body, actorOf(request));
    request.log.info({ ticketId: ticket.id, origin: ticket.origin, created, actor: actorOf(request) }, created ? 'Ticket opened by a person' : 'Ticket form sent again: first ticket returned');
    return reply.code(created ? 201 : 200).send(ticket);
  });

  app.get<{ Params: Static<typeof IdParams> }>('/tickets/:id', {
    preHandler: anyone,
    schema: { params: IdParams, response: { 200: TicketDetailView, ...GuardedErrors } },
  }, async (request) => {
    return visible(request, request.params.id);
  });

  /** One lifecycle action: visibility first, then the service checks the transition (409 when illegal). */
  function action<B>(path: string, roles: typeof anyone, body: typeof EmptyBody | typeof DispatchBody | typeof ResolveBody | typeof FollowUpBody | typeof ReasonBody, run: (id: string, body: B, actor: string, role: Role) => Promise<Ticket>): void {
    app.post<{ Params: Static<typeof IdParams>; Body: B }>(`/tickets/:id/${path}`, {
      preHandler: roles,
      schema: { params: IdParams, body, response: { 200: TicketView, 409: GuardedErrors[400], ...GuardedErrors } },
    }, async (request) => {
      await visible(request, request.params.id);
      const ticket = await run(request.params.id, request.body as B, actorOf(request), principalOf(request).role);
      request.log.info({ ticketId: ticket.id, action: path, status: ticket.status, actor: actorOf(request) }, 'Ticket action');
      return ticket;
    });
  }

  action<Static<typeof DispatchBody>>('dispatch', staff, DispatchBody, (id, b, actor) => tickets.dispatch(id, b.assignee, actor));
  action<unknown>('acknowledge', anyone, EmptyBody, (id, _b, actor) => tickets.acknowledge(id, actor));
  action<unknown>('on-site', anyone, EmptyBody, (id, _b, actor) => tickets.arriveOnSite(id, actor));
  action<Static<typeof ResolveBody>>('resolve', anyone, ResolveBody, (id, b, actor, role) => {
    if (b.overrideReason !== undefined && role !== 'supervisor' && role !== 'admin') throw new ForbiddenError('Only a supervisor or an admin may resolve a ticket whose leak is still active (overrideReason)');
    return tickets.resolve(id, b, actor);
  });
  action<Static<typeof FollowUpBody>>('follow-up', staff, FollowUpBody, (id, b, actor) => tickets.followUp(id, b, actor));
  action<Static<typeof ReasonBody>>('cancel', staff, ReasonBody, (id, b, actor) => tickets.cancel(id, b.reason, actor));
  action<Static<typeof ReasonBody>>('reopen', staff, ReasonBody, (id, b, actor) => tickets.reopen(id, b.reason, actor));

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof CommentBody> }>('/tickets/:id/comments', {
    preHandler: anyone,
    schema: { params: IdParams, body: CommentBody, response: { 201: Comment, ...GuardedErrors } },
  }, async (request, reply) => {
    await visible(request, request.params.id);
    return reply.code(201).send(await tickets.comment(request.params.id, request.body.body, actorOf(request)));
  });

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof CustomerContactBody> }>('/tickets/:id/customer-contacts', {
    preHandler: anyone,
    schema: { params: IdParams, body: CustomerContactBody, response: { 201: CustomerContact, ...GuardedErrors } },
  }, async (request, reply) => {
    await visible(request, request.params.id);
    return reply.code(201).send(await tickets.recordCustomerContact(request.params.id, request.body, actorOf(request)));
  });
};
