import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
// mqtt.js's own packet codec: reads both directions of ingest's connection, through a relay.
import { parser as packetParser, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedBroker } from './embedded-broker.ts';
import type { IngestStage } from './ingest-stage.ts';
import { MqttSource } from './mqtt-source.ts';
import { TurnBudget } from './uplink-lanes.ts';

const silent = pino({ level: 'silent' });

type Event =
  | { kind: 'delivered'; index: number; messageId: number }
  | { kind: 'handle'; index: number }
  | { kind: 'taken'; index: number }
  | { kind: 'puback'; messageId: number };

/** A TCP relay in front of the broker that logs every packet of ingest's connection, in either direction. */
interface Tap {
  url: string;
  close: () => Promise<void>;
  /** Keeps what the broker sends ingest until `release`, which passes it on in one write. */
  hold: () => void;
  release: () => void;
}

async function tapped(brokerPort: number, events: Event[]): Promise<Tap> {
  let held: Buffer[] | undefined;
  let toIngest: Socket | undefined;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(brokerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const inbound = packetParser();
    inbound.on('packet', (p: Packet) => {
      if (p.cmd === 'publish') events.push({ kind: 'delivered', index: Number(p.payload.toString()), messageId: p.messageId! });
    });
    const outbound = packetParser();
    outbound.on('packet', (p: Packet) => {
      if (p.cmd === 'puback') events.push({ kind: 'puback', messageId: p.messageId! });
    });
    toIngest = client;
    upstream.on('data', (chunk: Buffer) => {
      inbound.parse(chunk);
      if (held) held.push(chunk);
      else client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => outbound.parse(chunk));
    client.pipe(upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  relay.listen(0, '127.0.0.1');
  await once(relay, 'listening');
  const { port } = relay.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    hold: () => void (held ??= []),
    release: () => {
      if (held && held.length > 0) toIngest?.write(Buffer.concat(held));
      held = undefined;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => relay.close(() => resolve()));
    },
  };
}

/** A stand-in for the ingest stage: payloads are message numbers; `hold` decides when the bus "takes" one. */
function fakeIngest(events: Event[], hold: (index: number) => Promise<void> | void = () => {}) {
  const handled: number[] = [];
  const stage = {
    async handle(_topic: string, payload: Buffer): Promise<void> {
      const index = Number(payload.toString());
      events.push({ kind: 'handle', index });
      handled.push(index);
      await hold(index);
      events.push({ kind: 'taken', index });
    },
  };
  return { stage: stage as unknown as IngestStage, handled };
}

describe('MqttSource', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setUp(turnBudgetMs: number, hold?: (index: number) => Promise<void> | void, maxInFlight = 1) {
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1' }, silent);
    const brokerPort = await broker.start();
    const url = `mqtt://127.0.0.1:${brokerPort}`;
    cleanup.push(() => broker.stop());
    const events: Event[] = [];
    const ingest = fakeIngest(events, hold);
    const tap = await tapped(brokerPort, events);
    cleanup.push(() => tap.close());
    const source = new MqttSource({ url: tap.url, clientId: `ingest-${turnBudgetMs}`, reconnectPeriodMs: 100, turnBudgetMs, maxInFlight }, ingest.stage, () => 25, { onUrgent: () => {} }, silent);
    await source.start();
    cleanup.push(() => source.stop());
    const gateway: MqttClient = await mqtt.connectAsync(url, { clientId: 'GW-1', reconnectPeriod: 0 });
    cleanup.push(() => gateway.endAsync());
    const publishAll = (count: number) =>
      Promise.all(Array.from({ length: count }, (_, i) => gateway.publishAsync('gas/v1/GW-1/up', String(i), { qos: 1 })));
    return { events, handled: ingest.handled, publishAll, tap, gateway, url, source };
  }

  /** Resolves once every one of `count` messages has been acknowledged by ingest. */
  const acked = (events: Event[], count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (events.filter((e) => e.kind === 'puback').length >= count ? resolve() : setImmediate(check));
      check();
    });

  it.each([0, 5])('hands messages over in order and acknowledges each once, after the bus took it (turn budget %i ms)', async (budgetMs) => {
    const count = 300;
    const { events, publishAll } = await setUp(budgetMs);
    await publishAll(count);
    await acked(events, count);

    const handles = events.filter((e) => e.kind === 'handle').map((e) => (e as { index: number }).index);
    expect(handles).toEqual(Array.from({ length: count }, (_, i) => i));
    // The broker's message id of each delivery, then where ingest acknowledged it.
    const messageIdOf = new Map<number, number>();
    for (const e of events) if (e.kind === 'delivered') messageIdOf.set(e.index, e.messageId);
    const at = (pred: (e: Event) => boolean) => events.findIndex(pred);
    for (let i = 0; i < count; i++) {
      const id = messageIdOf.get(i)!;
      const taken = at((e) => e.kind === 'taken' && e.index === i);
      const delivered = at((e) => e.kind === 'delivered' && e.index === i);
      // The first PUBACK with this id after the delivery is this message's; none comes before the bus took it.
      const puback = events.findIndex((e, k) => k > delivered && e.kind === 'puback' && e.messageId === id);
      expect(taken).toBeGreaterThan(-1);
      expect(puback).toBeGreaterThan(taken);
      // One at a time: the next message starts only after this one was taken.
      if (i + 1 < count) expect(at((e) => e.kind === 'handle' && e.index === i + 1)).toBeGreaterThan(taken);
    }
    expect(events.filter((e) => e.kind === 'puback')).toHaveLength(count);
  });

  it('works on up to maxInFlight messages at once and acknowledges them in the order received, each after the bus took it', async () => {
    const count = 200;
    const maxInFlight = 8;
    let handling = 0;
    let most = 0;
    // The bus takes each message after a delay that varies, so later ones often finish first.
    const { events, publishAll } = await setUp(5, async (index) => {
      most = Math.max(most, ++handling);
      await new Promise((resolve) => setTimeout(resolve, (index * 7) % 5));
      handling--;
    }, maxInFlight);
    await publishAll(count);
    await acked(events, count);

    expect(most).toBe(maxInFlight);
    const delivered = events.filter((e) => e.kind === 'delivered') as Array<{ index: number; messageId: number }>;
    const pubacks = events.filter((e) => e.kind === 'puback') as Array<{ messageId: number }>;
    expect(pubacks.map((p) => p.messageId)).toEqual(delivered.map((d) => d.messageId));
    const taken = events.map((e) => (e.kind === 'taken' ? e.index : -1));
    const done = new Set<number>();
    let next = 0;
    for (const e of events) {
      if (e.kind === 'taken') done.add(e.index);
      if (e.kind === 'puback') {
        // The next PUBACK is message `next`'s, and it and every earlier one are on the bus.
        for (let i = 0; i <= next; i++) expect(done.has(i)).toBe(true);
        next++;
      }
    }
    expect(taken.filter((i) => i >= 0)).not.toEqual(Array.from({ length: count }, (_, i) => i));
  });

  it('after a message fails downstream, acknowledges none after it and reconnects: the broker sends it and the rest again', async () => {
    const count = 20;
    let failed = false;
    const { events, handled, publishAll } = await setUp(5, (index) => {
      if (index === 7 && !failed) {
        failed = true;
        throw new Error('bus down');
      }
    }, 4);
    await publishAll(count);
    // Every message taken at least once, and each PUBACK only once the message and all before it were.
    while (new Set(events.filter((e) => e.kind === 'taken').map((e) => (e as { index: number }).index)).size < count) await new Promise((r) => setImmediate(r));
    expect(failed).toBe(true);
    expect(handled.filter((i) => i === 7).length).toBeGreaterThanOrEqual(2);
    const firstPuback = (messageId: number) => events.findIndex((e) => e.kind === 'puback' && e.messageId === messageId);
    const delivered = events.filter((e) => e.kind === 'delivered') as Array<{ index: number; messageId: number }>;
    const seven = delivered.find((d) => d.index === 7)!;
    const firstTakenSeven = events.findIndex((e) => e.kind === 'taken' && e.index === 7);
    // No message after 7 was acknowledged before 7 itself was on the bus.
    for (const d of delivered.filter((d) => d.index > 7)) {
      const at = firstPuback(d.messageId);
      if (at >= 0) expect(at).toBeGreaterThan(firstTakenSeven);
    }
    expect(firstPuback(seven.messageId)).toBeGreaterThan(firstTakenSeven);
  });

  it("hands a possible gas alarm that would wait to ingest ahead of other gateways' waiting messages, and still acknowledges in the order received", async () => {
    const leak = JSON.stringify({ readings: [{ deviceId: 'HA-9', kind: 'home_gas_alarm', lelPct: 60 }] });
    // Turn budget 0: after the first message of a turn, the others wait for later turns.
    const { events, handled, publishAll, tap, url } = await setUp(0, undefined, 20);
    const leaking: MqttClient = await mqtt.connectAsync(url, { clientId: 'GW-LEAK', reconnectPeriod: 0 });
    cleanup.push(() => leaking.endAsync());
    tap.hold();
    await publishAll(10);
    await leaking.publishAsync('gas/v1/GW-LEAK/up', leak, { qos: 1 });
    while (events.filter((e) => e.kind === 'delivered').length < 11) await new Promise((r) => setImmediate(r));
    // All eleven reach ingest's connection at once, the leak last.
    tap.release();
    await acked(events, 11);
    expect(handled).toEqual([0, Number.NaN, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const delivered = events.filter((e) => e.kind === 'delivered') as Array<{ messageId: number }>;
    const pubacks = events.filter((e) => e.kind === 'puback') as Array<{ messageId: number }>;
    expect(pubacks.map((p) => p.messageId)).toEqual(delivered.map((d) => d.messageId));
  });

  it('stops without waiting for ever on a message the bus never takes, and acknowledges none of what it did not finish', async () => {
    const { events, handled, publishAll, source } = await setUp(5, () => new Promise<void>(() => {}), 4);
    void publishAll(2);
    while (handled.length < 2) await new Promise((r) => setImmediate(r));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let done = false;
      const stopped = source.stop().then(() => (done = true));
      await vi.advanceTimersByTimeAsync(4_900);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(100);
      await stopped;
    } finally {
      vi.useRealTimers();
    }
    expect(events.filter((e) => e.kind === 'puback')).toHaveLength(0);
  });

  it('works through a burst of buffered messages over several turns of the event loop', async () => {
    const count = 50;
    let releaseFirst!: () => void;
    const first = new Promise<void>((resolve) => (releaseFirst = resolve));
    // The first message is held until the broker has passed every message on to ingest's
    // connection, so the other 49 are all waiting there when it is released.
    const { events, handled, publishAll } = await setUp(0, (index) => (index === 0 ? first : undefined));
    await publishAll(count);
    while (handled.length === 0 || events.filter((e) => e.kind === 'delivered').length < count) await new Promise((r) => setImmediate(r));
    releaseFirst();
    let handledWhenImmediateRan = -1;
    setImmediate(() => (handledWhenImmediateRan = handled.length));
    await acked(events, count);
    expect(handled).toHaveLength(count);
    // Without yielding, all 50 were handled in the turn that released the first (measured: 50).
    expect(handledWhenImmediateRan).toBeGreaterThan(0);
    expect(handledWhenImmediateRan).toBeLessThan(5);
  });
});

