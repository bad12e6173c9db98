import { Type, type Static } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { AlertBook, SequencedAlertChange } from '../../alert-book.ts';
import { ANY_ROLE, principalOf, requireRole } from '../roles.ts';
import { ErrorResponse, GuardedErrors } from '../schemas.ts';
import { StreamSlots, streamHolder } from '../stream-slots.ts';
import { alertItem } from './alerts.ts';
import { everyFifteenSeconds, lastEventIdOf, openEventStream, resetFrame, type EventStream, type EventStreamLimits, type HeartbeatTimer } from '../event-stream.ts';

const AlertStreamQuery = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 200, description: 'for EventSource, which cannot send Authorization' })),
  lastEventId: Type.Optional(Type.String({ maxLength: 100, description: 'as the Last-Event-ID header, for clients that cannot set it' })),
}, { additionalProperties: false });

const AlertStreamResponse = Type.String({
  description:
    'text/event-stream: `id: <change sequence>`, `event: alert.raised|alert.cleared`, `data: <alert as in GET /alerts>`; ' +
    '`event: alert.seen` (no id: a mark, not a change; GET /alerts shows it after a reconnect) when an operator acknowledged an alarm; ' +
    '`event: reset` when the changes after Last-Event-ID are no longer kept (reload GET /alerts); ' +
    '`event: close` with `{"reason","lastEventId"}` before the server ends the stream; `: heartbeat` comments',
});

const Me = Type.Object({
  name: Type.String(),
  role: Type.Union(ANY_ROLE.map((r) => Type.Literal(r))),
  personId: Type.Union([Type.String(), Type.Null()]),
});

export interface AlertStreamOptions {
  heartbeat?: HeartbeatTimer | undefined;
  limits?: Partial<EventStreamLimits> | undefined;
  /**
   * Changes a client may fall behind, while its socket is full, before it is closed as `slow_client`;
   * below the alert book's change log (20000), so its reconnect replays them.
   * @defaultValue 10000
   */
  maxBacklogEvents?: number | undefined;
  /** Bounds open streams per token and per address, shared with the other stream routes; defaults when omitted. */
  slots?: StreamSlots | undefined;
}

const DEFAULT_MAX_BACKLOG_EVENTS = 10_000;
/** Changes read from the book per step of a catching-up client. */
const PUMP_BATCH = 256;
/** Frames kept ready-made, so clients at the same place share one JSON.stringify. */
const FRAME_CACHE = 4096;

/** Why a reconnect starts with `event: reset` rather than the missed changes. */
type ResetReason = 'unknown_id' | 'not_retained';

/**
 * One console's stream: a cursor into the alert book's change log. It is written while its socket
 * takes more and waits for `drain` otherwise; what it has not been sent stays in the book, so a
 * slow client holds no queue here and a busy server cuts nobody off.
 */
class AlertStreamClient {
  #waiting = false;

  constructor(
    readonly stream: EventStream,
    public cursor: number,
    private readonly book: AlertBook,
    private readonly frameOf: (c: SequencedAlertChange) => string,
    private readonly maxBacklog: number,
  ) {}

  pump(): void {
    if (this.stream.ended) return;
    if (this.#waiting) {
      this.#closeIfTooFarBehind();
      return;
    }
    while (this.cursor < this.book.lastChangeSeq) {
      if (!this.stream.ready) {
        if (this.#closeIfTooFarBehind()) return;
        this.#waiting = true;
        void this.stream.whenReady().then(() => {
          this.#waiting = false;
          this.pump();
        });
        return;
      }
      const batch = this.book.changesSince(this.cursor, PUMP_BATCH);
      if (!batch || batch.length === 0) {
        // Only when the change log moved past the cursor: the backlog bound is meant to come first.
        this.stream.close('slow_client', String(this.cursor), { backlogEvents: this.book.lastChangeSeq - this.cursor });
        return;
      }
      for (const change of batch) {
        if (!this.stream.ready) break;
        this.stream.write(this.frameOf(change));
        this.cursor = change.seq;
      }
    }
  }

  #closeIfTooFarBehind(): boolean {
    const backlog = this.book.lastChangeSeq - this.cursor;
    if (backlog <= this.maxBacklog) return false;
    this.stream.close('slow_client', String(this.cursor), { backlogEvents: backlog });
    return true;
  }
}

