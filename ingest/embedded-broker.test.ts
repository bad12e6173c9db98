import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../tests/tls-fixture.ts';
import { EmbeddedBroker, type MqttRefusal } from './embedded-broker.ts';
import { parseGatewayCredentials } from './gateway-credentials.ts';

const silent = pino({ level: 'silent' });

/** Connects, or resolves with the CONNACK error; never leaves a client reconnecting. */
function tryConnect(url: string, options: IClientOptions): Promise<{ client?: MqttClient; error?: Error & { code?: number } }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => {
      client.end(true);
      resolve({ error });
    });
    client.once('close', () => {
      client.end(true);
      resolve({ error: new Error('connection closed before CONNACK') });
    });
  });
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

describe('embedded broker with gateway credentials', () => {
  let broker: EmbeddedBroker;
  let url: string;
  const refused: MqttRefusal[] = [];
  const received: Array<{ topic: string; payload: string }> = [];
  const open: MqttClient[] = [];

  beforeAll(async () => {
    broker = new EmbeddedBroker(
      { port: 0, host: '127.0.0.1', credentials: parseGatewayCredentials('GW-1:pw-1\nGW-2:pw-2\n') },
      silent,
      { onRefused: (reason) => refused.push(reason) },
    );
    url = `mqtt://127.0.0.1:${await broker.start()}`;
    // Ingest subscribes in process: no credential at all.
    for (const filter of ['gas/v1/+/up', 'gas/v1/+/status']) {
      await broker.subscribeInProcess(filter, (packet, release) => {
        received.push({ topic: packet.topic, payload: packet.payload.toString() });
        release();
      });
    }
  });
  afterAll(async () => {
    for (const c of open) c.end(true);
    await broker?.stop();
  });

  it('accepts a gateway with its own credentials and delivers its publishes to ingest', async () => {
    const { client, error } = await tryConnect(url, { clientId: 'GW-1', username: 'GW-1', password: 'pw-1' });
    expect(error).toBeUndefined();
    open.push(client!);
    await client!.publishAsync('gas/v1/GW-1/up', 'hello', { qos: 1 });
    await expect.poll(() => received.some((m) => m.topic === 'gas/v1/GW-1/up' && m.payload === 'hello')).toBe(true);
  });

  it.each([
    { name: 'a wrong password', options: { clientId: 'GW-1', username: 'GW-1', password: 'pw-2' }, code: 4, reason: 'bad_credentials' },
    { name: 'an unknown gateway', options: { clientId: 'GW-9', username: 'GW-9', password: 'pw-1' }, code: 4, reason: 'bad_credentials' },
    { name: 'no credentials', options: { clientId: 'GW-1' }, code: 5, reason: 'no_credentials' },
    { name: "another client's id", options: { clientId: 'GW-2', username: 'GW-1', password: 'pw-1' }, code: 2, reason: 'client_id' },
    { name: "ingest's client id", options: { clientId: 'ingest-test', username: 'GW-1', password: 'pw-1' }, code: 2, reason: 'client_id' },
  ])('refuses $name with CONNACK $code', async ({ options, code, reason }) => {
    const before = refused.length;
    const { client, error } = await tryConnect(url, options);
    client?.end(true);
    expect(error).toBeDefined();
    expect(error!.code).toBe(code);
    expect(refused.slice(before)).toEqual([reason]);
  });

  it("refuses a publish to another gateway's topic: disconnected, counted, never delivered", async () => {
    const { client } = await tryConnect(url, { clientId: 'GW-2-forger', username: 'GW-2', password: 'pw-2' });
    open.push(client!);
    const before = refused.length;
    const gone = closed(client!);
    client!.publish('gas/v1/GW-1/up', 'forged', { qos: 1 });
    await gone;
    expect(refused.slice(before)).toEqual(['publish_topic']);
    await new Promise((r) => setTimeout(r, 100));
    expect(received.some((m) => m.payload === 'forged')).toBe(false);
  });

  it.each(['gas/v1/GW-1/up', 'gas/v1/+/up', '#', '$share/g/gas/v1/#'])("refuses a gateway's subscription to %s with SUBACK 0x80", async (filter) => {
    const { client } = await tryConnect(url, { clientId: 'GW-2', username: 'GW-2', password: 'pw-2', clean: true });
    open.push(client!);
    const before = refused.length;
    // MQTT.js turns SUBACK 0x80 into an error carrying the packet.
    const err = await client!.subscribeAsync(filter, { qos: 1 }).then(() => undefined, (e: { packet?: { granted?: number[] } }) => e);
    expect(err?.packet?.granted).toEqual([128]);
    expect(refused.slice(before)).toEqual(['subscribe_topic']);
    // Its own topics are fine.
    expect((await client!.subscribeAsync('gas/v1/GW-2/down', { qos: 1 }))[0]!.qos).toBe(1);
    await client!.endAsync();
  });
});

describe('embedded broker without credentials', () => {
  it('stays open for the quick start: anonymous publish for any gateway', async () => {
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1' }, silent);
    const port = await broker.start();
    try {
      const { client, error } = await tryConnect(`mqtt://127.0.0.1:${port}`, { clientId: 'anyone' });
      expect(error).toBeUndefined();
      await client!.publishAsync('gas/v1/GW-1/up', 'x', { qos: 1 });
      await client!.endAsync();
    } finally {
      await broker.stop();
    }
  });
});

