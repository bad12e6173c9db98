import type { Notice } from '../../tickets/notice.ts';

/** One event on a technician's live stream, in the shape of an SSE frame. */
export interface SseEvent {
  /** `<hub start ms>-<sequence>`: ids from an earlier process run are unknown, so the whole buffer replays. */
  id: string;
  event: Notice['kind'];
  data: string;
  noticeId: string;
}

export type SseListener = (event: SseEvent) => void;

/** An open stream: an async iterator of events that ends on `close()`. */
export interface SseSubscription extends AsyncIterableIterator<SseEvent> {
  close(): void;
}

/** The text of one SSE frame (`id`, `event`, `data` lines, blank line). */
export function formatSseFrame(e: SseEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\n${e.data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`;
}

/**
 * Per-person live streams. Publishing reaches every open stream of that person; the last
 * `bufferSize` events per person are kept so a reconnecting app replays what it missed
 * (Last-Event-ID). In memory: after a restart the app fetches open tickets from the API.
 */
export class SseHub {
  readonly #bufferSize: number;
  readonly #epoch: number;
  #seq = 0;
  readonly #listeners = new Map<string, Set<SseListener>>();
  readonly #buffers = new Map<string, SseEvent[]>();
  /** close() of every open subscription, so the hub can end them all. */
  readonly #subs = new Set<() => void>();

  constructor(options: { bufferSize?: number; startedAtMs?: number } = {}) {
    this.#bufferSize = options.bufferSize ?? 50;
    this.#epoch = options.startedAtMs ?? Date.now();
  }

  /** Buffers the event and hands it to open streams; returns how many streams it reached. */
  publish(personId: string, notice: Notice): { event: SseEvent; listeners: number } {
    const event: SseEvent = { id: `${this.#epoch}-${++this.#seq}`, event: notice.kind, data: JSON.stringify(notice), noticeId: notice.id };
    const buffer = this.#buffers.get(personId) ?? [];
    buffer.push(event);
    if (buffer.length > this.#bufferSize) buffer.splice(0, buffer.length - this.#bufferSize);
    this.#buffers.set(personId, buffer);
    const listeners = [...(this.#listeners.get(personId) ?? [])];
    for (const l of listeners) l(event);
    return { event, listeners: listeners.length };
  }

  /** Buffered events after `lastEventId`; all of them when the id is absent or no longer buffered. */
  missedSince(personId: string, lastEventId?: string): SseEvent[] {
    const buffer = this.#buffers.get(personId) ?? [];
    if (lastEventId === undefined) return [];
    const i = buffer.findIndex((e) => e.id === lastEventId);
    return i === -1 ? [...buffer] : buffer.slice(i + 1);
  }

  /** Registers a listener; replays missed events first when `lastEventId` is given. Returns unsubscribe. */
  listen(personId: string, listener: SseListener, lastEventId?: string): () => void {
    for (const e of this.missedSince(personId, lastEventId)) listener(e);
    const set = this.#listeners.get(personId) ?? new Set();
    set.add(listener);
    this.#listeners.set(personId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(personId) === set) this.#listeners.delete(personId);
    };
  }

  /** An async iterator over a person's events (missed ones first), for the fastify SSE route. */
  subscribe(personId: string, options: { lastEventId?: string } = {}): SseSubscription {
    const queue: SseEvent[] = [];
    let wake: ((r: IteratorResult<SseEvent>) => void) | undefined;
    let closed = false;
    const unsubscribe = this.listen(
      personId,
      (e) => {
        if (wake) {
          const w = wake;
          wake = undefined;
          w({ value: e, done: false });
        } else queue.push(e);
      },
      options.lastEventId,
    );
    const close = () => {
      if (closed) return;
      closed = true;
      this.#subs.delete(close);
      unsubscribe();
      wake?.({ value: undefined, done: true });
      wake = undefined;
    };
    const sub: SseSubscription = {
      next: () => {
        if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
        if (closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (wake = resolve));
      },
      return: () => {
        close();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => sub,
      close,
    };
    this.#subs.add(close);
    return sub;
  }

  listenerCount(personId: string): number {
    return this.#listeners.get(personId)?.size ?? 0;
  }

  /** Ends every open stream. */
  close(): void {
    for (const c of [...this.#subs]) c();
    this.#subs.clear();
    this.#listeners.clear();
  }
}
