import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { JSON_DIR } from './generate.ts';
import { dashboardQueries } from './panel-queries.ts';
import { renderDashboards } from './src/index.ts';

const ROOT = join(JSON_DIR, '..', '..');
const rendered = renderDashboards();
const dashboards = rendered.map((r) => JSON.parse(r.text) as Record<string, any>);

describe('generated dashboards', () => {
  it('the checked-in JSON is what the code generates (run `npx tsx dashboards/generate.ts`)', () => {
    const onDisk = readdirSync(JSON_DIR).filter((f) => f.endsWith('.json')).sort();
    expect(onDisk).toEqual(rendered.map((r) => r.file).sort());
    for (const { file, text } of rendered) expect(readFileSync(join(JSON_DIR, file), 'utf8'), `dashboards/json/${file} is stale`).toBe(text);
  });

  it('uids and titles are unique, every panel has an id, a title and a query', () => {
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
    for (const d of dashboards) {
      const ids = d.panels.map((p: any) => p.id);
      expect(new Set(ids).size, d.uid).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.title, `${d.uid} panel ${p.id}`).toBeTruthy();
        expect(p.targets?.length, `${d.uid} / ${p.title} has no query`).toBeGreaterThan(0);
        expect(p.gridPos.w, `${d.uid} / ${p.title}`).toBeLessThanOrEqual(24);
      }
    }
  });

  it('every query names a datasource uid that provisioning defines', () => {
    const provisioned = parse(readFileSync(join(ROOT, 'dashboards', 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as { datasources: Array<{ uid: string; type: string }> };
    const uids = new Set(provisioned.datasources.map((d) => d.uid));
    for (const q of dashboards.flatMap(dashboardQueries)) expect(uids.has(q.datasourceUid), `${q.dashboard} / ${q.where}: ${q.datasourceUid}`).toBe(true);
  });

  it('refIds are unique within a panel', () => {
    for (const d of dashboards) for (const p of d.panels) expect(new Set(p.targets.map((t: any) => t.refId)).size, `${d.uid} / ${p.title}`).toBe(p.targets.length);
  });

  it('the dashboards with readings have the district, gateway and kind variables and raise/clear annotations', () => {
    for (const uid of ['gas-safety', 'meter-fleet', 'flow-meters']) {
      const d = dashboards.find((x) => x.uid === uid)!;
      expect(d.templating.list.map((v: any) => v.name)).toEqual(expect.arrayContaining(['district', 'gateway', 'kind']));
      const annotations = d.annotations.list.map((a: any) => a.query as string);
      expect(annotations.some((q: string) => q.includes(`"type" = 'raise'`))).toBe(true);
      expect(annotations.some((q: string) => q.includes(`"type" = 'clear'`))).toBe(true);
    }
  });

  /**
   * The Prometheus queries cannot run here (the stack has no Prometheus yet): at least every metric
   * they name must be one the pipeline's code registers, so a renamed metric breaks this test.
   */
  it('every metric a PromQL query names is registered somewhere in the pipeline code', () => {
    const sources = ['app', 'bus', 'alerts', 'sinks']
      .flatMap((dir) => readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => join(ROOT, dir, f)))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const promQueries = dashboards.flatMap(dashboardQueries).filter((q) => q.dialect === 'promql');
    expect(promQueries.length).toBeGreaterThan(0);
    for (const q of promQueries) {
      const metrics = q.text.match(/\bgas_[a-z_]+\b/g) ?? [];
      expect(metrics.length, q.text).toBeGreaterThan(0);
      for (const m of metrics) expect(sources.includes(`'${m}'`), `${q.where}: metric ${m} is not registered in app/, bus/, alerts/ or sinks/`).toBe(true);
      // Balanced brackets and a range on every rate/increase: the mistakes a PromQL parser would catch first.
      for (const [open, close] of [['(', ')'], ['[', ']'], ['{', '}']] as const) expect(q.text.split(open).length, `${q.where}: ${q.text}`).toBe(q.text.split(close).length);
      for (const fn of q.text.matchAll(/\b(rate|increase)\(([^()]*)\)/g)) expect(fn[2], `${q.where}: ${fn[0]} needs a [range]`).toMatch(/\[\$__rate_interval\]$/);
    }
  });
});