describe("embedded broker without credentials: ingest's client id stays reserved", () => {
  it("issue 13 #3: a network client with ingest's client id (or a $-prefixed id) is refused on the open broker", async () => {
    const refused: MqttRefusal[] = [];
    const lines: Array<{ level: number; msg: string }> = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1', ingestClientId: 'gas-ingest' }, log, { onRefused: (reason) => refused.push(reason) });
    const url = `mqtt://127.0.0.1:${await broker.start()}`;
    const received: string[] = [];
    try {
      await broker.subscribeInProcess('gas/v1/+/up', (packet, release) => {
        received.push(packet.payload.toString());
        release();
      });
      for (const clientId of ['gas-ingest', '$SYS-broker', '$share']) {
        const { client, error } = await tryConnect(url, { clientId, clean: false });
        client?.end(true);
        expect(error?.code, clientId).toBe(2);
      }
      expect(refused).toEqual(['client_id', 'client_id', 'client_id']);

      // Anyone else may still connect (the quick start), and ingest gets the publish.
      const { client: gateway, error } = await tryConnect(url, { clientId: 'GW-1' });
      expect(error).toBeUndefined();
      await gateway!.publishAsync('gas/v1/GW-1/up', 'after the attempts', { qos: 1 });
      await gateway!.endAsync();
      await expect.poll(() => received).toEqual(['after the attempts']);
      // npm start says the open broker is for development only.
      expect(lines.find((l) => l.level === 40 && l.msg.includes('OPEN'))?.msg).toContain('development only');
    } finally {
      await broker.stop();
    }
  });
});

describe('embedded broker over TLS', () => {
  it('serves mqtts:// with the configured certificate, and refuses a client that does not trust it', async () => {
    const cert = selfSignedCert();
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1', tls: { cert: cert.cert, key: cert.key }, credentials: parseGatewayCredentials('GW-1:pw-1') }, silent);
    const port = await broker.start();
    try {
      const ok = await tryConnect(`mqtts://127.0.0.1:${port}`, { clientId: 'GW-1', username: 'GW-1', password: 'pw-1', ca: cert.cert });
      expect(ok.error).toBeUndefined();
      await ok.client!.publishAsync('gas/v1/GW-1/up', 'x', { qos: 1 });
      await ok.client!.endAsync();
      const untrusted = await tryConnect(`mqtts://127.0.0.1:${port}`, { clientId: 'GW-1', username: 'GW-1', password: 'pw-1' });
      expect(untrusted.error?.message).toMatch(/self.signed|certificate/i);
      const plain = await tryConnect(`mqtt://127.0.0.1:${port}`, { clientId: 'GW-1', username: 'GW-1', password: 'pw-1', connectTimeout: 1000 });
      expect(plain.error).toBeDefined();
    } finally {
      await broker.stop();
    }
  });
});

describe('embedded broker login limits and reload', () => {
  it('refuses every login from an address after repeated failures, right ones too, and counts them', async () => {
    const refused: MqttRefusal[] = [];
    const broker = new EmbeddedBroker(
      { port: 0, host: '127.0.0.1', credentials: parseGatewayCredentials('GW-1:pw-1'), loginFailures: { maxFailures: 2, windowMs: 60_000 } },
      silent,
      { onRefused: (reason) => refused.push(reason) },
    );
    const url = `mqtt://127.0.0.1:${await broker.start()}`;
    try {
      for (const password of ['guess-1', 'guess-2']) expect((await tryConnect(url, { clientId: 'GW-1', username: 'GW-1', password })).error?.code).toBe(4);
      const right = await tryConnect(url, { clientId: 'GW-1', username: 'GW-1', password: 'pw-1' });
      right.client?.end(true);
      expect(right.error?.code).toBe(5);
      expect(refused).toEqual(['bad_credentials', 'bad_credentials', 'rate_limited']);
    } finally {
      await broker.stop();
    }
  });

  it('takes new credentials for the next login, keeping connected gateways', async () => {
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1', credentials: parseGatewayCredentials('GW-1:old') }, silent);
    const url = `mqtt://127.0.0.1:${await broker.start()}`;
    try {
      const connected = await tryConnect(url, { clientId: 'GW-1', username: 'GW-1', password: 'old' });
      broker.replaceCredentials(parseGatewayCredentials('GW-1:new\nGW-2:two'));
      expect((await tryConnect(url, { clientId: 'GW-1-b', username: 'GW-1', password: 'old' })).error?.code).toBe(4);
      const fresh = await tryConnect(url, { clientId: 'GW-2', username: 'GW-2', password: 'two' });
      expect(fresh.error).toBeUndefined();
      await connected.client!.publishAsync('gas/v1/GW-1/up', 'still here', { qos: 1 });
      await connected.client!.endAsync();
      await fresh.client!.endAsync();
    } finally {
      await broker.stop();
    }
  });

  it('does not turn an open broker into a locked one at run time', async () => {
    const broker = new EmbeddedBroker({ port: 0, host: '127.0.0.1' }, silent);
    expect(() => broker.replaceCredentials(parseGatewayCredentials('GW-1:x'))).toThrow(/without GATEWAY_CREDENTIALS/);
  });
});