describe('TurnBudget', () => {
  /** Runs `steps` through the budget, each advancing the fake clock by `costMs`; records what ran in which turn. */
  function drive(budgetMs: number, costMs: number, steps: number) {
    let now = 0;
    let turn = 0;
    const ranInTurn: number[] = [];
    const budget = new TurnBudget(budgetMs, () => now);
    return new Promise<number[]>((resolve) => {
      // Counts turns of the loop while the work runs: one tick in each check phase.
      let ticking = true;
      const tick = () => {
        turn++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      const next = (i: number) => {
        if (i === steps) {
          ticking = false;
          return resolve(ranInTurn);
        }
        budget.run(() => {
          ranInTurn.push(turn);
          now += costMs;
          // As mqtt.js does: the next message once this one is done, on the same turn.
          process.nextTick(() => next(i + 1));
        });
      };
      next(0);
    });
  }

  it('runs work at once while the turn is under budget', async () => {
    const turns = await drive(10, 1, 10);
    expect(new Set(turns).size).toBe(1);
  });

  it('moves the rest to later turns, in order, once the budget is spent', async () => {
    const turns = await drive(3, 1, 12);
    expect(turns).toHaveLength(12);
    // Slices of three (3 ms of 1 ms work), each on a later turn than the last.
    for (let i = 3; i < 12; i += 3) {
      expect(turns[i]).toBeGreaterThan(turns[i - 1]!);
      expect(turns.slice(i, i + 3).every((t) => t === turns[i])).toBe(true);
    }
  });
});
