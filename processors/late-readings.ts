import { Type, type Static } from '@sinclair/typebox';
import { parseSection } from './settings.ts';
import type { Condition, Severity } from '../contracts/messages.ts';

/**
 * Late readings (issue 15 #1): a reading older than the newest already judged for its device — a
 * buffered NB-IoT upload, a gateway's backlog after its link came back — never moves the device's
 * current state backwards, but what it shows happened. It is judged in event time on its own run of
 * detector states (a "late run", started afresh from the detectors' initial states), and each
 * condition the run finds becomes a historical alert: raised at the device time the run found it,
 * cleared at the device time the run saw it end or, if it did not, at the device's newest reading
 * (which the live path judged without it). Both edges carry `late: true` and the delivery delay.
 *
 * Nothing is said twice: a late finding of a condition that is active now belongs to the live alert;
 * one inside an episode already known — live or historical, kept per device for `historyWindowMs` —
 * is the same episode (a duplicate, a redelivered backfill, its own continuation). A late reading
 * older than `historyWindowMs` before the device's newest is counted and not judged.
 */
export const LateSettingsSchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'judge late readings in event time (false: count them and judge nothing)' }),
  historyWindowMs: Type.Integer({ default: 86_400_000, minimum: 1, description: "how far behind the device's newest reading a late reading is still judged, and how long episodes are remembered for it, device ms" }),
  delayedAfterMs: Type.Integer({ default: 300_000, minimum: 0, description: "an edge from a reading delivered this long after its device time carries the delay (`delayMs`) in its detail, ms" }),
});
export type LateSettings = Static<typeof LateSettingsSchema>;

/** Parses the `lateReadings` section of the settings file once at start; a bad value is refused by name. */
export function parseLateSettings(raw: unknown = {}): LateSettings {
  return parseSection(LateSettingsSchema, 'lateReadings', raw);
}

/** The run that judges a device's late readings, in their own device-time order. Plain JSON, part of the device's snapshot. */
export interface LateRun {
  /** One state per detector of the device's kind, as in the live state. */
  states: unknown[];
  /** Device time of the run's newest reading: a late reading not newer than it starts a new run. */
  atMs: number;
  /** Bit per condition (CONDITION_BIT) the run finds present. */
  present: number;
}

export const LateRunSchema = Type.Object({ states: Type.Array(Type.Unknown()), atMs: Type.Number(), present: Type.Integer() });

/**
 * Known episodes per condition, as flat [from, to, from, to, …] device times, oldest first; `to` is
 * null while the live alert is active. Kept only for conditions that had an alert within the window.
 */
export type Episodes = Partial<Record<Condition, Array<number | null>>>;

export const EpisodesSchema = Type.Record(Type.String(), Type.Array(Type.Union([Type.Number(), Type.Null()])));

/** Records a live raise (an open episode) or clear (closes the open one), dropping episodes that ended before `sinceMs`. */
export function recordEpisodeEdge(episodes: Episodes, condition: Condition, present: boolean, atMs: number, sinceMs: number): void {
  const list = (episodes[condition] ??= []);
  if (present) list.push(atMs, null);
  else if (list.length > 0 && list[list.length - 1] === null) list[list.length - 1] = atMs;
  else list.push(atMs, atMs);
  pruneEpisodes(list, sinceMs);
}

/** Records a historical episode. */
export function recordEpisode(episodes: Episodes, condition: Condition, fromMs: number, toMs: number, sinceMs: number): void {
  const list = (episodes[condition] ??= []);
  // Kept in order of their start, so pruning from the front stays right.
  let i = list.length;
  while (i >= 2 && (list[i - 2] as number) > fromMs) i -= 2;
  list.splice(i, 0, fromMs, toMs);
  pruneEpisodes(list, sinceMs);
}

function pruneEpisodes(list: Array<number | null>, sinceMs: number): void {
  let i = 0;
  while (i + 1 < list.length && list[i + 1] !== null && (list[i + 1] as number) < sinceMs) i += 2;
  if (i > 0) list.splice(0, i);
}

/** Whether a known episode of the condition covers device time `atMs` (an open one covers everything after its start). */
export function withinEpisode(episodes: Episodes | undefined, condition: Condition, atMs: number): boolean {
  const list = episodes?.[condition];
  if (!list) return false;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const to = list[i + 1];
    if ((list[i] as number) <= atMs && (to === null || atMs <= (to as number))) return true;
  }
  return false;
}

/** Start of the first known episode of the condition after device time `afterMs` (Infinity: none). */
export function nextEpisodeStart(episodes: Episodes | undefined, condition: Condition, afterMs: number): number {
  const list = episodes?.[condition];
  if (list) for (let i = 0; i + 1 < list.length; i += 2) if ((list[i] as number) > afterMs) return list[i] as number;
  return Number.POSITIVE_INFINITY;
}

/** A condition a late run found, waiting for the end of the batch to learn its clear. */
export interface HistoricalFinding {
  condition: Condition;
  raisedAtMs: number;
  /** Device time the run saw it end; undefined while it has not (the device's newest reading clears it). */
  clearedAtMs: number | undefined;
  severity: Severity | undefined;
  detail: Record<string, unknown> | undefined;
  /** Delivery delay of the reading that showed it, ms. */
  delayMs: number;
}
