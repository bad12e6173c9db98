import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { REJECT_REASONS } from '../contracts/messages.ts';
import { startTestPipeline, type TestPipeline } from './harness.ts';

/**
 * Issue 13: hostile inputs derived from the v1 uplink schema (contracts/uplink-v1.schema.json) by
 * fast-check, with a fixed seed and a fixed number of runs. Each MQTT run publishes one reading
 * (of every kind the schema knows, each with one field made hostile: NUL, lone surrogates,
 * control characters, over-long text, deep nesting, out-of-range numbers, NaN-like strings,
 * wrong types, `__proto__`/`constructor` keys) or one hostile batch, while a good gateway keeps
 * reporting a real leak. Per run: the message is accounted for exactly once — one reading
 * accepted or one reject counted under a known reason — and no alert is raised for a hostile
 * device. Then hostile query strings and JSON bodies at the API: never a 5xx. At the end the leak
 * is raised and ticketed, the process still answers, and nothing was polluted.
 */

const SEED = 20_261_313;
const MQTT_RUNS = 300;
const HTTP_RUNS = 150;
const HOSTILE_GW = 'GW-HX';
const GOOD_GW = 'GW-GOOD';

type JsonSchema = { $ref?: string; type?: string | string[]; enum?: unknown[]; const?: unknown; maxLength?: number; minimum?: number; maximum?: number; maxItems?: number; items?: JsonSchema; properties?: Record<string, JsonSchema>; required?: string[]; anyOf?: JsonSchema[] };
const contract = JSON.parse(readFileSync(new URL('../contracts/uplink-v1.schema.json', import.meta.url), 'utf8')) as { definitions: Record<string, JsonSchema & { allOf?: JsonSchema[] }> };
const defs = contract.definitions;
const resolve = (s: JsonSchema): JsonSchema => (s.$ref ? resolve(defs[s.$ref.split('/').pop()!]!) : s);
const KINDS = defs.reading!.properties!.kind!.enum as string[];
/** Every field a reading of `kind` may carry, as the schema declares it. */
const fieldsOf = (kind: string): Record<string, JsonSchema> => ({ ...defs.readingBase!.properties, ...defs[kind]!.properties });

// --- hostile values, by what the schema expects ----------------------------------------------

/** Characters text must never carry downstream: NUL, lone surrogates, C0/C1 controls, DEL. */
const badChar = fc.constantFrom('\u0000', '\ud800', '\udfff', '\u0007', '\u001b', '\u007f', '\u0085', '\u0008');
const hostileText = (maxLength = 32): fc.Arbitrary<string> =>
  fc.oneof(
    fc.tuple(fc.string({ maxLength: 6 }), badChar, fc.string({ maxLength: 6 })).map(([a, c, b]) => `${a}${c}${b}`),
    fc.constant('x'.repeat(maxLength + 1)),
    fc.constant('界'.repeat(20_000)),
  );
/** Deep nesting as a token the serialiser expands to raw JSON text (an object 5,000 deep would overflow the test's own stack). */
const deep = (depth: number): string => `@@deep:${depth}@@`;
const serialise = (value: unknown): string => JSON.stringify(value).replace(/"@@deep:(\d+)@@"/g, (_, n: string) => `${'{"a":'.repeat(Number(n))}1${'}'.repeat(Number(n))}`);
const protoKeys = fc.constantFrom('__proto__', 'constructor', 'prototype');
/** An object whose own key is `__proto__` (as JSON.parse makes it): it must stay a key, never a prototype. */
const pollutingObject = protoKeys.map((key) => JSON.parse(`{"${key}":{"polluted":true,"alarm":true,"fault":true,"lelPct":99}}`) as Record<string, unknown>);
const nanLike = fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' 1', '1,5');
const nested = fc.constantFrom(64, 1_000, 5_000).map(deep);
/** A value of another JSON type than `types` (never null: null in an optional field means "not reported"). */
const wrongType = (types: string[]): fc.Arbitrary<unknown> => {
  const all: Array<[string, fc.Arbitrary<unknown>]> = [
    ['string', fc.constant('12')],
    ['number', fc.constantFrom(0, -1, 1e308)],
    ['integer', fc.constant(1.5)],
    ['boolean', fc.boolean()],
    ['array', fc.constant([1, [2]])],
    ['object', fc.constant({ v: 1 })],
  ];
  const others = all.filter(([t]) => !types.includes(t) && !(t === 'integer' && types.includes('number')) && !(t === 'number' && types.includes('integer')));
  return fc.oneof(...others.map(([, a]) => a));
};

