import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PIPELINE_NODE_FLAGS } from './node-flags.ts';

describe('PIPELINE_NODE_FLAGS', () => {
  it('are the flags `npm start` runs the pipeline with', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${PIPELINE_NODE_FLAGS.join(' ')} --import tsx app/main.ts`);
  });
});
