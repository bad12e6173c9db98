import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind } from '@sinclair/typebox';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../app/clock.ts';
import { CHANNELS, createChannels } from './channels.ts';

const here = dirname(fileURLToPath(import.meta.url));

describe('channel registry conventions', () => {
  it.each(Object.entries(CHANNELS))('%s has a schema, a folder with README and tests, and its registry name', (name, plugin) => {
    expect(plugin.name).toBe(name);
    expect(plugin.configSchema[Kind]).toBe('Object');
    expect(plugin.description.length).toBeGreaterThan(0);
    expect(existsSync(join(here, name, 'index.ts'))).toBe(true);
    expect(existsSync(join(here, name, 'README.md'))).toBe(true);
    expect(readdirSync(join(here, name)).some((f) => f.endsWith('.test.ts'))).toBe(true);
  });

  it('refuses unknown types and duplicate names at start', () => {
    const deps = { log: pino({ level: 'silent' }), clock: new ManualClock() };
    expect(() => createChannels([{ name: 'x', type: 'pager', config: {} }], deps)).toThrow(/push.channels\[0\].type/);
    expect(() => createChannels([{ name: 'x', type: 'sse' }, { name: 'x', type: 'sse' }], deps)).toThrow(/two channels named x/);
  });
});
