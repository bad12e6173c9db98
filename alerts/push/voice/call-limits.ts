import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export interface CallLimitSettings {
  /** @defaultValue 1 */
  maxPerMinute: number;
  /** @defaultValue 5 */
  maxPerHour: number;
  /** @defaultValue 20 */
  maxPerDay: number;
}

/** Why a call may not be placed now: the limit hit, how many were placed in its window, and when a call is possible again. */
export interface CallRefusal {
  window: 'minute' | 'hour' | 'day';
  limit: number;
  placed: number;
  nextAtMs: number;
}

/**
 * Calls placed per number in the last day, so the provider's per-number limits (Aliyun: one call
 * a minute, five an hour, twenty a day to one callee) are kept here and a call they would refuse is not even attempted. Kept in
 * memory and, with a data folder, in a small JSON file rewritten atomically on every call: a
 * restart in an alarm storm must not reset the count.
 */
export class CallLimits {
  readonly #calls = new Map<string, number[]>();
  readonly #file: string | undefined;

  constructor(
    readonly settings: CallLimitSettings,
    file: string | undefined,
    nowMs: number,
    private readonly log: Logger,
  ) {
    this.#file = file;
    if (file) this.#load(file, nowMs);
  }

  /**
   * Takes a slot for a call to `number` now, or says why not. The slot is taken before the call
   * so two notices at once cannot both ring; `release` gives it back when the provider surely
   * placed no call.
   */
  reserve(number: string, nowMs: number): CallRefusal | undefined {
    const recent = this.#recent(number, nowMs);
    const windows = [
      ['minute', MINUTE_MS, this.settings.maxPerMinute],
      ['hour', HOUR_MS, this.settings.maxPerHour],
      ['day', DAY_MS, this.settings.maxPerDay],
    ] as const;
    for (const [window, ms, limit] of windows) {
      const inWindow = recent.filter((t) => t > nowMs - ms);
      // The call that frees a slot is the limit-th newest: when it leaves the window, one more fits.
      if (inWindow.length >= limit) return { window, limit, placed: inWindow.length, nextAtMs: inWindow[inWindow.length - limit]! + ms };
    }
    recent.push(nowMs);
    this.#calls.set(number, recent);
    this.#save();
    return undefined;
  }

  release(number: string, atMs: number): void {
    const recent = this.#calls.get(number);
    const i = recent?.lastIndexOf(atMs) ?? -1;
    if (i < 0) return;
    recent!.splice(i, 1);
    this.#save();
  }

  /** Call times within the day before `nowMs`, oldest first (older ones dropped). */
  #recent(number: string, nowMs: number): number[] {
    return (this.#calls.get(number) ?? []).filter((t) => t > nowMs - DAY_MS);
  }

  #load(file: string, nowMs: number): void {
    let raw: string;
    try {
      raw = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file }, 'Voice call counts unreadable: counting from zero');
      return;
    }
    try {
      const stored = JSON.parse(raw) as Record<string, unknown>;
      for (const [number, times] of Object.entries(stored)) {
        if (!Array.isArray(times)) continue;
        const kept = times.filter((t): t is number => typeof t === 'number' && t > nowMs - DAY_MS).sort((a, b) => a - b);
        if (kept.length) this.#calls.set(number, kept);
      }
    } catch (err) {
      this.log.warn({ err, file }, 'Voice call counts unreadable: counting from zero');
    }
  }

  #save(): void {
    if (!this.#file) return;
    const tmp = `${this.#file}.tmp`;
    try {
      mkdirSync(dirname(this.#file), { recursive: true });
      // Synchronous: a few hundred bytes, written only when a call is placed (emergencies).
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#calls)));
      renameSync(tmp, this.#file);
    } catch (err) {
      // The limit still holds in memory; only a restart would forget it.
      this.log.error({ err, file: this.#file }, 'Could not keep the voice call counts');
    }
  }
}

/**
 * The count of one channel instance, kept in `<dataDir>/push/voice-calls-<provider>-<key id hash>.json`.
 * The provider limits calls per number for the account: one voice instance per account.
 */
export function callLimitsFor(account: { provider: string; accessKeyId: string }, settings: CallLimitSettings, dataDir: string | undefined, nowMs: number, log: Logger): CallLimits {
  const id = `${account.provider}-${createHash('sha256').update(account.accessKeyId).digest('hex').slice(0, 12)}`;
  return new CallLimits(settings, dataDir ? join(dataDir, 'push', `voice-calls-${id}.json`) : undefined, nowMs, log);
}