function hostileFor(raw: JsonSchema): fc.Arbitrary<unknown> {
  const s = resolve(raw);
  if (s.anyOf) return fc.oneof(...s.anyOf.map((a) => hostileFor(a)));
  const types = s.type === undefined ? (s.enum ? ['string'] : []) : Array.isArray(s.type) ? s.type : [s.type];
  const alts: Array<fc.Arbitrary<unknown>> = [wrongType(types), nested];
  if (types.includes('number') || types.includes('integer')) {
    const min = s.minimum ?? -1e6;
    const max = s.maximum ?? 1e10;
    alts.push(fc.constantFrom(min - 1, max + 1, -1e308, 1e308, Number.MAX_SAFE_INTEGER + 2), fc.oneof(fc.double({ min: max, noNaN: true, noDefaultInfinity: true, minExcluded: true }), fc.double({ max: min, noNaN: true, noDefaultInfinity: true, maxExcluded: true })), nanLike);
  }
  if (types.includes('string') || s.enum || s.const !== undefined) alts.push(hostileText(s.maxLength ?? 32));
  if (s.enum) alts.push(fc.constantFrom(...(s.enum as string[]).map((e) => String(e).toUpperCase()), ...(s.enum as string[]).map((e) => ` ${String(e)}`)));
  if (types.includes('array')) {
    alts.push(fc.constant(Array.from({ length: (s.maxItems ?? 32) + 1 }, () => (s.items ? 'x' : 1))));
    if (s.items) alts.push(fc.array(hostileFor(s.items), { minLength: 1, maxLength: 3 }));
  }
  if (types.includes('object')) {
    alts.push(pollutingObject);
    if (s.properties) alts.push(fc.constantFrom(...Object.keys(s.properties)).chain((k) => hostileFor(s.properties![k]!).map((v) => ({ [k]: v }))));
  }
  return fc.oneof(...alts);
}

// --- hostile messages ---------------------------------------------------------------------------

type Hostile = { what: string; value: unknown; deviceId: string; build: (seq: number, atIso: string) => Record<string, unknown> };

/** One reading of a schema kind, its required fields benign, one field (or an extra key) hostile. */
const hostileReading: fc.Arbitrary<Hostile> = fc
  .tuple(fc.constantFrom(...KINDS), fc.nat({ max: 49 }))
  .chain(([kind, n]) => {
    const fields = fieldsOf(kind);
    const field = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...Object.keys(fields)).chain((name) => hostileFor(fields[name]!).map((value) => ({ name, value }))) },
      { weight: 1, arbitrary: fc.tuple(protoKeys, fc.oneof(pollutingObject, nested, hostileText())).map(([name, value]) => ({ name, value })) },
    );
    return field.map(({ name, value }) => ({
      what: `${kind}.${name}`,
      value,
      deviceId: `HX-${n}`,
      build: (seq: number, atIso: string) => {
        const reading: Record<string, unknown> = { deviceId: `HX-${n}`, kind, at: atIso };
        Object.defineProperty(reading, name, { value, enumerable: true, configurable: true, writable: true });
        return { gatewayId: HOSTILE_GW, seq, sentAt: atIso, readings: [reading] };
      },
    }));
  });

/** A batch whose envelope is hostile, around one benign reading. */
const batchFields = defs.batchEnvelope!.properties!;
const hostileBatch: fc.Arbitrary<Hostile> = fc
  .oneof(
    fc.constantFrom('gatewayId', 'seq', 'sentAt', 'readings').chain((name) => hostileFor(batchFields[name]!).map((value) => ({ name, value }))),
    fc.tuple(protoKeys, fc.oneof(pollutingObject, nested)).map(([name, value]) => ({ name, value })),
    fc.constant({ name: 'readings', value: [] as unknown }),
  )
  .map(({ name, value }) => ({
    what: `batch.${name}`,
    value,
    deviceId: 'HX-B',
    build: (seq: number, atIso: string) => {
      const batch: Record<string, unknown> = { gatewayId: HOSTILE_GW, seq, sentAt: atIso, readings: [{ deviceId: 'HX-B', kind: 'household_meter', at: atIso }] };
      Object.defineProperty(batch, name, { value, enumerable: true, configurable: true, writable: true });
      return batch;
    },
  }));

