import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildConsole } from './build.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const committed = join(here, 'dist');
const scratch = mkdtempSync(join(tmpdir(), 'console-build-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function filesUnder(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('web console bundle', () => {
  // The API serves console/dist as committed (production installs have no Vite), so a source
  // change without a rebuild would ship the old console.
  it('console/dist is what the sources build to (else run npm run console:build and commit console/dist)', async () => {
    await buildConsole(scratch);
    const fresh = filesUnder(scratch);
    const shipped = filesUnder(committed);
    expect([...shipped.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [name, bytes] of fresh) expect(shipped.get(name)?.equals(bytes), `console/dist/${name} differs from a fresh build`).toBe(true);
  }, 60_000);

  // The root tsconfig has no JSX settings; console/tsconfig.json checks the browser code.
  it('type-checks the browser code (console/tsconfig.json)', async () => {
    const tsc = join(here, '..', 'node_modules', 'typescript', 'bin', 'tsc');
    const run = promisify(execFile)(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')]);
    await expect(run.catch((err: { stdout?: string }) => Promise.reject(new Error(err.stdout ?? String(err))))).resolves.toBeDefined();
  }, 60_000);
});
