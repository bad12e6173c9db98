/**
 * Response schemas as fast-json-stringify serializes them fastest, with the same output for valid
 * data. fast-json-stringify writes an `anyOf` by trying each alternative with an ajv validator that
 * it compiles on the first response that reaches it: a list of alerts, whose condition is one of
 * thirty literals, cost 60 ms of compiling on the event loop the first time (measured in
 * `bench/storm.ts`, in the middle of a fault storm) and a validator call per alternative on every
 * item after that. TypeBox writes a union of literals, and a nullable scalar, as such an `anyOf`;
 * here they become an `enum` and a list of types, which need no validator.
 */

import type { FastifyInstance } from 'fastify';

type Schema = Record<string, unknown>;

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean']);

const isObject = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `anyOf` of string constants → `enum`; `anyOf` of one scalar schema and null → the scalar with `type: [type, 'null']`. */
function simplifyUnion(schema: Schema, alternatives: Schema[]): Schema | undefined {
  const { anyOf: _anyOf, ...rest } = schema;
  if (alternatives.length > 0 && alternatives.every((a) => typeof a.const === 'string')) {
    return { ...rest, type: 'string', enum: alternatives.map((a) => a.const) };
  }
  if (alternatives.length === 2) {
    const nullAt = alternatives.findIndex((a) => a.type === 'null');
    const other = alternatives[1 - nullAt];
    if (nullAt >= 0 && other && typeof other.type === 'string' && SCALAR_TYPES.has(other.type) && !('anyOf' in other) && !('const' in other)) {
      return { ...rest, ...other, type: [other.type, 'null'] };
    }
  }
  return undefined;
}

/** A copy of `schema` with every union it can simplify simplified, at any depth; the rest unchanged. */
export function forSerialization(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forSerialization);
  if (!isObject(schema)) return schema;
  const anyOf = schema.anyOf;
  if (Array.isArray(anyOf) && anyOf.every(isObject)) {
    const simpler = simplifyUnion(schema, anyOf);
    if (simpler) return simpler;
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    // `enum`, `const`, `default` and `examples` are data, not schemas.
    out[key] = key === 'enum' || key === 'const' || key === 'default' || key === 'examples' ? value : forSerialization(value);
  }
  return out;
}

/** Registers the rewrite for every route added to `app` after this call, its plugins' included. */
export function serializeResponsesWithoutValidators(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    if (route.schema?.response) route.schema = { ...route.schema, response: forSerialization(route.schema.response) };
  });
}
