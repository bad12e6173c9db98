import { describe, expect, it } from 'vitest';
import { MacroError, escapeRegex, formatInterval, formatVariable, interpolate, parseInterval, type MacroContext } from './grafana-macros.ts';

const FROM = Date.parse('2026-11-22T00:00:00.000Z');
const TO = Date.parse('2026-11-22T06:00:00.000Z');
const base = { fromMs: FROM, toMs: TO, intervalMs: 60_000 } as const;
const ctx = (dialect: MacroContext['dialect'], extra: Partial<MacroContext> = {}): MacroContext => ({ ...base, dialect, ...extra });

describe('grafana macros', () => {
  it.each([
    [1000, '1s'],
    [60_000, '1m'],
    [90_000, '90s'],
    [3_600_000, '1h'],
    [86_400_000, '1d'],
    [250, '250ms'],
  ])('formats the interval %i ms as %s', (ms, text) => {
    expect(formatInterval(ms)).toBe(text);
    expect(parseInterval(text)).toBe(ms);
  });

  it.each([
    ['influxql', ['城东区'], '城东区'],
    ['influxql', ['a.b', 'c|d'], '(a\\.b|c\\|d)'],
    ['promql', ['x', 'y'], '(x|y)'],
    ['sql', ['east', "o'brien"], "'east','o''brien'"],
  ] as const)('formats %s values %j as %s', (dialect, values, text) => {
    expect(formatVariable(dialect, values)).toBe(text);
  });

  it('writes a custom All value verbatim, whatever the format', () => {
    expect(formatVariable('influxql', ['a', 'b'], '.*')).toBe('.*');
    expect(formatVariable('sql', ['a', 'b'], '.*', 'regex')).toBe('.*');
  });

  it('escapes regex specials and slashes (InfluxQL regexes are /…/)', () => {
    expect(escapeRegex('GW/1 (a)+')).toBe('GW\\/1 \\(a\\)\\+');
  });

  it('InfluxQL: $timeFilter relative or absolute, $__interval, variables', () => {
    const q = 'SELECT max("x") FROM "m" WHERE "district" =~ /^$district$/ AND $timeFilter GROUP BY time($__interval)';
    const variables = { district: { values: ['a', 'b'] } };
    expect(interpolate(q, ctx('influxql', { relative: '6h', variables }))).toBe('SELECT max("x") FROM "m" WHERE "district" =~ /^(a|b)$/ AND time >= now() - 6h GROUP BY time(1m)');
    expect(interpolate(q, ctx('influxql', { variables }))).toContain(`time >= ${FROM}ms and time <= ${TO}ms`);
  });

  it('SQL: $__timeFilter, $__timeGroupAlias, $__timeFrom/To, IN ($var) and ${var:regex}', () => {
    const q = "SELECT $__timeGroupAlias(at, '5m'), count(*) FROM t WHERE $__timeFilter(at) AND d IN ($district) AND d ~ '^${district:regex}$' AND x < $__timeTo()";
    expect(interpolate(q, ctx('sql', { variables: { district: { values: ['a', 'b'] } } }))).toBe(
      `SELECT floor(extract(epoch from at)/300)*300 AS "time", count(*) FROM t WHERE at BETWEEN '2026-11-22T00:00:00.000Z' AND '2026-11-22T06:00:00.000Z' AND d IN ('a','b') AND d ~ '^(a|b)$' AND x < '2026-11-22T06:00:00.000Z'`,
    );
  });

  it('PromQL: $__rate_interval is at least four 15 s scrapes', () => {
    expect(interpolate('rate(x[$__rate_interval])', ctx('promql', { intervalMs: 15_000 }))).toBe('rate(x[1m])');
    expect(interpolate('rate(x[$__rate_interval])', ctx('promql', { intervalMs: 300_000 }))).toBe('rate(x[315s])');
  });

  it('PromQL: $__rate_interval follows the scrape interval; the _ms/_s variants are plain numbers', () => {
    expect(interpolate('rate(x[$__rate_interval])', ctx('promql', { intervalMs: 1000, scrapeIntervalMs: 1000 }))).toBe('rate(x[4s])');
    expect(interpolate('rate(x[$__rate_interval])', ctx('promql', { intervalMs: 10_000, scrapeIntervalMs: 1000 }))).toBe('rate(x[11s])');
    expect(interpolate('$__interval_ms $__rate_interval_ms $__range_s $__range_ms', ctx('promql'))).toBe('60000 75000 21600 21600000');
  });

  it('refuses unknown macros, variables and formats instead of passing them through', () => {
    expect(() => interpolate('SELECT $__timeEpoch(at)', ctx('sql'))).toThrow(MacroError);
    expect(() => interpolate('WHERE x = $nope', ctx('sql'))).toThrow(/\$nope/);
    expect(() => interpolate('WHERE x = ${d:json}', ctx('sql', { variables: { d: { values: ['a'] } } }))).toThrow(/format/);
  });
});
