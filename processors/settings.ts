import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../app/errors.ts';
import type { DetectorDefinition } from './detector.ts';

/** Parses a detector's settings once at start: defaults filled in, any bad value refused by name. */
export function parseSettings<S extends TObject>(definition: DetectorDefinition<S, unknown>, raw: unknown = {}): Static<S> {
  const withDefaults = Value.Default(definition.settingsSchema, Value.Clone(raw ?? {}));
  const errors = [...Value.Errors(definition.settingsSchema, withDefaults)];
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new ConfigError(`detectors.${definition.name}${first.path.replaceAll('/', '.')}: ${first.message}`);
  }
  return withDefaults as Static<S>;
}
