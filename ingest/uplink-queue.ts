/** A message waiting for ingest. */
export interface WaitingUplink {
  topic: string;
  payload: Buffer;
}

/** Compact the ordinary queue once this many taken slots sit before its head. */
const COMPACT_AFTER = 1024;

/**
 * The messages waiting for ingest, in two lanes: messages that may raise a gas alarm go first, in
 * their order; the rest keep theirs. An urgent message overtakes other topics only: earlier
 * messages on its own topic (its gateway's earlier batches) join the urgent lane ahead of it, so a
 * gateway's batches still reach ingest in the order it sent them.
 */
export class UplinkQueue<M extends WaitingUplink = WaitingUplink> {
  #urgent: M[] = [];
  #urgentHead = 0;
  /** Ordinary messages; a slot emptied by a move to the urgent lane holds `undefined`. */
  #ordinary: Array<M | undefined> = [];
  #ordinaryHead = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** A message waits in the urgent lane. */
  get urgentWaiting(): boolean {
    return this.#urgentHead < this.#urgent.length;
  }

  push(message: M): void {
    this.#ordinary.push(message);
    this.#length++;
  }

  /** Queues `message` in the urgent lane; returns how many waiting messages of other topics it overtook. */
  pushUrgent(message: M): number {
    let overtaken = 0;
    const ordinary = this.#ordinary;
    for (let i = this.#ordinaryHead; i < ordinary.length; i++) {
      const waiting = ordinary[i];
      if (!waiting) continue;
      if (waiting.topic === message.topic) {
        this.#urgent.push(waiting);
        ordinary[i] = undefined;
      } else {
        overtaken++;
      }
    }
    this.#urgent.push(message);
    this.#length++;
    return overtaken;
  }

  shift(): M | undefined {
    if (this.#urgentHead < this.#urgent.length) {
      const next = this.#urgent[this.#urgentHead++]!;
      if (this.#urgentHead === this.#urgent.length) {
        this.#urgent = [];
        this.#urgentHead = 0;
      }
      this.#length--;
      return next;
    }
    const ordinary = this.#ordinary;
    while (this.#ordinaryHead < ordinary.length) {
      const next = ordinary[this.#ordinaryHead];
      ordinary[this.#ordinaryHead++] = undefined;
      if (!next) continue;
      this.#length--;
      if (this.#ordinaryHead === ordinary.length) {
        this.#ordinary = [];
        this.#ordinaryHead = 0;
      } else if (this.#ordinaryHead >= COMPACT_AFTER) {
        this.#ordinary = ordinary.slice(this.#ordinaryHead);
        this.#ordinaryHead = 0;
      }
      return next;
    }
    return undefined;
  }

  /** Puts a message back at the very front (ingest failed on it and tries it again). */
  unshift(message: M): void {
    if (this.#urgentHead > 0) this.#urgent[--this.#urgentHead] = message;
    else this.#urgent.unshift(message);
    this.#length++;
  }
}
