/** Time as the pipeline sees it: injected everywhere so tests drive it instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to; tests share one between the simulator and the pipeline. */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(startMs = Date.parse('2026-11-22T08:00:00.000Z')) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  advance(ms: number): number {
    this.#nowMs += ms;
    return this.#nowMs;
  }

  set(ms: number): void {
    this.#nowMs = ms;
  }
}
