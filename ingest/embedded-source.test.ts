import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker, type InProcessDelivery } from './embedded-broker.ts';
import { EmbeddedSource } from './embedded-source.ts';
import type { IngestStage } from './ingest-stage.ts';

const silent = pino({ level: 'silent' });
const LEAK = JSON.stringify({ readings: [{ deviceId: 'HA-9', kind: 'home_gas_alarm', lelPct: 60 }] });
const routine = (label: string) => JSON.stringify({ label, readings: [{ deviceId: 'HA-1', kind: 'home_gas_alarm', lelPct: 0 }] });

/** A stand-in for the ingest stage: records what it was handed; `hold` decides when the bus "takes" it. */
function fakeIngest(hold: (payload: string) => Promise<void> | void = () => {}) {
  const log: string[] = [];
  const stage = {
    async handle(topic: string, payload: Buffer): Promise<void> {
      const text = payload.toString();
      const label = (JSON.parse(text) as { label?: string }).label ?? `${topic.split('/')[2]}:leak`;
      log.push(`handle ${label}`);
      await hold(text);
      log.push(`taken ${label}`);
    },
  };
  return { stage: stage as unknown as IngestStage, log };
}

describe('EmbeddedSource', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setUp(hold?: (payload: string) => Promise<void> | void, lowestL1 = 25, maxWaiting = 1000, maxInFlight = 1) {
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1' }, silent);
    const url = `mqtt://127.0.0.1:${await broker.start()}`;
    cleanup.push(() => broker.stop());
    const ingest = fakeIngest(hold);
    const urgent: number[] = [];
    const source = new EmbeddedSource({ turnBudgetMs: 5, retryAfterMs: 1, maxWaiting, maxInFlight }, broker, ingest.stage, () => lowestL1, { onUrgent: (n) => urgent.push(n) }, silent);
    await source.start();
    cleanup.push(() => source.stop());
    const gateways = new Map<string, Promise<MqttClient>>();
    // One connection per gateway, however many publishes ask for it at once.
    const gateway = (id: string): Promise<MqttClient> => {
      let client = gateways.get(id);
      if (!client) {
        client = mqtt.connectAsync(url, { clientId: id, reconnectPeriod: 0 });
        gateways.set(id, client);
        cleanup.push(async () => (await client!).endAsync());
      }
      return client;
    };
    const publish = async (id: string, payload: string, log: string[]) => {
      await (await gateway(id)).publishAsync(`gas/v1/${id}/up`, payload, { qos: 1 });
      log.push(`puback ${(JSON.parse(payload) as { label?: string }).label ?? `${id}:leak`}`);
    };
    return { source, log: ingest.log, urgent, publish, gateway };
  }

  /** Resolves once ingest has taken `count` messages. */
  const takenAll = async (log: string[], count: number) => {
    while (log.filter((e) => e.startsWith('taken ')).length < count) await new Promise((r) => setImmediate(r));
  };

  it.each([1000, 1])("hands each gateway's messages over in order, one at a time, losing none (maxWaiting %i)", async (maxWaiting) => {
    const { log, publish } = await setUp(undefined, 25, maxWaiting);
    const labels = (gw: string) => Array.from({ length: 40 }, (_, i) => `${gw}#${i}`);
    await Promise.all(['GW-1', 'GW-2', 'GW-3'].flatMap((gw) => labels(gw).map((l) => publish(gw, routine(l), log))));
    await takenAll(log, 120);
    const handles = log.filter((e) => e.startsWith('handle ')).map((e) => e.slice(7));
    for (const gw of ['GW-1', 'GW-2', 'GW-3']) expect(handles.filter((h) => h.startsWith(`${gw}#`))).toEqual(labels(gw));
    const work = log.filter((e) => !e.startsWith('puback '));
    for (let i = 0; i < work.length; i += 2) {
      // One at a time: each message is taken before the next is handed over.
      expect(work[i]!.replace('handle ', 'taken ')).toBe(work[i + 1]);
    }
  });

  it("puts a possible gas alarm ahead of other gateways' waiting batches, never ahead of its own gateway's", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { log, urgent, publish, gateway } = await setUp((payload) => (payload.includes('"first"') ? held : undefined));
    for (const id of ['GW-A', 'GW-B', 'GW-G', 'GW-LEAK']) await gateway(id);
    const published: Array<Promise<void>> = [publish('GW-A', routine('first'), log)];
    // Wait until ingest holds the first message, so the rest queue up behind it.
    while (!log.includes('handle first')) await new Promise((r) => setImmediate(r));
    published.push(publish('GW-A', routine('A1'), log), publish('GW-G', routine('G1'), log), publish('GW-B', routine('B1'), log), publish('GW-G', routine('G2'), log));
    // Let the four reach the queue before the alarms.
    await new Promise((r) => setTimeout(r, 50));
    published.push(publish('GW-LEAK', LEAK, log));
    await new Promise((r) => setTimeout(r, 50));
    published.push(publish('GW-G', JSON.stringify({ readings: [{ deviceId: 'HA-2', kind: 'home_gas_alarm', lamps: { alarm: true } }] }), log));
    await new Promise((r) => setTimeout(r, 50));
    release();
    await Promise.all(published);
    await takenAll(log, 7);
    const handles = log.filter((e) => e.startsWith('handle ')).map((e) => e.slice(7));
    expect(handles).toEqual(['first', 'GW-LEAK:leak', 'G1', 'G2', 'GW-G:leak', 'A1', 'B1']);
    // The leak went ahead of all four; the G alarm ahead of A1 and B1 (G1 and G2 went with it).
    expect(urgent).toEqual([4, 2]);
  });

  it('leaves order alone when nothing waits, and judges against the lowest set point in use', async () => {
    let lowest = 25;
    const maxWaiting = 1000;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1' }, silent);
    const url = `mqtt://127.0.0.1:${await broker.start()}`;
    cleanup.push(() => broker.stop());
    const ingest = fakeIngest((p) => (p.includes('"first"') ? held : undefined));
    const urgent: number[] = [];
    const source = new EmbeddedSource({ turnBudgetMs: 5, retryAfterMs: 1, maxWaiting, maxInFlight: 1 }, broker, ingest.stage, () => lowest, { onUrgent: (n) => urgent.push(n) }, silent);
    await source.start();
    cleanup.push(() => source.stop());
    const gw = await mqtt.connectAsync(url, { clientId: 'GW-1', reconnectPeriod: 0 });
    cleanup.push(() => gw.endAsync());
    const low = JSON.stringify({ label: 'low', readings: [{ deviceId: 'HA-3', kind: 'home_gas_alarm', lelPct: 15 }] });
    const pending = [gw.publishAsync('gas/v1/GW-1/up', routine('first'), { qos: 1 })];
    while (!ingest.log.includes('handle first')) await new Promise((r) => setImmediate(r));
    pending.push(gw.publishAsync('gas/v1/GW-1/up', routine('x'), { qos: 1 }));
    await new Promise((r) => setTimeout(r, 30));
    pending.push(gw.publishAsync('gas/v1/GW-1/up', low, { qos: 1 }));
    await new Promise((r) => setTimeout(r, 30));
    lowest = 10;
    pending.push(gw.publishAsync('gas/v1/GW-1/up', low, { qos: 1 }));
    await new Promise((r) => setTimeout(r, 30));
    release();
    await Promise.all(pending);
    // 15 %LEL is no alarm at 25, a possible one once a device's set point is 10; and on its own
    // topic it overtakes nobody.
    expect(urgent).toEqual([0]);
  });

  it('with maxInFlight, hands over several messages at once, in order, and never more', async () => {
    const releases: Array<() => void> = [];
    let inHand = 0;
    let most = 0;
    const { log, publish } = await setUp(async () => {
      most = Math.max(most, ++inHand);
      await new Promise<void>((resolve) => releases.push(resolve));
      inHand--;
    }, 25, 1000, 4);
    const labels = Array.from({ length: 30 }, (_, i) => `GW-1#${i}`);
    const published = Promise.all(labels.map((l) => publish('GW-1', routine(l), log)));
    while (log.filter((e) => e.startsWith('taken ')).length < labels.length) {
      // Releases the oldest in hand now and then, so the window slides.
      releases.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    await published;
    expect(most).toBe(4);
    expect(log.filter((e) => e.startsWith('handle ')).map((e) => e.slice(7))).toEqual(labels);
  });

  it('tries a message again when ingest fails on it, ahead of the ones behind it', async () => {
    let failures = 2;
    const { log, publish } = await setUp(() => {
      if (failures-- > 0) throw new Error('bus down');
    });
    await Promise.all([publish('GW-1', routine('one'), log), publish('GW-1', routine('two'), log)]);
    await takenAll(log, 2);
    expect(log.filter((e) => !e.startsWith('puback '))).toEqual(['handle one', 'handle one', 'handle one', 'taken one', 'handle two', 'taken two']);
  });

  it('lets ingest finish what waits when it stops', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { source, log, publish } = await setUp((p) => (p.includes('"first"') ? held : undefined));
    const published = [publish('GW-1', routine('first'), log)];
    while (!log.includes('handle first')) await new Promise((r) => setImmediate(r));
    published.push(publish('GW-1', routine('second'), log));
    await new Promise((r) => setTimeout(r, 30));
    const stopped = source.stop();
    release();
    await stopped;
    await Promise.all(published);
    expect(log.filter((e) => e.startsWith('taken '))).toEqual(['taken first', 'taken second']);
  });
});

