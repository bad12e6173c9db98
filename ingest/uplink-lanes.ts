import { performance } from 'node:perf_hooks';
import type { IngestStage } from './ingest-stage.ts';
import { UplinkQueue, type WaitingUplink } from './uplink-queue.ts';
import { mayRaiseGasAlarm } from './urgent-uplink.ts';

/**
 * Bounds the work done in one turn of the event loop. mqtt.js hands over the packets buffered on
 * its connection one after another on `process.nextTick`, and the in-process bus runs processors and
 * alert book inside each hand-over, so a backlog of a hundred batches used to be worked through in
 * one macrotask (40–110 ms at 80k readings/s) while every timer and socket, an alarm's push among
 * them, waited behind it. `run` starts work at once while the current slice has lasted less than
 * `budgetMs`, else on a later turn, after the loop's timers and I/O. Calls made one after another
 * run in the order they were made.
 */
export class TurnBudget {
  /** When the current slice of work began (`now()`), or -1 when none is open. */
  #sliceStartedAt = -1;
  /** The open slice began in the loop's check phase (a `setImmediate` of ours). */
  #sliceInCheck = false;
  readonly #endSlice = (): void => {
    this.#sliceStartedAt = -1;
  };

  constructor(
    private readonly budgetMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  run(work: () => void): void {
    this.#run(work, false);
  }

  #run(work: () => void, inCheck: boolean): void {
    const now = this.now();
    if (this.#sliceStartedAt < 0) {
      // Ends in this turn's check phase whatever happens: work after that starts a fresh slice.
      this.#sliceStartedAt = now;
      this.#sliceInCheck = inCheck;
      setImmediate(this.#endSlice);
    } else if (now - this.#sliceStartedAt >= this.budgetMs) {
      // Queued after #endSlice, so it opens the next slice. A slice that began in the poll phase
      // (socket data) is followed by this turn's check phase before any timer: go one turn further,
      // or a timer would wait behind two slices.
      const resume = () => this.#run(work, true);
      setImmediate(this.#sliceInCheck ? resume : () => setImmediate(resume));
      return;
    }
    work();
  }
}

export interface UplinkLanesOptions {
  /** How long ingest may work through waiting messages in one turn of the event loop, ms. */
  turnBudgetMs: number;
  /** Messages with ingest at once. */
  maxInFlight: number;
  /** Wait before a message ingest failed on and that is to be retried is tried again, ms. */
  retryAfterMs: number;
}

/** What the runner counts about the urgent lane. */
export interface UrgentLaneObserver {
  /** An uplink that may raise a gas alarm went ahead of `overtaken` waiting messages of other gateways. */
  onUrgent(overtaken: number): void;
}

/** What a source does when ingest is done with one of its messages. */
export interface UplinkLanesHooks<M extends WaitingUplink> {
  /** Everything `message` carried is on the bus. */
  handled?(message: M): void;
  /**
   * Ingest failed on `message` (trouble downstream: bad input never throws). `retry` keeps its
   * place at the front and tries it again after `retryAfterMs`; `drop` forgets it, for a source
   * whose broker sends it again.
   */
  failed(message: M, err: unknown): 'retry' | 'drop';
  /** False when a waiting message is no longer to be handed over (its connection is gone). */
  wanted?(message: M): boolean;
  /** A message left the queue for ingest. */
  taken?(): void;
}

/**
 * The order in which a source's waiting uplinks reach ingest, the same for every source. An uplink
 * that may raise a gas alarm (`urgent-uplink.ts`, judged only when it would wait) goes ahead of
 * other gateways' waiting batches (`uplink-queue.ts`), so a leak behind a district's routine
 * readings waits for the batches in hand, not for the backlog. Up to `maxInFlight` messages are
 * with ingest at once, in each gateway's order, within `turnBudgetMs` slices (`TurnBudget`);
 * urgent messages have a budget of their own and never wait for routine work's next slice. A
 * message is chosen when its slice starts, so a leak queued meanwhile is taken first.
 */
export class UplinkLanes<M extends WaitingUplink> {
  readonly #queue = new UplinkQueue<M>();
  readonly #budget: TurnBudget;
  readonly #urgentBudget: TurnBudget;
  /** Messages with ingest (or taken for an urgent slice about to start). */
  #inHand = 0;
  /** A routine slice is scheduled on `#budget`. */
  #scheduled = false;
  /** While someone waits for the lanes to empty: what they wait on, and what ends it. */
  #idle?: { done: Promise<void>; resolve: () => void };

  constructor(
    private readonly options: UplinkLanesOptions,
    private readonly ingest: IngestStage,
    /** The lowest gas-alarm first set point any device uses, %LEL. */
    private readonly lowestL1LelPct: () => number,
    private readonly observer: UrgentLaneObserver,
    private readonly hooks: UplinkLanesHooks<M>,
  ) {
    this.#budget = new TurnBudget(options.turnBudgetMs);
    this.#urgentBudget = new TurnBudget(options.turnBudgetMs);
  }

  /** Messages waiting, not yet with ingest. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Queues a message for ingest, ahead of other gateways' if it may raise a gas alarm and would
   * wait; `queued` runs once it is in the queue and before ingest may be handed anything.
   */
  offer(message: M, queued?: () => void): void {
    // Only a message that would wait is looked at: one that can start now is taken at once anyway.
    const wouldWait = this.#queue.length > 0 || this.#scheduled || this.#inHand >= this.options.maxInFlight;
    if (wouldWait && mayRaiseGasAlarm(message.payload, this.lowestL1LelPct())) this.observer.onUrgent(this.#queue.pushUrgent(message));
    else this.#queue.push(message);
    queued?.();
    this.#next();
  }

  /** Resolves once no message waits or is with ingest. */
  idle(): Promise<void> {
    if (this.#inHand === 0 && this.#queue.length === 0) return Promise.resolve();
    if (this.#idle === undefined) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      this.#idle = { done, resolve };
    }
    return this.#idle.done;
  }

  #next(): void {
    if (this.#inHand >= this.options.maxInFlight) return;
    if (this.#queue.urgentWaiting) {
      this.#inHand++;
      this.#urgentBudget.run(this.#take);
    } else if (this.#queue.length > 0) {
      if (this.#scheduled) return;
      this.#scheduled = true;
      this.#budget.run(this.#routineSlice);
    } else if (this.#inHand === 0 && this.#idle) {
      const { resolve } = this.#idle;
      this.#idle = undefined;
      resolve();
    }
  }

  readonly #routineSlice = (): void => {
    this.#scheduled = false;
    // Urgent messages went in hand meanwhile; once one is taken, #next schedules again.
    if (this.#inHand >= this.options.maxInFlight) return;
    // The urgent lane may have taken every waiting message meanwhile (a leak takes its gateway's
    // earlier batches with it).
    if (this.#queue.length === 0) return this.#next();
    this.#inHand++;
    this.#take();
  };

  readonly #take = (): void => {
    let message = this.#queue.shift();
    while (message !== undefined && this.hooks.wanted?.(message) === false) message = this.#queue.shift();
    // Another take of this turn emptied the queue first.
    if (message === undefined) {
      this.#inHand--;
      return this.#next();
    }
    this.hooks.taken?.();
    const taken = message;
    this.ingest.handle(taken.topic, taken.payload).then(
      () => {
        this.#inHand--;
        this.hooks.handled?.(taken);
        this.#next();
      },
      (err: unknown) => {
        if (this.hooks.failed(taken, err) === 'drop') {
          this.#inHand--;
          return this.#next();
        }
        this.#queue.unshift(taken);
        setTimeout(() => {
          this.#inHand--;
          this.#next();
        }, this.options.retryAfterMs);
      },
    );
    // With room for more (Kafka), the next one starts while this one waits for the brokers.
    this.#next();
  };
}
