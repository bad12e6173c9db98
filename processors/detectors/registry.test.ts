import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { CONDITIONS, DEVICE_KINDS, type Condition } from '../../contracts/messages.ts';
import { parseSettings } from '../settings.ts';
import { DETECTORS } from './registry.ts';

/** Conditions raised outside the detectors: the silence watch and the gateway status handling. */
const OWNED_ELSEWHERE: readonly Condition[] = ['NO_SIGNAL', 'GATEWAY_OFFLINE', 'MAINTENANCE_DUE'];

const folderOf = (name: string) => fileURLToPath(new URL(`./${name}/`, import.meta.url));

describe('detector registry conventions', () => {
  it('gives every detector a unique name', () => {
    const names = DETECTORS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
  });

  describe.each(DETECTORS.map((d) => ({ name: d.name, d })))('$name', ({ name, d }) => {
    it('lives in processors/detectors/<name>/ with index.ts, index.test.ts and README.md', () => {
      for (const file of ['index.ts', 'index.test.ts', 'README.md']) expect(existsSync(folderOf(name) + file), `${name}/${file}`).toBe(true);
    });

    it('declares a description, known kinds and at least one condition', () => {
      expect(d.description.length).toBeGreaterThan(0);
      expect(d.kinds.length).toBeGreaterThan(0);
      for (const kind of d.kinds) expect(DEVICE_KINDS).toContain(kind);
      expect(d.conditions.length).toBeGreaterThan(0);
      for (const condition of d.conditions) expect(CONDITIONS).toContain(condition);
    });

    it('has settings that parse with their defaults, each documented', () => {
      const settings = parseSettings(d);
      for (const [key, schema] of Object.entries(d.settingsSchema.properties as Record<string, TSchema>)) {
        expect(schema.default, `${name}.${key} default`).toBeDefined();
        expect(typeof schema.description, `${name}.${key} description`).toBe('string');
        expect((settings as Record<string, unknown>)[key]).toEqual(schema.default);
      }
    });

    it('has an initial state that passes its stateSchema, also after a JSON round trip', () => {
      const state: unknown = d.initialState();
      expect(Value.Check(d.stateSchema, state)).toBe(true);
      expect(Value.Check(d.stateSchema, JSON.parse(JSON.stringify(state)))).toBe(true);
    });
  });

  it('gives every condition at most one owning detector', () => {
    const owner = new Map<Condition, string>();
    for (const d of DETECTORS) {
      for (const condition of d.conditions) {
        expect(owner.get(condition), `${condition} owned by ${owner.get(condition)} and ${d.name}`).toBeUndefined();
        owner.set(condition, d.name);
      }
    }
  });

  it('owns every condition except those raised elsewhere', () => {
    const owned = new Set(DETECTORS.flatMap((d) => d.conditions));
    const missing = CONDITIONS.filter((c) => !owned.has(c) && !OWNED_ELSEWHERE.includes(c));
    expect(missing).toEqual([]);
    for (const c of OWNED_ELSEWHERE) expect(owned.has(c), `${c} is raised outside the detectors`).toBe(false);
  });
});
