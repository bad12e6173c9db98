import { describe, expect, it } from 'vitest';
import { escapeUnsafe, jsonProblem, textProblem } from './safe-json.ts';

const bounds = { maxDepth: 4, maxStringChars: 10 };

/** `{"a":{"a":…1…}}` nested `depth` objects deep, built without recursion. */
function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('text the edge refuses', () => {
  it.each([
    { name: 'NUL', text: 'mei\u0000hua', says: 'NUL (U+0000) at 3' },
    { name: 'a lone high surrogate', text: 'ERR-\uD800', says: 'lone surrogate (U+D800) at 4' },
    { name: 'a lone low surrogate', text: '\uDC00ERR', says: 'lone surrogate (U+DC00) at 0' },
    { name: 'escape (terminal control)', text: 'a\u001B[2J', says: 'control character (U+001B)' },
    { name: 'DEL', text: '\u007F', says: 'U+007F' },
    { name: 'a C1 control (CSI)', text: 'x\u009B', says: 'U+009B' },
  ])('refuses $name', ({ text, says }) => {
    expect(textProblem(text)).toContain(says);
    expect(textProblem(escapeUnsafe(text))).toBeUndefined();
  });

  it.each(['故障', '关阀', 'ERR-4', '--F', '请换电池', 'line one\nline two\ttabbed\r', '😀 a surrogate pair', ''])('lets %j pass', (text) => {
    expect(textProblem(text)).toBeUndefined();
    expect(escapeUnsafe(text)).toBe(text);
  });

  it('keeps refused text as visible escapes', () => {
    expect(escapeUnsafe('a\u0000b\uD800c')).toBe('a\\u0000b\\ud800c');
  });
});

describe('jsonProblem', () => {
  it('names the path of a bad string, a bad key, an over-long string', () => {
    expect(jsonProblem({ vendor: 'x\u0000' }, bounds)).toEqual({ code: 'unsafe_text', path: '/vendor', message: 'contains NUL (U+0000) at 1' });
    expect(jsonProblem({ status: ['ok', 'ERR\uD800'] }, bounds)).toMatchObject({ code: 'unsafe_text', path: '/status/1' });
    expect(jsonProblem({ ok: { 'k\u0000': 1 } }, bounds)).toMatchObject({ code: 'unsafe_text', path: '/ok/k\\u0000', message: expect.stringContaining('has a key that contains NUL') });
    expect(jsonProblem({ 'a/b': { note: 'x'.repeat(11) } }, bounds)).toMatchObject({ code: 'too_long', path: '/a~1b/note' });
    expect(jsonProblem({ channels: [{ id: 1 }, { id: 2, 'n\u0001': 'x' }] }, bounds)).toMatchObject({ code: 'unsafe_text', path: '/channels/1/n\\u0001' });
    expect(jsonProblem(['a', ['b', 'x'.repeat(11)]], bounds)).toMatchObject({ code: 'too_long', path: '/1/1' });
    expect(jsonProblem('x\u0000', bounds)).toMatchObject({ code: 'unsafe_text', path: '' });
    expect(jsonProblem('plain', bounds)).toBeUndefined();
    expect(jsonProblem({ a: [1, 'two', null, { b: true }] }, bounds)).toBeUndefined();
  });

  it('bounds depth, counting from where the value sits', () => {
    expect(jsonProblem(nested(4), bounds)).toBeUndefined();
    expect(jsonProblem(nested(5), bounds)).toMatchObject({ code: 'too_deep', path: '/a/a/a/a', message: 'is nested deeper than 4 levels' });
    expect(jsonProblem(nested(3), bounds, 1)).toBeUndefined();
    expect(jsonProblem(nested(4), bounds, 1)).toMatchObject({ code: 'too_deep' });
  });

  it('walks a million levels without overflowing the stack (the walk is not recursive)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    expect(jsonProblem(deep, { maxDepth: 32, maxStringChars: 100 })).toMatchObject({ code: 'too_deep' });
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(() => jsonProblem(deep, { maxDepth: 257, maxStringChars: 100 })).toThrow(RangeError);
  });
});
