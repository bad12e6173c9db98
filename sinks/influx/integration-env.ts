import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A describe block that needs a real server named by an environment variable (as printed by
 * scripts/services.sh). Without it: a failing test in CI (process.env.CI), else a skip that says why.
 */
export function describeWithServer(variable: string, service: string, name: string, body: (url: string) => void): void {
  describeWithServers({ [variable]: service }, name, (env) => body(env[variable]!));
}

/** As describeWithServer, for a block that needs several servers: `{ VARIABLE: service }`. */
export function describeWithServers(needs: Record<string, string>, name: string, body: (env: Record<string, string>) => void): void {
  const missing = Object.entries(needs).filter(([variable]) => !process.env[variable]);
  if (missing.length === 0) {
    describe(name, () => body(Object.fromEntries(Object.keys(needs).map((v) => [v, process.env[v]!]))));
    return;
  }
  const why = missing.map(([variable, service]) => `${variable} is not set: start the server with \`bash scripts/services.sh start ${service}\` and export its ${variable}`).join('; ');
  if (process.env.CI) {
    describe(name, () => {
      it(`needs ${missing.map(([v]) => v).join(', ')}`, () => {
        throw new Error(`${why} (CI is set, so this fails instead of skipping)`);
      });
    });
  } else {
    describe.skip(`${name} — skipped, ${why}`, () => {
      it('needs a server', () => undefined);
    });
  }
}

const run = promisify(execFile);

/** Runs `scripts/services.sh <action> <service>` and returns its KEY=value output. */
export async function services(action: 'start' | 'stop' | 'status', service: string, env: Record<string, string> = {}): Promise<Record<string, string>> {
  const { stdout } = await run('bash', [join(ROOT, 'scripts', 'services.sh'), action, service], { env: { ...process.env, ...env }, timeout: 120_000 });
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
