import type { ChannelDeps } from './channel.ts';
import type { RefTarget } from './provider-refs.ts';
import { timerScheduler } from './scheduler.ts';

/**
 * Read receipts from providers that tell only when asked (DingTalk getsendresult, Feishu
 * read_users): one question per message, `afterMs` after it was sent, recording `read` when the
 * answer says the person opened it. One question, not a watch: a message still unread then stays
 * without a read time. Held in memory: a restart forgets the questions not yet asked.
 */
export class ReadChecks {
  readonly #pending = new Set<{ cancel(): void }>();

  constructor(
    private readonly deps: ChannelDeps,
    private readonly afterMs: number,
  ) {}

  /** Asks `readAtMs` later; it resolves with when the person read the message, or undefined (unread). */
  schedule(target: RefTarget, readAtMs: () => Promise<number | undefined>): void {
    const record = this.deps.recordReceipt;
    if (!record || this.afterMs <= 0) return;
    const timer = (this.deps.scheduler ?? timerScheduler).schedule(this.afterMs, async () => {
      this.#pending.delete(timer);
      try {
        const atMs = await readAtMs();
        if (atMs !== undefined && (await record(target.noticeId, target.personId, 'read', atMs))) this.deps.onReport?.('read');
      } catch (err) {
        this.deps.log.warn({ err, ...target }, 'Read check failed; not asked again');
      }
    });
    this.#pending.add(timer);
  }

  /** Cancels the questions not yet asked (on shutdown). */
  close(): void {
    for (const timer of this.#pending) timer.cancel();
    this.#pending.clear();
  }
}
