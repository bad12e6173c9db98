import type { Dialect } from './grafana-macros.ts';

/** One query a dashboard sends: a panel target, a template variable's query or an annotation's. */
export interface DashboardQuery {
  dashboard: string;
  /** Panel title, `variable <name>` or `annotation <name>`. */
  where: string;
  refId: string;
  dialect: Dialect;
  text: string;
  datasourceUid: string;
}

const DIALECT_OF: Record<string, Dialect> = { influxdb: 'influxql', 'grafana-postgresql-datasource': 'sql', prometheus: 'promql' };

interface Ref {
  type?: string;
  uid?: string;
}

function dialectOf(ds: Ref | undefined, where: string): Dialect {
  const dialect = ds?.type ? DIALECT_OF[ds.type] : undefined;
  if (!dialect) throw new Error(`${where}: no datasource type this project provisions (${JSON.stringify(ds)})`);
  return dialect;
}

/**
 * Every query of a generated dashboard (its JSON as Grafana loads it), so tests can run them all
 * and a panel added later is covered without touching the tests.
 */
export function dashboardQueries(json: Record<string, any>): DashboardQuery[] {
  const name = String(json.uid);
  const out: DashboardQuery[] = [];
  for (const panel of json.panels ?? []) {
    for (const t of panel.targets ?? []) {
      const ds: Ref = t.datasource ?? panel.datasource;
      const where = `${name} / ${panel.title}`;
      const dialect = dialectOf(ds, where);
      const text = dialect === 'influxql' ? t.query : dialect === 'sql' ? t.rawSql : t.expr;
      if (typeof text !== 'string' || text === '') throw new Error(`${where} ${t.refId}: empty query`);
      out.push({ dashboard: name, where: panel.title, refId: t.refId, dialect, text, datasourceUid: String(ds.uid) });
    }
  }
  for (const v of json.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const text = typeof v.query === 'string' ? v.query : v.query?.query ?? v.query?.rawSql;
    out.push({ dashboard: name, where: `variable ${v.name}`, refId: v.name, dialect: dialectOf(v.datasource, `${name} variable ${v.name}`), text, datasourceUid: String(v.datasource.uid) });
  }
  for (const a of json.annotations?.list ?? []) {
    if (a.builtIn) continue;
    out.push({ dashboard: name, where: `annotation ${a.name}`, refId: 'Anno', dialect: dialectOf(a.datasource, `${name} annotation ${a.name}`), text: a.query ?? a.target?.query, datasourceUid: String(a.datasource.uid) });
  }
  return out;
}