/**
 * What the web console needs beyond the ticket API: who the token is (`/me`, so the console picks
 * the operator or the technician view) and every alert raise and clear as it happens
 * (`/stream/alerts`). The person streams (`/stream`) carry ticket notices to their recipients
 * only, and an operator's token names no person, so the control room needs this one.
 *
 * Event ids are the alert book's change sequence, kept across restarts: a reconnect with
 * Last-Event-ID (header or `?lastEventId=`) gets every change after it from the book's change log,
 * or `event: reset` when they are no longer kept. The console still reads `GET /alerts` on every
 * open, so a reset needs nothing more from it.
 */
export const alertStreamRoutes: FastifyPluginAsync<AlertStreamOptions> = async (app, opts) => {
  const heartbeat = opts.heartbeat ?? everyFifteenSeconds;
  const maxBacklog = opts.maxBacklogEvents ?? DEFAULT_MAX_BACKLOG_EVENTS;
  const slots = opts.slots ?? new StreamSlots();
  const book = app.services.alerts;
  const clients = new Set<AlertStreamClient>();
  const frames = new Map<number, string>();
  let closed = false;

  const frameOf = (change: SequencedAlertChange): string => {
    let frame = frames.get(change.seq);
    if (frame === undefined) {
      frame = `id: ${change.seq}\nevent: alert.${change.type}\ndata: ${JSON.stringify(alertItem(change.alert, app.services.registry, app.services.map))}\n\n`;
      frames.set(change.seq, frame);
      if (frames.size > FRAME_CACHE) frames.delete(frames.keys().next().value!);
    }
    return frame;
  };

  // AlertBook has no way to remove a listener: after close this one only returns.
  book.onChange(() => {
    if (closed) return;
    for (const client of clients) client.pump();
  });
  // An operator's acknowledge goes to every desk at once; one whose socket is full reads it on its next GET /alerts.
  book.onSeen((alert) => {
    if (closed) return;
    const frame = `event: alert.seen\ndata: ${JSON.stringify(alertItem(alert, app.services.registry, app.services.map))}\n\n`;
    for (const client of clients) if (client.stream.ready && !client.stream.ended) client.stream.write(frame);
  });
  // Hijacked replies are not closed by fastify: end them before the server waits for its connections (preClose).
  app.addHook('preClose', async () => {
    closed = true;
    for (const client of [...clients]) client.stream.close('shutdown', String(client.cursor));
    clients.clear();
  });

  app.get('/me', {
    preHandler: requireRole(...ANY_ROLE),
    schema: { response: { 200: Me, ...GuardedErrors } },
  }, async (request) => {
    const p = principalOf(request);
    return { name: p.name, role: p.role, personId: p.personId ?? null };
  });

  app.get<{ Querystring: Static<typeof AlertStreamQuery> }>('/stream/alerts', {
    preHandler: requireRole(...ANY_ROLE),
    config: { queryToken: true },
    schema: { querystring: AlertStreamQuery, response: { 200: AlertStreamResponse, ...GuardedErrors, 429: ErrorResponse } },
  }, async (request, reply) => {
    const release = slots.acquire(streamHolder(principalOf(request)), request.ip);
    const lastEventId = lastEventIdOf(request);
    const latest = book.lastChangeSeq;
    let cursor = latest;
    let reset: ResetReason | undefined;
    if (lastEventId !== undefined) {
      const n = /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : Number.NaN;
      if (!Number.isSafeInteger(n) || n > latest) reset = 'unknown_id';
      else if (book.changesSince(n, 0) === undefined) reset = 'not_retained';
      else cursor = n;
    }
    const stream = openEventStream(request, reply, opts.limits);
    // A fresh client learns where it stands, so even its first reconnect resumes without a gap.
    if (reset) stream.write(resetFrame(reset, String(latest)));
    else if (lastEventId === undefined) stream.write(`id: ${latest}\n\n`);
    const client = new AlertStreamClient(stream, cursor, book, frameOf, maxBacklog);
    clients.add(client);
    const stopBeat = heartbeat(() => stream.heartbeat());
    stream.onEnd(() => {
      stopBeat();
      release();
      clients.delete(client);
      request.log.info({ lastEventId: String(client.cursor) }, 'Alert stream ended');
    });
    request.log.info({ lastEventId, reset, replay: latest - cursor }, 'Alert stream opened');
    client.pump();
    return reply;
  });
};
