import type { ManualClock } from '../../app/clock.ts';

/** Runs a task later: injected so tests move time instead of sleeping. */
export interface Scheduler {
  schedule(delayMs: number, task: () => unknown): { cancel(): void };
}

export const timerScheduler: Scheduler = {
  schedule(delayMs, task) {
    const timer = setTimeout(() => void task(), Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
};

interface Pending {
  dueMs: number;
  seq: number;
  task: () => unknown;
  cancelled: boolean;
}

/**
 * A scheduler driven by a ManualClock: `advance(ms)` moves the clock task by task, running (and
 * awaiting) each task at its due time, so back-off and Retry-After are tested without sleeping.
 */
export class ManualScheduler implements Scheduler {
  readonly #clock: ManualClock;
  #pending: Pending[] = [];
  #seq = 0;

  constructor(clock: ManualClock) {
    this.#clock = clock;
  }

  schedule(delayMs: number, task: () => unknown): { cancel(): void } {
    const p: Pending = { dueMs: this.#clock.now() + Math.max(0, delayMs), seq: this.#seq++, task, cancelled: false };
    this.#pending.push(p);
    return { cancel: () => void (p.cancelled = true) };
  }

  /** Delays from now of the tasks waiting, soonest first. */
  pendingDelaysMs(): number[] {
    return this.#live().map((p) => p.dueMs - this.#clock.now());
  }

  /** Moves the clock `ms` forward, running each task that falls due on the way at its due time. */
  async advance(ms: number): Promise<void> {
    const target = this.#clock.now() + ms;
    for (let next = this.#live()[0]; next && next.dueMs <= target; next = this.#live()[0]) {
      await this.#run(next);
    }
    this.#clock.set(target);
  }

  /** Jumps to the soonest task and runs it; returns the delay it waited, or undefined when none waits. */
  async runNext(): Promise<number | undefined> {
    const next = this.#live()[0];
    if (!next) return undefined;
    const waited = next.dueMs - this.#clock.now();
    await this.#run(next);
    return waited;
  }

  async #run(p: Pending): Promise<void> {
    this.#pending = this.#pending.filter((x) => x !== p);
    if (p.dueMs > this.#clock.now()) this.#clock.set(p.dueMs);
    await p.task();
  }

  #live(): Pending[] {
    this.#pending = this.#pending.filter((p) => !p.cancelled);
    return [...this.#pending].sort((a, b) => a.dueMs - b.dueMs || a.seq - b.seq);
  }
}
