import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { SINKS } from './registry.ts';

const folderOf = (name: string) => fileURLToPath(new URL(`./${name}/`, import.meta.url));

describe('sink registry conventions', () => {
  describe.each(Object.entries(SINKS).map(([key, plugin]) => ({ key, plugin })))('$key', ({ key, plugin }) => {
    it('is registered under its own name, in sinks/<name>/ with index.ts, index.test.ts and README.md', () => {
      expect(plugin.name).toBe(key);
      for (const file of ['index.ts', 'index.test.ts', 'README.md']) expect(existsSync(folderOf(key) + file), `${key}/${file}`).toBe(true);
    });

    it('documents every setting with a default', () => {
      expect(plugin.description.length).toBeGreaterThan(0);
      for (const [name, schema] of Object.entries(plugin.configSchema.properties as Record<string, TSchema>)) {
        expect(schema.default, `${key}.${name} default`).toBeDefined();
        expect(typeof schema.description, `${key}.${name} description`).toBe('string');
      }
    });
  });
});