// --- hostile HTTP requests ------------------------------------------------------------------------

/** Percent-encodes any string, lone surrogates included (as the bytes a careless client sends). */
const pct = (text: string): string =>
  [...text]
    .map((ch) => {
      const code = ch.charCodeAt(0);
      if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
      return encodeURIComponent(ch);
    })
    .join('');

const QUERY_ROUTES: Array<[string, string]> = [
  ['/tickets', 'assignee'], ['/tickets', 'deviceId'], ['/tickets', 'status'], ['/tickets', 'limit'], ['/alerts', 'deviceId'], ['/alerts', 'condition'],
  ['/audit', 'actor'], ['/oncall', 'district'], ['/customer-notices', 'deviceId'], ['/dead-letters', 'reason'], ['/reports/daily', 'date'],
];
const BODY_ROUTES: Array<[string, string]> = [
  ['POST', '/tickets/T999999/comments'], ['POST', '/tickets'], ['PUT', '/devices/HX-API'], ['POST', '/oncall/overrides'], ['PUT', '/oncall/people/HX-P'], ['POST', '/tokens'],
];
const hostileJsonValue: fc.Arbitrary<unknown> = fc.oneof(hostileText(), nested, pollutingObject, nanLike, fc.constantFrom(null, 1e308, -0, [], {}), fc.jsonValue({ maxDepth: 3 }));
type Request = { method: string; path: string; body?: string; contentType?: string };
const hostileRequest: fc.Arbitrary<Request> = fc.oneof(
  fc.tuple(fc.constantFrom(...QUERY_ROUTES), fc.oneof(hostileText(), nanLike, fc.constantFrom('%', '%zz', '&&&', '[]', 'a=b'))).map(([[path, key], value]) => ({ method: 'GET', path: `${path}?${key}=${pct(value)}` })),
  fc.tuple(fc.constantFrom('/devices/', '/alerts/', '/tickets/', '/oncall/teams/'), hostileText()).map(([path, id]) => ({ method: 'GET', path: `${path}${pct(id)}` })),
  fc.tuple(fc.constantFrom(...BODY_ROUTES), fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), protoKeys), hostileJsonValue, { maxKeys: 4 })).map(([[method, path], body]) => ({ method, path, body: serialise(body) })),
  fc.tuple(fc.constantFrom(...BODY_ROUTES), fc.constantFrom(`${'['.repeat(5_000)}${']'.repeat(5_000)}`, '{"a":', '\u0000', '{"__proto__":{"admin":true}}', 'null', '1e999')).map(([[method, path], body]) => ({ method, path, body })),
);

// --- the run ------------------------------------------------------------------------------------

async function counterTotal(pipeline: TestPipeline, name: string): Promise<Map<string, number>> {
  const metric = pipeline.metrics.registry.getSingleMetric(name);
  const out = new Map<string, number>();
  for (const v of (await metric!.get()).values) out.set(String(v.labels.reason ?? ''), v.value);
  return out;
}
const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

