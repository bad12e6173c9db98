/**
 * What text and structure the edge lets in (MQTT uplinks, HTTP bodies, query strings, registry
 * records). Decided once here and applied where data enters, so nothing behind the edge (SQL,
 * snapshots, logs, pushes) has to cope with it:
 *
 * - a string (or object key) holding NUL, a lone UTF-16 surrogate or a control character other
 *   than tab, line feed and carriage return is refused, not stripped: such a value is corrupt or
 *   hostile, and a cleaned-up status token would be judged as if the device had shown it;
 * - nesting is bounded before anything walks the value recursively (Ajv, JSON.stringify, fastify's
 *   serializer all recurse and overflow the stack some thousand levels down);
 * - strings are bounded in length where no schema bounds them (unknown fields are kept).
 *
 * The walk recurses no deeper than the bound (at most MAX_JSON_DEPTH), so a value nested a million
 * levels deep is refused, not a crash.
 */

export interface JsonBounds {
  /** Deepest nesting of objects and arrays allowed; the value itself, when a container, is depth 1. */
  maxDepth: number;
  /** Longest string or key allowed, UTF-16 code units. */
  maxStringChars: number;
}

export type JsonProblemCode = 'too_deep' | 'unsafe_text' | 'too_long';

export interface JsonProblem {
  code: JsonProblemCode;
  /** JSON pointer to the offending value, relative to the value checked (`/status/0`, '' for the value itself). */
  path: string;
  /** What is wrong, without the offending text itself (it must not reach a log line). */
  message: string;
}

// C0 controls but tab, LF and CR; DEL; C1 controls; a high surrogate not followed by a low one; a low one not preceded by a high one.
const UNSAFE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');

const codePoint = (unit: number): string => `U+${unit.toString(16).toUpperCase().padStart(4, '0')}`;

/** Why a string may not pass the edge (`contains U+0000 at 3`), or undefined when it may. */
export function textProblem(text: string): string | undefined {
  const m = UNSAFE.exec(text);
  if (!m) return undefined;
  const unit = m[0].charCodeAt(0);
  const what = unit === 0 ? 'NUL' : unit >= 0xd800 && unit <= 0xdfff ? 'a lone surrogate' : 'a control character';
  return `contains ${what} (${codePoint(unit)}) at ${m.index}`;
}

/**
 * Text that was refused, fit to keep as evidence (dead letters): every unsafe character written
 * as a visible `\uXXXX` escape, so the stored text itself is safe.
 */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const escapePointer = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

/** How deep jsonProblem may be asked to look: it recurses one level per level of nesting, and no deeper. */
export const MAX_JSON_DEPTH = 256;

/**
 * The first problem found in a parsed JSON value (depth, unsafe text, over-long string or key), or
 * undefined when it may pass. `startDepth` is how deep the value already sits in what holds it.
 * Every uplink reading passes here: a value that passes costs no allocation, and the path is built
 * only for a problem, on the way back out.
 */
export function jsonProblem(value: unknown, bounds: JsonBounds, startDepth = 0): JsonProblem | undefined {
  if (bounds.maxDepth > MAX_JSON_DEPTH) throw new RangeError(`maxDepth ${bounds.maxDepth} is over ${MAX_JSON_DEPTH}`);
  return problemIn(value, bounds, startDepth);
}

function problemIn(v: unknown, bounds: JsonBounds, depth: number): JsonProblem | undefined {
  if (typeof v === 'string') {
    const problem = stringProblem(v, bounds, 'value');
    return problem ? { ...problem, path: '' } : undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  if (depth + 1 > bounds.maxDepth) return { code: 'too_deep', path: '', message: `is nested deeper than ${bounds.maxDepth} levels` };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const problem = problemIn(v[i], bounds, depth + 1);
      if (problem) return { ...problem, path: `/${i}${problem.path}` };
    }
    return undefined;
  }
  for (const key in v as Record<string, unknown>) {
    if (!Object.hasOwn(v as object, key)) continue;
    const keyProblem = stringProblem(key, bounds, 'key');
    if (keyProblem) return { ...keyProblem, path: `/${escapePointer(escapeUnsafe(key.slice(0, 64)))}` };
    const problem = problemIn((v as Record<string, unknown>)[key], bounds, depth + 1);
    if (problem) return { ...problem, path: `/${escapePointer(key)}${problem.path}` };
  }
  return undefined;
}

function stringProblem(text: string, bounds: JsonBounds, what: 'key' | 'value'): Omit<JsonProblem, 'path'> | undefined {
  if (text.length > bounds.maxStringChars) return { code: 'too_long', message: `${what === 'key' ? 'has a key' : 'is'} longer than ${bounds.maxStringChars} characters` };
  const problem = textProblem(text);
  return problem ? { code: 'unsafe_text', message: what === 'key' ? `has a key that ${problem}` : problem } : undefined;
}
