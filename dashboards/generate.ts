/**
 * Writes every dashboard as JSON into dashboards/json, where Grafana's file provider picks them up.
 * Run `npx tsx dashboards/generate.ts` after changing anything under dashboards/src and commit the
 * JSON; dashboards.test.ts fails while the checked-in files are stale.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDashboards } from './src/index.ts';

export const JSON_DIR = join(dirname(fileURLToPath(import.meta.url)), 'json');

export function generate(dir = JSON_DIR): string[] {
  const rendered = renderDashboards();
  const keep = new Set(rendered.map((r) => r.file));
  // A dashboard removed from the code must leave the folder too, or Grafana keeps serving it.
  for (const file of readdirSync(dir)) if (file.endsWith('.json') && !keep.has(file)) rmSync(join(dir, file));
  for (const { file, text } of rendered) writeFileSync(join(dir, file), text);
  return rendered.map((r) => r.file);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const file of generate()) console.log(`wrote dashboards/json/${file}`);
}
