import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

/** Starts one stream's heartbeat; returns its stop. Injected so tests beat by hand. */
export type HeartbeatTimer = (beat: () => void) => () => void;

const HEARTBEAT_MS = 15_000;

/** A comment line every 15 s keeps proxies and phones from dropping an idle stream. */
export const everyFifteenSeconds: HeartbeatTimer = (beat) => {
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
};

/** How much one client may hold up. Nothing here is a timer on the stream itself: a stalled server drops nobody. */
export interface EventStreamLimits {
  /**
   * Bytes written to one client and not yet taken by its socket, past which the stream stops
   * writing until the socket drains; the events wait in the replay log meanwhile, not in memory here.
   * @defaultValue 262144
   */
  maxBufferedBytes: number;
  /**
   * After a `slow_client` close, how long the client has to read its last frames before its socket
   * is destroyed. Runs only once the server decided to close the stream.
   * @defaultValue 30000
   */
  closeGraceMs: number;
}

export const DEFAULT_STREAM_LIMITS = { maxBufferedBytes: 256 * 1024, closeGraceMs: 30_000 } satisfies EventStreamLimits;

/** Why the server ended a stream, sent in the final `event: close` frame. */
export type StreamCloseReason = 'slow_client' | 'shutdown';

/**
 * One client's Server-Sent Events stream over a hijacked fastify reply. Writes never throw and
 * never block: `ready` says whether the socket takes more now, `whenReady()` waits for it to drain.
 * The server ends a stream only by `close(reason)`: a final `event: close` frame naming the reason
 * and the last id sent, so the client reconnects with it as Last-Event-ID.
 */
export class EventStream {
  readonly res: ServerResponse;
  readonly #limits: EventStreamLimits;
  readonly #log: FastifyBaseLogger;
  #ended = false;
  #waiters: Array<() => void> = [];
  readonly #onEnd: Array<() => void> = [];

  constructor(request: FastifyRequest, reply: FastifyReply, limits: Partial<EventStreamLimits> = {}) {
    this.#limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
    this.#log = request.log;
    reply.hijack();
    const res = reply.raw;
    this.res = res;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id),
    });
    const wakeAll = () => {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    };
    res.on('drain', wakeAll);
    // The response's close is the connection's end; the request's may come as soon as its body is read.
    res.on('close', () => {
      this.#finish();
      wakeAll();
    });
    res.on('error', (err) => {
      this.#log.debug({ err }, 'Event stream socket error');
      this.#finish();
      wakeAll();
    });
    this.write(': connected\n\n');
    // A client gone while the request was authenticated: its 'close' came before the listener above,
    // and without this the stream (and its slot, see stream-slots.ts) would never end.
    if (res.destroyed || res.socket?.destroyed) this.#finish();
  }

  /** Whether the stream is open and its socket takes more without queueing past the bound. */
  get ready(): boolean {
    return !this.#ended && this.res.writableLength < this.#limits.maxBufferedBytes;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes queued for the socket: at most `maxBufferedBytes` plus one frame, as writers check `ready` first. */
  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  /** Writes text to the client unless the stream has ended; never throws. */
  write(text: string): void {
    if (this.#ended || this.res.writableEnded || this.res.destroyed) return;
    try {
      this.res.write(text);
    } catch (err) {
      this.#log.warn({ err }, 'Event stream write failed');
      this.#finish();
      this.res.destroy();
    }
  }

  /** A comment line; skipped while the socket is still busy with earlier frames (the connection is not idle then). */
  heartbeat(): void {
    if (this.ready) this.write(': heartbeat\n\n');
  }

  /** Resolves once the socket drained, or the stream ended. */
  whenReady(): Promise<void> {
    if (this.ready || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Runs once when the stream ends, whoever ended it. */
  onEnd(listener: () => void): void {
    if (this.#ended) listener();
    else this.#onEnd.push(listener);
  }

  /**
   * Ends the stream from the server side: `event: close` with the reason and the last id the client
   * will have received, logged with the same. A client that does not read even that is cut off after
   * `closeGraceMs` (at once on shutdown, so the server's close does not wait for it).
   */
  close(reason: StreamCloseReason, lastEventId: string, fields: Record<string, unknown> = {}): void {
    if (this.#ended) return;
    const bufferedBytes = this.res.writableLength;
    this.write(`event: close\ndata: ${JSON.stringify({ reason, lastEventId })}\n\n`);
    this.#finish();
    const log = { reason, lastEventId, bufferedBytes, ...fields };
    if (reason === 'slow_client') this.#log.warn(log, 'Event stream closed: client too slow, it reconnects with Last-Event-ID');
    else this.#log.info(log, 'Event stream closed');
    // The client reconnects on a new connection: this one closes once the last frame is out.
    const socket = this.res.socket;
    this.res.end(() => socket?.end());
    if (this.res.writableLength === 0) return;
    if (reason === 'shutdown') {
      this.res.destroy();
      return;
    }
    const timer = setTimeout(() => this.res.destroy(), this.#limits.closeGraceMs);
    timer.unref();
    this.res.once('close', () => clearTimeout(timer));
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const l of this.#onEnd.splice(0)) l();
  }
}

/**
 * Takes the response over from fastify and opens a Server-Sent Events stream on it: no caching,
 * no proxy buffering, the request id echoed. The caller writes frames and watches `onEnd`.
 */
export function openEventStream(request: FastifyRequest, reply: FastifyReply, limits: Partial<EventStreamLimits> = {}): EventStream {
  return new EventStream(request, reply, limits);
}

/** The id a reconnecting client resumes after: the Last-Event-ID header, else `?lastEventId=` (EventSource cannot set headers). */
export function lastEventIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['last-event-id'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  if (fromHeader !== undefined && fromHeader !== '') return fromHeader;
  const q = request.query as { lastEventId?: unknown } | undefined;
  return typeof q?.lastEventId === 'string' && q.lastEventId !== '' ? q.lastEventId : undefined;
}

/** The frame telling a reconnecting client its replay is incomplete: reload, then carry on from `lastEventId`. */
export function resetFrame(reason: string, lastEventId: string): string {
  return `id: ${lastEventId}\nevent: reset\ndata: ${JSON.stringify({ reason, lastEventId })}\n\n`;
}
