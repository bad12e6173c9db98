/** Options of a FailureLimiter; callers document what counts as a failure. */
export interface FailureLimitOptions {
  /**
   * Failures one client address may have per window before it is refused outright until the
   * window ends.
   * @defaultValue 20
   */
  maxFailures?: number;
  /** @defaultValue 60000 */
  windowMs?: number;
  /** Addresses tracked at most; the oldest windows are forgotten first. @defaultValue 100000 */
  maxClients?: number;
}

/**
 * Counts failed authentications per client address in fixed windows. Once an address reaches the
 * limit, the caller refuses all its attempts (even right ones, so the answer tells a guesser
 * nothing) until its window ends: the HTTP API's bearer tokens and the embedded broker's gateway
 * logins both use it.
 */
export class FailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxClients: number;
  readonly #clients = new Map<string, { failures: number; resetAtMs: number }>();

  constructor(options: FailureLimitOptions = {}, private readonly now: () => number = Date.now) {
    this.#max = options.maxFailures ?? 20;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxClients = options.maxClients ?? 100_000;
  }

  /** Milliseconds until this address may try again; 0 when it may now. */
  blockedForMs(address: string): number {
    const entry = this.#clients.get(address);
    if (!entry) return 0;
    const left = entry.resetAtMs - this.now();
    if (left <= 0) {
      this.#clients.delete(address);
      return 0;
    }
    return entry.failures >= this.#max ? left : 0;
  }

  /** Records one failed authentication from this address. */
  fail(address: string): void {
    const now = this.now();
    const entry = this.#clients.get(address);
    if (entry && entry.resetAtMs > now) {
      entry.failures += 1;
      return;
    }
    this.#clients.delete(address);
    if (this.#clients.size >= this.#maxClients) {
      // Map order is insertion order: the first entries are the oldest windows.
      for (const key of this.#clients.keys()) {
        if (this.#clients.size < this.#maxClients) break;
        this.#clients.delete(key);
      }
    }
    this.#clients.set(address, { failures: 1, resetAtMs: now + this.#windowMs });
  }
}
