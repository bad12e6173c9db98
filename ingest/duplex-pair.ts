import { Duplex } from 'node:stream';

/** One end of an in-memory byte pipe: what is written here is read at the other end. */
class End extends Duplex {
  peer!: End;
  /** A write waiting for the peer's reader to ask for more (back-pressure). */
  #pending?: (error?: Error | null) => void;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.peer.destroyed) return callback(new Error('in-memory stream closed'));
    if (this.peer.push(chunk)) callback();
    else this.#pending = callback;
  }

  override _read(): void {
    const pending = this.peer.#pending;
    this.peer.#pending = undefined;
    pending?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.(error ?? new Error('in-memory stream closed'));
    if (!this.peer.destroyed) this.peer.destroy();
    callback(error);
  }
}

/**
 * Two connected duplex streams, like the two sides of a socket (Node 20 has no `stream.duplexPair`):
 * the in-process ingest client talks to the embedded broker through one without a network hop.
 */
export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