describe('EmbeddedSource turns', () => {
  it('lets a routine slice scheduled before the urgent lane took every waiting message find nothing to do', async () => {
    let deliver!: InProcessDelivery;
    const broker = { subscribeInProcess: async (_f: string, d: InProcessDelivery) => void (deliver = d), unsubscribeInProcess: async () => {} };
    const handled: string[] = [];
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    const ingest = {
      handle: (topic: string, payload: Buffer) => {
        handled.push(`${topic.split('/')[2]} ${payload.toString().includes('"lelPct":60') ? 'leak' : 'routine'}`);
        if (handled.length > 1) return Promise.resolve();
        // The first batch is a long one: it spends the routine slice's budget.
        const until = performance.now() + 6;
        while (performance.now() < until);
        return first;
      },
    };
    const errors: unknown[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
    const source = new EmbeddedSource({ turnBudgetMs: 5, retryAfterMs: 1, maxWaiting: 100, maxInFlight: 1 }, broker as unknown as EmbeddedBroker, ingest as unknown as IngestStage, () => 25, { onUrgent() {} }, log);
    await source.start();
    const packet = (gw: string, payload: string) => ({ topic: `gas/v1/${gw}/up`, payload: Buffer.from(payload) }) as never;
    // A's batch goes in hand at once; G's waits.
    deliver(packet('GW-A', routine('a')), () => {});
    deliver(packet('GW-G', routine('g')), () => {});
    // A's batch is taken; G's goes on a routine slice, a turn away (the budget is spent).
    releaseFirst();
    await Promise.resolve();
    await Promise.resolve();
    // Before that slice: a leak on G, which takes G's batch with it through the urgent lane, both
    // at once (the urgent budget is fresh).
    deliver(packet('GW-G', LEAK), () => {});
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(handled).toEqual(['GW-A routine', 'GW-G routine', 'GW-G leak']);
    // The slice found the queue empty and the source still stops cleanly.
    await source.stop();
    expect(errors).toEqual([]);
  });
});
