import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../app/errors.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export const HistoryTierSchema = Type.Object(
  {
    upToAgeMs: Type.Integer({ minimum: 1000, description: 'points younger than this (behind the newest reading the store has seen), ms' }),
    resolutionMs: Type.Integer({ minimum: 1000, description: 'are kept at most one per this many ms of device time' }),
  },
  { additionalProperties: false },
);

/**
 * Settings of the local readings history (settings file section `history`), see README.md.
 * The defaults keep at most 60 + 92 + 72 = 224 points per device: a 1 h chart at 1 min, 24 h at
 * 15 min and 7 d at 2 h, which is what a chart a few hundred pixels wide can show.
 */
export const HistorySettingsSchema = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'keep a local history where the API runs when no InfluxDB 1.x (INFLUXQL_URL) serves it' }),
    maxAgeMs: Type.Integer({ minimum: MIN, default: 7 * DAY, description: 'points older than this behind the newest reading seen are dropped, ms' }),
    tiers: Type.Array(HistoryTierSchema, {
      minItems: 1,
      maxItems: 8,
      default: [
        { upToAgeMs: HOUR, resolutionMs: MIN },
        { upToAgeMs: DAY, resolutionMs: 15 * MIN },
        { upToAgeMs: 7 * DAY, resolutionMs: 2 * HOUR },
      ],
      description: 'downsampling by age, youngest first; the first resolution also merges readings as they arrive; the last tier must reach maxAgeMs',
    }),
    maxPointsPerDevice: Type.Integer({ minimum: 8, maximum: 65_536, default: 256, description: 'most points one device keeps; a full device merges its oldest points pairwise' }),
    maxBytes: Type.Integer({ minimum: 1 << 20, maximum: 2 ** 31, default: 256 * 1024 * 1024, description: 'memory for all devices, bytes (estimated: 8 per value, 112 per device); past it each device gets an equal share' }),
    statusSetLimit: Type.Integer({ minimum: 16, maximum: 65_536, default: 4096, description: 'distinct sets of status tokens remembered; later new sets are kept as "…"' }),
    persist: Type.Boolean({ default: true, description: 'save to DATA_DIR/history.bin and load it at start' }),
    saveIntervalMs: Type.Integer({ minimum: 10_000, default: 5 * MIN, description: 'how often the history is saved (and at stop), ms' }),
    sweepIntervalMs: Type.Integer({ minimum: 1000, default: MIN, description: 'how often devices silent past maxAgeMs are dropped and oversized ones compacted, ms' }),
    sliceMs: Type.Integer({ minimum: 1, maximum: 100, default: 4, description: 'longest a save, load or sweep runs before letting other work in, ms' }),
  },
  { additionalProperties: false },
);
export type HistorySettings = Static<typeof HistorySettingsSchema>;

/** Defaults filled in and checked; a bad value is a ConfigError at start. */
export function parseHistorySettings(raw: unknown): HistorySettings {
  const settings = Value.Default(HistorySettingsSchema, Value.Clone(raw ?? {}));
  const first = Value.Errors(HistorySettingsSchema, settings).First();
  if (first) throw new ConfigError(`history${first.path.replaceAll('/', '.')}: ${first.message}`);
  const parsed = settings as HistorySettings;
  parsed.tiers.forEach((tier, i) => {
    const before = parsed.tiers[i - 1];
    if (before && (tier.upToAgeMs <= before.upToAgeMs || tier.resolutionMs < before.resolutionMs)) {
      throw new ConfigError(`history.tiers.${i}: tiers must be ordered by upToAgeMs, each at least as coarse as the one before`);
    }
  });
  if (parsed.tiers.at(-1)!.upToAgeMs < parsed.maxAgeMs) throw new ConfigError('history.tiers: the last tier must reach maxAgeMs');
  return parsed;
}
