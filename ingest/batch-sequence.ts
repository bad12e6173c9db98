/** What one batch's `seq` says about the gateway's stream. */
export type SeqVerdict = 'new' | 'duplicate';

export interface SeqOutcome {
  verdict: SeqVerdict;
  /** Batches skipped between the previous highest seq and this one: lost on the way. */
  missing: number;
  /** The gateway restarted its counter (seq fell far below what it had sent). */
  restarted: boolean;
}

const WINDOW = 64;

/**
 * Drops repeated batches by `(gatewayId, seq)` and counts gaps. Keeps, per gateway, the highest
 * seq and a 64-bit window of the ones just below it, so a QoS 1 redelivery that arrives after
 * newer batches is still recognised, while a batch filling a gap is accepted. A batch with a low
 * seq but sent after the newest batch seen is a gateway that restarted its counter, not a repeat:
 * a redelivery carries its original `sentAt`; so is one whose seq starts low again whatever its
 * clock says. One further back than the window otherwise is a replay, dropped like any repeat.
 */
export class BatchSequence {
  readonly #gateways = new Map<string, { highest: number; seen: bigint; newestSentAtMs: number }>();

  observe(gatewayId: string, seq: number, sentAtMs: number): SeqOutcome {
    const g = this.#gateways.get(gatewayId);
    if (!g) {
      this.#gateways.set(gatewayId, { highest: seq, seen: 1n, newestSentAtMs: sentAtMs });
      return { verdict: 'new', missing: 0, restarted: false };
    }
    if (seq > g.highest) {
      const step = seq - g.highest;
      g.seen = step >= WINDOW ? 1n : ((g.seen << BigInt(step)) | 1n) & ((1n << BigInt(WINDOW)) - 1n);
      g.highest = seq;
      if (sentAtMs > g.newestSentAtMs) g.newestSentAtMs = sentAtMs;
      return { verdict: 'new', missing: step - 1, restarted: false };
    }
    const back = g.highest - seq;
    if (!(sentAtMs > g.newestSentAtMs)) {
      if (back < WINDOW) {
        const bit = 1n << BigInt(back);
        if (g.seen & bit) return { verdict: 'duplicate', missing: 0, restarted: false };
        g.seen |= bit;
        return { verdict: 'new', missing: 0, restarted: false };
      }
      // Far behind, not sent later, and not a counter begun again (a restart's clock may be wrong,
      // its seq starts low): a replay of an old batch. A broker session redelivers in order, so
      // it is no late first delivery.
      if (seq >= WINDOW) return { verdict: 'duplicate', missing: 0, restarted: false };
    }
    // A seq far behind that was sent later than anything seen, or starts low again: the gateway
    // counts from the start again.
    this.#gateways.set(gatewayId, { highest: seq, seen: 1n, newestSentAtMs: sentAtMs });
    return { verdict: 'new', missing: 0, restarted: true };
  }

  get gatewayCount(): number {
    return this.#gateways.size;
  }
}
