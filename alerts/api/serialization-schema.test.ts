import { Type } from '@sinclair/typebox';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { forSerialization, serializeResponsesWithoutValidators } from './serialization-schema.ts';

const Item = Type.Object({
  condition: Type.Union([Type.Literal('GAS_ALARM_L1'), Type.Literal('GAS_ALARM_L2'), Type.Literal('VALVE_NOT_CUT')], { description: 'what' }),
  clearedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  count: Type.Union([Type.Integer(), Type.Null()]),
  point: Type.Union([Type.Object({ lat: Type.Number(), lon: Type.Number() }), Type.Null()]),
  kind: Type.Union([Type.String(), Type.Integer()]),
});
const List = Type.Object({ items: Type.Array(Item) });

describe('forSerialization', () => {
  it('turns unions of string literals into an enum and nullable scalars into a list of types', () => {
    const items = (forSerialization(JSON.parse(JSON.stringify(List))) as { properties: { items: { items: { properties: Record<string, unknown> } } } }).properties.items.items.properties;
    expect(items.condition).toEqual({ description: 'what', type: 'string', enum: ['GAS_ALARM_L1', 'GAS_ALARM_L2', 'VALVE_NOT_CUT'] });
    expect(items.clearedAt).toEqual({ type: ['string', 'null'], format: 'date-time' });
    expect(items.count).toEqual({ type: ['integer', 'null'] });
    // Not scalar-or-null, not literals: left as they were.
    expect((items.point as { anyOf: unknown[] }).anyOf).toHaveLength(2);
    expect((items.kind as { anyOf: unknown[] }).anyOf).toHaveLength(2);
  });

  it('serializes exactly what the union schema serializes', async () => {
    const rows = [
      { condition: 'GAS_ALARM_L2', clearedAt: null, count: 3, point: null, kind: 'x' },
      { condition: 'VALVE_NOT_CUT', clearedAt: '2026-12-06T08:00:00.000Z', count: null, point: { lat: 39.9, lon: 116.4 }, kind: 7 },
    ];
    const bodies: string[] = [];
    for (const simplify of [false, true]) {
      const app = Fastify();
      if (simplify) serializeResponsesWithoutValidators(app);
      app.get('/alerts', { schema: { response: { 200: List } } }, async () => ({ items: rows, extra: 'dropped' }));
      bodies.push((await app.inject({ url: '/alerts' })).body);
      await app.close();
    }
    expect(JSON.parse(bodies[1]!)).toEqual({ items: rows });
    expect(bodies[1]).toBe(bodies[0]);
  });
});
