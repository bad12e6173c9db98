import type { Alert } from './api.ts';
import { isSafety } from './alarm-filters.ts';

/** A desk's mute lasts this long, then the sound comes back by itself. */
export const MUTE_MS = 5 * 60_000;
const MUTE_KEY = 'gas.alarmMuteUntil';
/** One two-tone call every this often while sounding. */
const PERIOD_MS = 2_000;

/** Whether the control room must hear an alarm: a safety alarm that no operator has acknowledged yet. */
export function needsSound(alerts: Iterable<Alert>): boolean {
  for (const a of alerts) if (a.state === 'active' && isSafety(a) && !a.seen) return true;
  return false;
}

/** This desk's mute, kept in the browser so a reload does not unmute it; 0 when not muted. */
export function muteUntil(now = Date.now()): number {
  const until = Number(localStorage.getItem(MUTE_KEY) ?? 0);
  return until > now ? until : 0;
}

export function setMute(until: number): void {
  if (until > 0) localStorage.setItem(MUTE_KEY, String(until));
  else localStorage.removeItem(MUTE_KEY);
}

/**
 * The audible alarm, made with Web Audio (no sound file to load or lose): a two-tone call
 * (880 Hz then 660 Hz) repeated every 2 s while `sounding`. Browsers start an AudioContext
 * suspended until the page is clicked; `locked` says so, and `unlock()` is called from a click.
 */
export class AlarmSound {
  #ctx: AudioContext | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  get locked(): boolean {
    return this.#context().state !== 'running';
  }

  get sounding(): boolean {
    return this.#timer !== undefined;
  }

  unlock(): Promise<void> {
    return this.#context().resume();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#call();
    this.#timer = setInterval(() => this.#call(), PERIOD_MS);
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #context(): AudioContext {
    return (this.#ctx ??= new AudioContext());
  }

  #call(): void {
    const ctx = this.#context();
    if (ctx.state !== 'running') return;
    const t0 = ctx.currentTime;
    for (const [i, freq] of [880, 660].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      const start = t0 + i * 0.45;
      // A short attack and release: no click at the edges.
      gain.gain.setValueAtTime(0, start);
      gain.gain.linearRampToValueAtTime(0.25, start + 0.02);
      gain.gain.setValueAtTime(0.25, start + 0.38);
      gain.gain.linearRampToValueAtTime(0, start + 0.42);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.43);
    }
  }
}
