import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describe, it } from 'vitest';
import type { TestPipeline } from '../harness.ts';

/** Debian's Chromium, driven by playwright-core: nothing is downloaded (scripts/install-chromium.sh installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
export const SCREENSHOTS = fileURLToPath(new URL('../../console/screenshots/', import.meta.url));

/**
 * In CI a missing browser must fail the build, not quietly skip the browser tests: registers a
 * failing test there. Returns the title for the suite's `describe.skipIf(!haveChromium)`.
 */
export function browserSuite(title: string): string {
  describe.runIf(!haveChromium && process.env.CI)(title, () => {
    it('needs Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: run bash scripts/install-chromium.sh before npm test`);
    });
  });
  return `${title}${haveChromium ? '' : ` (skipped: ${CHROMIUM} missing; run bash scripts/install-chromium.sh)`}`;
}

export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', ...extraArgs] });
}

/** A call to the pipeline's API with its admin token; throws with the answer on anything but 2xx. */
export async function adminCall<T>(pipeline: TestPipeline, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${pipeline.httpUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${pipeline.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Logs into the console with a token and waits until its live stream is open. */
export async function logInAs(page: Page, pipeline: TestPipeline, token: string): Promise<void> {
  await page.goto(`${pipeline.httpUrl}/`);
  await page.locator('input[name=token]').fill(token);
  await page.locator('button[type=submit]').click();
  await page.locator('[data-testid=live][data-state=open]').waitFor();
}

/** A whole-page screenshot into console/screenshots/<name>.png. */
export const screenshot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled' });
