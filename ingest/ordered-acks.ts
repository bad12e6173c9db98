/** One MQTT message in flight through ingest. */
export interface InFlightMessage {
  /** The QoS 1 message id its PUBACK carries; undefined for QoS 0 (nothing to acknowledge). */
  readonly messageId: number | undefined;
  /** Handled: everything it carried is on the bus. */
  done: boolean;
  /** Sends its PUBACK; set once the client has asked to send it. */
  sendAck?: () => void;
  readonly generation: number;
}

/**
 * Lets ingest work on up to `maxInFlight` MQTT messages at once and still acknowledge each only
 * once what it carried is on the bus, in the order the messages came (MQTT 3.1.1 §4.6: PUBACKs
 * in the order of the PUBLISHes). A message that failed holds every later acknowledgement back:
 * the caller reconnects and the broker sends all of them again.
 */
export class OrderedAcks {
  readonly #queue: InFlightMessage[] = [];
  /** Index of the oldest message not yet acknowledged. */
  #head = 0;
  /**
   * The newest message, while it waits for room: the client takes no further packet, nor asks to
   * send this one's PUBACK, until `takeNext` is called.
   */
  #waiting: { message: InFlightMessage; takeNext: () => void } | undefined;
  #generation = 0;
  #broken = false;

  constructor(readonly maxInFlight: number) {
    if (!(maxInFlight >= 1)) throw new RangeError(`maxInFlight must be at least 1, not ${maxInFlight}`);
  }

  /** Messages taken and not yet acknowledged. */
  get inFlight(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * A message arrived. `takeNext` (the client's go-ahead, which also asks to send this message's
   * PUBACK) is called now if another message may start, else once one may or this one is done.
   */
  begin(messageId: number | undefined, takeNext: () => void): InFlightMessage {
    const message: InFlightMessage = { messageId, done: false, generation: this.#generation };
    this.#queue.push(message);
    if (this.inFlight < this.maxInFlight) takeNext();
    else this.#waiting = { message, takeNext };
    return message;
  }

  /**
   * The client wants to send the PUBACK of `messageId`: held until its message and every earlier
   * one are done. False when no message in flight has that id (the caller sends it as it is).
   */
  holdAck(messageId: number, send: () => void): boolean {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const message = this.#queue[i]!;
      if (message.messageId === messageId && message.sendAck === undefined) {
        message.sendAck = send;
        this.#flush();
        return true;
      }
    }
    return false;
  }

  /** Everything the message carried is on the bus. */
  settle(message: InFlightMessage): void {
    if (message.generation !== this.#generation) return;
    message.done = true;
    this.#flush();
  }

  /** The message came on the current connection, and nothing on it failed since. */
  isCurrent(message: InFlightMessage): boolean {
    return message.generation === this.#generation && !this.#broken;
  }

  /** The message could not be handled: no acknowledgement goes out any more until `reset`. */
  fail(message: InFlightMessage): void {
    if (message.generation === this.#generation) this.#broken = true;
  }

  #release(): void {
    const waiting = this.#waiting!;
    this.#waiting = undefined;
    waiting.takeNext();
  }

  /** The connection closed: what was in flight is redelivered by the broker; late results of it are ignored. */
  reset(): void {
    this.#generation++;
    this.#queue.length = 0;
    this.#head = 0;
    this.#waiting = undefined;
    this.#broken = false;
  }

  #flush(): void {
    while (!this.#broken && this.#head < this.#queue.length) {
      const message = this.#queue[this.#head]!;
      if (!message.done) break;
      if (message.messageId !== undefined && message.sendAck === undefined) {
        // Done, but its PUBACK not asked for yet because it waits for room: that ends the wait
        // (holdAck, called back from the client, flushes on).
        if (this.#waiting?.message === message) this.#release();
        break;
      }
      this.#head++;
      message.sendAck?.();
      if (this.#waiting !== undefined && (this.inFlight < this.maxInFlight || this.#waiting.message.done)) this.#release();
    }
    // Compacts now and then, not per message.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
