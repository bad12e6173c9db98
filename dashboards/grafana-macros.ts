/**
 * Grafana's query-time substitutions, re-implemented for the tests that run every panel's query
 * against a real engine: the time range, the interval and template variables, formatted as the
 * InfluxDB (InfluxQL), PostgreSQL and Prometheus datasources of Grafana 11 format them. Only what the
 * dashboards in this folder use is covered; an unknown `$__macro` throws, so a panel that starts
 * using one fails its test instead of silently reaching the engine unexpanded.
 */

export type Dialect = 'influxql' | 'sql' | 'promql';

export interface MacroContext {
  dialect: Dialect;
  /** Range start and end, epoch ms. */
  fromMs: number;
  toMs: number;
  /**
   * A relative range ending now (`'6h'` for Grafana's `now-6h` to `now`): InfluxQL's `$timeFilter`
   * is then written `time >= now() - 6h`, as Grafana writes it, instead of absolute milliseconds.
   */
  relative?: string;
  /** `$__interval`, ms: Grafana derives it from the range and the panel width. */
  intervalMs: number;
  /**
   * PromQL: the datasource's scrape interval, ms, from which Grafana derives `$__rate_interval`;
   * 15 s (Grafana's default) when not given.
   */
  scrapeIntervalMs?: number;
  /**
   * Selected values per variable. `allValue` (a custom "All" value such as `.*`) is used verbatim
   * when given, as Grafana does; otherwise every value is formatted.
   */
  variables?: Record<string, { values: readonly string[]; allValue?: string }>;
}

export class MacroError extends Error {
  override readonly name = 'MacroError';
}

/** Grafana's interval text: the largest whole unit (`90000` → `90s`, `60000` → `1m`). */
export function formatInterval(ms: number): string {
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** Parses `30s`, `5m`, `1h`, `1d`, `250ms` to ms. */
export function parseInterval(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim().replace(/^'|'$/g, ''));
  if (!m) throw new MacroError(`Not an interval: ${text}`);
  const size = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms'];
  return Number(m[1]) * size;
}

/** Regex escaping as Grafana's `regex` variable format does it (lodash escapeRegExp plus `/`). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** Grafana's explicit variable formats (`${var:regex}`) that the dashboards use. */
export type VariableFormat = 'regex' | 'sqlstring' | 'pipe' | 'csv' | 'raw';

/**
 * How a variable's values are written into a query: the explicit `format` when given, else the
 * dialect's default (regex for InfluxQL and PromQL, quoted list for SQL). A custom "All" value is
 * written verbatim whatever the format, as Grafana does.
 */
export function formatVariable(dialect: Dialect, values: readonly string[], allValue?: string, format?: VariableFormat): string {
  if (allValue !== undefined) return allValue;
  switch (format ?? (dialect === 'sql' ? 'sqlstring' : 'regex')) {
    // One value escaped, several as (a|b): for `=~ /^$var$/`.
    case 'regex': {
      const escaped = values.map(escapeRegex);
      return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
    }
    // Comma-separated quoted literals, for `IN ($var)`.
    case 'sqlstring':
      return values.length === 0 ? "''" : values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
    case 'pipe':
      return values.join('|');
    case 'csv':
    case 'raw':
      return values.join(',');
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Splits a macro's argument list at top-level commas. */
function args(text: string): string[] {
  return text.split(',').map((a) => a.trim());
}

function sqlMacros(query: string, ctx: MacroContext): string {
  const from = `'${iso(ctx.fromMs)}'`;
  const to = `'${iso(ctx.toMs)}'`;
  return query.replace(/\$__(\w+)(?:\(([^()]*)\))?/g, (all, name: string, argText: string | undefined) => {
    const a = argText === undefined ? [] : args(argText);
    switch (name) {
      case 'timeFilter':
        return `${a[0]} BETWEEN ${from} AND ${to}`;
      case 'timeFrom':
        return from;
      case 'timeTo':
        return to;
      case 'unixEpochFrom':
        return String(Math.floor(ctx.fromMs / 1000));
      case 'unixEpochTo':
        return String(Math.floor(ctx.toMs / 1000));
      case 'timeGroup':
      case 'timeGroupAlias': {
        const seconds = (a[1] === '$__interval' ? ctx.intervalMs : parseInterval(a[1] ?? '')) / 1000;
        const expr = `floor(extract(epoch from ${a[0]})/${seconds})*${seconds}`;
        return name === 'timeGroupAlias' ? `${expr} AS "time"` : expr;
      }
      case 'interval':
        return formatInterval(ctx.intervalMs);
      case 'interval_ms':
        return String(ctx.intervalMs);
      default:
        throw new MacroError(`Unknown SQL macro ${all}`);
    }
  });
}

function influxMacros(query: string, ctx: MacroContext): string {
  const timeFilter = ctx.relative ? `time >= now() - ${ctx.relative}` : `time >= ${ctx.fromMs}ms and time <= ${ctx.toMs}ms`;
  return query
    .replace(/\$timeFilter\b/g, timeFilter)
    .replace(/\$__(\w+)/g, (all, name: string) => {
      if (name === 'interval') return formatInterval(ctx.intervalMs);
      if (name === 'interval_ms') return String(ctx.intervalMs);
      throw new MacroError(`Unknown InfluxQL macro ${all}`);
    })
    .replace(/\$interval\b/g, formatInterval(ctx.intervalMs));
}

function promMacros(query: string, ctx: MacroContext): string {
  // Grafana: max($__interval + scrape interval, 4 × scrape interval).
  const scrape = ctx.scrapeIntervalMs ?? 15_000;
  const rateInterval = Math.max(ctx.intervalMs + scrape, 4 * scrape);
  const range = ctx.toMs - ctx.fromMs;
  return query.replace(/\$__(\w+)/g, (all, name: string) => {
    switch (name) {
      case 'interval':
        return formatInterval(ctx.intervalMs);
      case 'interval_ms':
        return String(ctx.intervalMs);
      case 'rate_interval':
        return formatInterval(rateInterval);
      case 'rate_interval_ms':
        return String(rateInterval);
      case 'range':
        return formatInterval(range);
      case 'range_s':
        return String(Math.floor(range / 1000));
      case 'range_ms':
        return String(range);
      default:
        throw new MacroError(`Unknown PromQL macro ${all}`);
    }
  });
}

const FORMATS = new Set<string>(['regex', 'sqlstring', 'pipe', 'csv', 'raw']);

/** Replaces `$var`, `${var}`, `${var:format}` and `[[var]]` with the selected values; an unknown variable throws. */
function variables(query: string, ctx: MacroContext): string {
  const vars = ctx.variables ?? {};
  return query.replace(/\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)/g, (all, a?: string, fmt?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    if (name.startsWith('__') || name === 'timeFilter' || name === 'interval') return all;
    if (fmt !== undefined && !FORMATS.has(fmt)) throw new MacroError(`Unknown variable format ${all}`);
    const v = vars[name];
    if (!v) throw new MacroError(`Variable $${name} has no value in this test context`);
    return formatVariable(ctx.dialect, v.values, v.allValue, fmt as VariableFormat | undefined);
  });
}

/** The query as Grafana would send it to the datasource. */
export function interpolate(query: string, ctx: MacroContext): string {
  const withVars = variables(query, ctx);
  switch (ctx.dialect) {
    case 'influxql':
      return influxMacros(withVars, ctx);
    case 'sql':
      return sqlMacros(withVars, ctx);
    case 'promql':
      return promMacros(withVars, ctx);
  }
}
