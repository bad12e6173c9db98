import { createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayLink, type LinkCounters } from './gateway-link.ts';

interface Broker {
  url: string;
  /** Up-topic payloads that reached the broker, in order. */
  received: string[];
  close(): Promise<void>;
}

/** An aedes broker whose `onUp` decides per uplink batch: accept it, refuse it (aedes then closes the connection) or never answer. */
async function broker(onUp: (payload: string) => 'accept' | 'refuse' | 'hold'): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const received: string[] = [];
  aedes.authorizePublish = (_client, packet, done) => {
    if (!packet.topic.endsWith('/up')) return done(null);
    const verdict = onUp(packet.payload.toString());
    if (verdict === 'hold') return;
    if (verdict === 'refuse') return done(new Error('refused'));
    received.push(packet.payload.toString());
    done(null);
  };
  const server: Server = createServer(aedes.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    received,
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const open: Broker[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

function link(url: string, counters: LinkCounters, maxAttempts = 5, ackTimeoutMs = 2_000) {
  return new GatewayLink('GW-000001', { url, ackTimeoutMs, retryMinMs: 20, retryMaxMs: 200, maxAttempts }, counters, Math.random);
}

describe('GatewayLink', () => {
  it('reconnects and resends a batch whose publish was refused, after a jittered wait', async () => {
    let refusals = 2;
    const b = await broker(() => (refusals-- > 0 ? 'refuse' : 'accept'));
    open.push(b);
    const counters = { retries: 0, reconnects: 0 };
    const gateway = link(b.url, counters);
    await gateway.connect();
    expect(await gateway.publish(Buffer.from('batch 1'))).toBe(true);
    expect(b.received).toEqual(['batch 1']);
    expect(counters).toEqual({ retries: 2, reconnects: 2 });
    await gateway.close();
  });

  it('treats a publish without PUBACK in time as failed and sends the batch again', async () => {
    let held = 0;
    const b = await broker(() => (held++ === 0 ? 'hold' : 'accept'));
    open.push(b);
    const counters = { retries: 0, reconnects: 0 };
    const gateway = link(b.url, counters, 5, 300);
    await gateway.connect();
    expect(await gateway.publish(Buffer.from('batch 1'))).toBe(true);
    expect(b.received).toEqual(['batch 1']);
    expect(counters.retries).toBe(1);
    await gateway.close();
  });

  it('gives a batch up after its last attempt', async () => {
    const b = await broker(() => 'refuse');
    open.push(b);
    const counters = { retries: 0, reconnects: 0 };
    const gateway = link(b.url, counters, 3);
    await gateway.connect();
    expect(await gateway.publish(Buffer.from('batch 1'))).toBe(false);
    expect(counters.retries).toBe(2);
    expect(b.received).toEqual([]);
    await gateway.close();
  });
});
