import { Type, type Static } from '@sinclair/typebox';
import { TooManyStreamsError } from './errors.ts';
import type { Principal } from './tokens.ts';

/** How many live streams (SSE) may be open at once; settings file `api.streams`. */
export const StreamLimitsSchema = Type.Object({
  maxPerToken: Type.Integer({ default: 10, minimum: 1, description: 'live streams one token holder (person, or token name) may hold open at once; one more answers 429' }),
  maxPerAddress: Type.Integer({ default: 20, minimum: 1, description: 'live streams one client address may hold open at once; one more answers 429' }),
});
export type StreamLimits = Static<typeof StreamLimitsSchema>;

export const DEFAULT_STREAM_LIMITS = { maxPerToken: 10, maxPerAddress: 20 } satisfies StreamLimits;

function take(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function give(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** Whose slots a stream takes: the person a token acts as, else the token's name and role. */
export function streamHolder(p: Principal): string {
  return p.personId !== undefined ? `person:${p.personId}` : `${p.role}:${p.name}`;
}

/**
 * Slots for live streams, shared by every stream route of one server: a stream holds one slot of
 * its token holder and one of its client address from open to close, so neither a leaked token
 * nor one address can hold the server's sockets and heartbeats without bound.
 */
export class StreamSlots {
  readonly #limits: StreamLimits;
  readonly #byHolder = new Map<string, number>();
  readonly #byAddress = new Map<string, number>();

  constructor(limits: Partial<StreamLimits> = {}) {
    this.#limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
  }

  /** Takes a slot, or throws TooManyStreamsError (429); the returned release may be called more than once. */
  acquire(holder: string, address: string): () => void {
    const { maxPerToken, maxPerAddress } = this.#limits;
    if ((this.#byHolder.get(holder) ?? 0) >= maxPerToken) {
      throw new TooManyStreamsError(`This token already holds ${maxPerToken} live streams, the most it may: close one first`);
    }
    if ((this.#byAddress.get(address) ?? 0) >= maxPerAddress) {
      throw new TooManyStreamsError(`This address already holds ${maxPerAddress} live streams, the most it may: close one first`);
    }
    take(this.#byHolder, holder);
    take(this.#byAddress, address);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      give(this.#byHolder, holder);
      give(this.#byAddress, address);
    };
  }
}
