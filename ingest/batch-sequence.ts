/** What one batch's `seq` says about the gateway's stream. */
export type SeqVerdict = 'new' | 'duplicate';

export interface SeqOutcome {
  verdict: SeqVerdict;
  /** Batches skipped between the previous highest seq and this one: lost on the way. */
  missing: number;
  /** The gateway restarted its counter (seq fell far below what it had sent). */
  restarted: boolean;
  /** A seq too far ahead to be believed: judged, but it moved nothing (see `maxJump`). */
  outlier?: boolean;
}

const WINDOW = 64;

/** How far ahead of the highest seq a batch may jump and still be believed. @defaultValue 100 000 */
export const DEFAULT_MAX_SEQ_JUMP = 100_000;

interface GatewaySeq {
  highest: number;
  seen: bigint;
  newestSentAtMs: number;
  /** The last seq that jumped too far: a second one right after it means the counter really moved. */
  jump?: { seq: number; sentAtMs: number };
}

/**
 * Drops repeated batches by `(gatewayId, seq)` and counts gaps. Keeps, per gateway, the highest
 * seq and a 64-bit window of the ones just below it, so a QoS 1 redelivery that arrives after
 * newer batches is still recognised, while a batch filling a gap is accepted.
 * - A seq already seen is a repeat, whatever its `sentAt` says (a gateway may stamp a resend anew),
 *   unless it is nearer to zero than to the highest seq and was sent after everything seen: a
 *   counter begun again.
 * - A seq further back than the window is a gateway that restarted its counter when it was sent
 *   later than anything seen or starts low; otherwise it is a replay of an old batch, dropped.
 * - A seq more than `maxJump` ahead of the highest is not believed: its readings are judged (they
 *   passed the edge) but it does not become the high-water mark, so one bad batch (seq 2^53−1) can
 *   never make every later batch of its gateway look like a repeat. A second batch just after it
 *   shows the counter really moved, and is taken as a restart there.
 */
export class BatchSequence {
  readonly #gateways = new Map<string, GatewaySeq>();
  readonly #maxJump: number;

  constructor(options: { maxJump?: number } = {}) {
    this.#maxJump = options.maxJump ?? DEFAULT_MAX_SEQ_JUMP;
  }

  observe(gatewayId: string, seq: number, sentAtMs: number): SeqOutcome {
    const g = this.#gateways.get(gatewayId);
    if (!g) {
      this.#gateways.set(gatewayId, { highest: seq, seen: 1n, newestSentAtMs: sentAtMs });
      return { verdict: 'new', missing: 0, restarted: false };
    }
    if (seq > g.highest) {
      const step = seq - g.highest;
      if (step > this.#maxJump) return this.#jumped(gatewayId, g, seq, sentAtMs);
      g.seen = step >= WINDOW ? 1n : ((g.seen << BigInt(step)) | 1n) & ((1n << BigInt(WINDOW)) - 1n);
      g.highest = seq;
      g.jump = undefined;
      if (sentAtMs > g.newestSentAtMs) g.newestSentAtMs = sentAtMs;
      return { verdict: 'new', missing: step - 1, restarted: false };
    }
    const back = g.highest - seq;
    const sentLater = sentAtMs > g.newestSentAtMs;
    if (back < WINDOW) {
      // Nearer to zero than to the highest seq, and sent after everything: the counter began again.
      if (seq < back && sentLater) return this.#restart(gatewayId, seq, sentAtMs);
      const bit = 1n << BigInt(back);
      if (g.seen & bit) return { verdict: 'duplicate', missing: 0, restarted: false };
      g.seen |= bit;
      if (sentLater) g.newestSentAtMs = sentAtMs;
      return { verdict: 'new', missing: 0, restarted: false };
    }
    // Far behind, not sent later, and not a counter begun again (a restart's clock may be wrong,
    // its seq starts low): a replay of an old batch. A broker session redelivers in order, so it
    // is no late first delivery.
    if (!sentLater && seq >= WINDOW) return { verdict: 'duplicate', missing: 0, restarted: false };
    return this.#restart(gatewayId, seq, sentAtMs);
  }

  #restart(gatewayId: string, seq: number, sentAtMs: number): SeqOutcome {
    this.#gateways.set(gatewayId, { highest: seq, seen: 1n, newestSentAtMs: sentAtMs });
    return { verdict: 'new', missing: 0, restarted: true };
  }

  #jumped(gatewayId: string, g: GatewaySeq, seq: number, sentAtMs: number): SeqOutcome {
    const prior = g.jump;
    if (prior && seq === prior.seq) return { verdict: 'duplicate', missing: 0, restarted: false, outlier: true };
    if (prior && seq > prior.seq && seq - prior.seq <= this.#maxJump) {
      // Two in a row up there: the gateway's counter did move. Keep the first one's place too.
      const step = seq - prior.seq;
      this.#gateways.set(gatewayId, { highest: seq, seen: step < WINDOW ? (1n << BigInt(step)) | 1n : 1n, newestSentAtMs: Math.max(sentAtMs, prior.sentAtMs) });
      return { verdict: 'new', missing: 0, restarted: true };
    }
    g.jump = { seq, sentAtMs };
    return { verdict: 'new', missing: 0, restarted: false, outlier: true };
  }

  get gatewayCount(): number {
    return this.#gateways.size;
  }
}
