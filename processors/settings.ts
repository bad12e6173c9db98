import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../app/errors.ts';
import type { DetectorDefinition } from './detector.ts';

/** Parses a detector's settings once at start: defaults filled in, any bad value refused by name. */
export function parseSettings<S extends TObject>(definition: DetectorDefinition<S, unknown>, raw: unknown = {}): Static<S> {
  return parseSection(definition.settingsSchema, `detectors.${definition.name}`, raw);
}

/** Parses one section of the settings file against its schema: defaults filled in, the first bad value refused by its path (`flapping.windowMs: …`). */
export function parseSection<S extends TObject>(schema: S, section: string, raw: unknown = {}): Static<S> {
  const withDefaults = Value.Default(schema, Value.Clone(raw ?? {}));
  const first = Value.Errors(schema, withDefaults).First();
  if (first) throw new ConfigError(`${section}${first.path.replaceAll('/', '.')}: ${first.message}`);
  return withDefaults as Static<S>;
}
