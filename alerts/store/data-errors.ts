import { PipelineError } from '../../app/errors.ts';

/**
 * Whether a failed write failed because of what it wrote (retrying the same record fails the same
 * way: set it aside) rather than because of the store (down, restarting, a deadlock: retry later).
 * SQLSTATE class 22 is a data exception — a NUL in text (22021), `\u0000` or a lone surrogate in
 * jsonb (22P05, 22P02), a value out of range — and 23 an integrity violation; PostgreSQL and PGlite
 * answer alike. A RangeError or TypeError thrown while building the statement (an invalid date, a
 * value JSON cannot hold) is the record's too. Everything else, connection errors and unknown ones
 * included, is taken as transient, so a store outage never sets a record aside.
 */
export function isDataError(err: unknown): boolean {
  // Ours (store unavailable, ticket not found): never the record's text.
  if (err instanceof PipelineError || !(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('22') || code.startsWith('23');
  if (code !== undefined) return false;
  return err instanceof RangeError || err instanceof TypeError;
}

/** Deepest nesting kept when a record is made safe; deeper values are replaced by a marker. */
const MAX_DEPTH = 16;
const MAX_TEXT_CHARS = 4096;
const MAX_ENTRIES = 1000;
const TRUNCATED = '[truncated]';

/**
 * NUL and the other C0/C1 controls (tab, newline and carriage return kept) are removed and lone
 * UTF-16 surrogates replaced by U+FFFD: what text and jsonb columns can hold.
 */
export function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  let out = text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g, '').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if (out.length > MAX_TEXT_CHARS) out = `${out.slice(0, MAX_TEXT_CHARS)}…`;
  return out;
}

/**
 * A copy of `value` the store can hold: text made safe (`safeText`), numbers that are not finite
 * set to null, depth, entries and length bounded; keys such as `__proto__` stay plain data. The
 * paths it changed are pushed to `changed`.
 */
export function safeValue(value: unknown, changed: string[], path = '', depth = 0): unknown {
  if (typeof value === 'string') {
    const safe = safeText(value);
    if (safe !== value) changed.push(path || '(value)');
    return safe;
  }
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
    changed.push(path || '(value)');
    return null;
  }
  if (typeof value === 'bigint') {
    changed.push(path || '(value)');
    return value.toString();
  }
  if (value === null || typeof value === 'boolean' || value === undefined) return value;
  if (typeof value !== 'object') {
    changed.push(path || '(value)');
    return null;
  }
  if (depth >= MAX_DEPTH) {
    changed.push(path || '(value)');
    return TRUNCATED;
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_ENTRIES) changed.push(path || '(value)');
    return value.slice(0, MAX_ENTRIES).map((v, i) => safeValue(v, changed, `${path}[${i}]`, depth + 1));
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_ENTRIES) changed.push(path || '(value)');
  // fromEntries defines own properties, so a `__proto__` key stays a key and sets no prototype.
  return Object.fromEntries(
    entries.slice(0, MAX_ENTRIES).map(([k, v]) => {
      const key = safeText(k);
      const at = path ? `${path}.${key}` : key;
      if (key !== k) changed.push(at);
      return [key, safeValue(v, changed, at, depth + 1)];
    }),
  );
}