describe('fuzzing the running pipeline with schema-derived hostile inputs (fast-check)', () => {
  it(`${MQTT_RUNS} hostile uplinks and ${HTTP_RUNS} hostile API requests (seed ${SEED}): each counted once under a reason, no alert for a hostile device, the concurrent leak raised and ticketed`, async () => {
    const pipeline = await startTestPipeline({ settings: { tickets: { stormGroupWaitMs: 0 } } });
    const hostile = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: HOSTILE_GW });
    const good = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: GOOD_GW });
    const at = () => new Date(pipeline.clock.now()).toISOString();
    let seq = 0;
    let goodSeq = 0;
    const sendGood = async (): Promise<number> => {
      const readings = [
        { deviceId: 'HM-G1', kind: 'household_meter', at: at(), volumeM3: 100, batteryV: 3.6, valve: 'open' },
        { deviceId: 'HA-LEAK', kind: 'home_gas_alarm', at: at(), lelPct: 40 },
      ];
      await good.publishAsync(`gas/v1/${GOOD_GW}/up`, JSON.stringify({ gatewayId: GOOD_GW, seq: ++goodSeq, sentAt: at(), readings }), { qos: 1 });
      return readings.length;
    };
    const reasons = new Set<string>(REJECT_REASONS);
    const readings = () => pipeline.metric('gas_ingest_readings_total');
    let tried = 0;
    /** Outcomes by reject reason (or `accepted`), printed so a reader sees what the seed exercised. */
    const outcomes = new Map<string, number>();
    const statuses = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof({ weight: 4, arbitrary: hostileReading }, { weight: 1, arbitrary: hostileBatch }), async (input) => {
          tried++;
          const rejectsBefore = await counterTotal(pipeline, 'gas_ingest_rejects_total');
          const readingsBefore = await readings();
          // The good gateway's leak goes in beside every tenth hostile message.
          const [goodReadings] = await Promise.all([
            tried % 10 === 1 ? sendGood() : Promise.resolve(0),
            hostile.publishAsync(`gas/v1/${HOSTILE_GW}/up`, serialise(input.build(++seq, at())), { qos: 1 }),
          ]);
          const accounted = async () => sum(await counterTotal(pipeline, 'gas_ingest_rejects_total')) - sum(rejectsBefore) + (await readings()) - readingsBefore - goodReadings;
          await pipeline.until(`${input.what} accounted for`, async () => (await accounted()) >= 1, 5_000).catch(() => undefined);
          expect(await accounted(), `${input.what}: one reading accepted or one reject counted`).toBe(1);
          const rejectsAfter = await counterTotal(pipeline, 'gas_ingest_rejects_total');
          let outcome = 'accepted';
          for (const [reason, n] of rejectsAfter) {
            if (n === (rejectsBefore.get(reason) ?? 0)) continue;
            expect(reasons, `${input.what}: reject reason`).toContain(reason);
            outcome = reason;
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          expect(pipeline.alerts.activeFor(input.deviceId), `${input.what}: alert for a hostile device`).toEqual([]);
        }),
        { seed: SEED, numRuns: MQTT_RUNS, endOnFailure: false, verbose: 1 },
      );
      console.info(`fuzz-schema: ${tried} MQTT inputs tried (seed ${SEED}, ${MQTT_RUNS} runs): ${JSON.stringify(Object.fromEntries(outcomes))}`);

      const headers = { authorization: `Bearer ${pipeline.adminToken}` };
      let requests = 0;
      await fc.assert(
        fc.asyncProperty(hostileRequest, async (req) => {
          requests++;
          const res = await fetch(`${pipeline.httpUrl}/api/v1${req.path}`, {
            method: req.method,
            headers: req.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
            ...(req.body === undefined ? {} : { body: req.body }),
          });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${req.method} ${req.path.slice(0, 200)}`).toBeLessThan(500);
        }),
        { seed: SEED, numRuns: HTTP_RUNS, endOnFailure: false, verbose: 1 },
      );
      console.info(`fuzz-schema: ${requests} API requests tried (seed ${SEED}, ${HTTP_RUNS} runs), by status: ${JSON.stringify(Object.fromEntries(statuses))}`);

      // The leak beside the fuzz: raised, and ticketed.
      await sendGood();
      await pipeline.until('leak raised', async () => pipeline.alerts.activeFor('HA-LEAK').some((a) => a.condition.startsWith('GAS_ALARM')), 10_000);
      const tickets = await pipeline.until(
        'leak ticketed',
        async () => {
          const { items } = await pipeline.get<{ items: Array<{ deviceId: string; priority: string }> }>('/tickets?deviceId=HA-LEAK');
          return items.length > 0 ? items : undefined;
        },
        15_000,
      );
      expect(tickets[0]).toMatchObject({ deviceId: 'HA-LEAK' });

      // No alert for any hostile device, nothing polluted, every dead letter under a reason, and the process still answers.
      const hostileAlerts = pipeline.alerts.query({ limit: 10_000 }).filter((a) => a.gatewayId === HOSTILE_GW || a.deviceId.startsWith('HX-'));
      expect(hostileAlerts.map((a) => `${a.deviceId} ${a.condition}`)).toEqual([]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const letters = await pipeline.get<{ items: Array<{ reason: string }> }>('/dead-letters?limit=1000');
      expect(letters.items.length).toBeGreaterThan(0);
      for (const l of letters.items) expect(reasons).toContain(l.reason);
      expect((await fetch(`${pipeline.httpUrl}/healthz`)).ok).toBe(true);
      expect(await pipeline.metric('gas_ingest_duplicate_batches_total')).toBe(0);
    } finally {
      await hostile.endAsync(true);
      await good.endAsync();
      await pipeline.close();
    }
  }, 120_000);
});
