import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithServer, services } from './integration-env.ts';

/**
 * The Mosquitto of scripts/services.d/mosquitto.sh (MQTT_URL, MQTT_INGEST_USER/PASSWORD): per-gateway
 * credentials and ACLs, and shared subscriptions for several ingest instances. The test adds its own
 * two gateway users by running `start` again with SERVICES_MQTT_GATEWAYS (the broker reloads them).
 * Lives here because scripts/ is not type-checked; it tests the broker the sinks' pipeline reads from.
 */

const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const GW_A = `GW-TA${suffix}`;
const GW_B = `GW-TB${suffix}`;
const PW_A = `pa-${suffix}`;
const PW_B = `pb-${suffix}`;

describeWithServer('MQTT_URL', 'mosquitto', 'Mosquitto with per-gateway credentials', (url) => {
  const clients: MqttClient[] = [];
  const ingestUser = process.env.MQTT_INGEST_USER ?? 'ingest';
  const ingestPassword = () => process.env.MQTT_INGEST_PASSWORD ?? '';

  async function connect(username: string | undefined, password: string | undefined, clientId: string): Promise<MqttClient> {
    // The broker reloads its password file on SIGHUP; a first refusal right after that is retried.
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await mqtt.connectAsync(url, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 });
        clients.push(client);
        return client;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  beforeAll(async () => {
    const out = await services('start', 'mosquitto', { SERVICES_MQTT_GATEWAYS: `${GW_A}:${PW_A},${GW_B}:${PW_B}` });
    expect(out.MQTT_GATEWAYS).toContain(`${GW_A}:${PW_A}`);
    process.env.MQTT_INGEST_PASSWORD ??= out.MQTT_INGEST_PASSWORD;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
  });

  it('lets a gateway publish under its own id and drops what it publishes under another', async () => {
    const ingest = await connect(ingestUser, ingestPassword(), `it-ingest-${suffix}`);
    const received: string[] = [];
    ingest.on('message', (topic, payload) => received.push(`${topic} ${payload.toString()}`));
    await ingest.subscribeAsync(`gas/v1/+/up`, { qos: 1 });

    const gw = await connect(GW_A, PW_A, `it-${GW_A}`);
    // MQTT 5 tells the publisher (PUBACK 0x87, not authorised); the broker forwards nothing.
    await expect(gw.publishAsync(`gas/v1/${GW_B}/up`, 'forged', { qos: 1 })).rejects.toThrow(/Not authorized/i);
    await gw.publishAsync(`gas/v1/${GW_A}/up`, 'own', { qos: 1 });
    // The broker handles one connection's messages in order: once `own` has arrived, `forged` never will.
    await expect.poll(() => received, { timeout: 5000 }).toContain(`gas/v1/${GW_A}/up own`);
    expect(received.filter((m) => m.includes(suffix))).toEqual([`gas/v1/${GW_A}/up own`]);
  });

  it('refuses a wrong password, an unknown user and anonymous clients', async () => {
    for (const [user, pw] of [[GW_A, 'wrong'], [`GW-NOBODY${suffix}`, 'x'], [undefined, undefined]] as const) {
      await expect(mqtt.connectAsync(url, { username: user, password: pw, reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 5 })).rejects.toThrow(/Not authorized|Bad User Name or Password|not authori[sz]ed/i);
    }
  });

  it('delivers nothing to a gateway that subscribes to readings (only ingest reads)', async () => {
    const spy = await connect(GW_B, PW_B, `it-sub-${GW_B}`);
    const seen: string[] = [];
    spy.on('message', (topic) => seen.push(topic));
    await spy.subscribeAsync('gas/v1/#', { qos: 1 });
    const ingest = await connect(ingestUser, ingestPassword(), `it-ingest2-${suffix}`);
    const arrived: string[] = [];
    ingest.on('message', (_t, payload) => arrived.push(payload.toString()));
    await ingest.subscribeAsync(`gas/v1/${GW_A}/up`, { qos: 1 });
    const gw = await connect(GW_A, PW_A, `it-pub2-${GW_A}`);
    await gw.publishAsync(`gas/v1/${GW_A}/up`, 'reading', { qos: 1 });
    await expect.poll(() => arrived, { timeout: 5000 }).toContain('reading');
    // A round trip on the spy's own connection: anything queued for it before would have arrived first.
    await spy.publishAsync(`gas/v1/${GW_B}/status`, 'barrier', { qos: 1 });
    expect(seen).toEqual([]);
  });

  it('splits messages between two ingest clients of the $share/ingest group', async () => {
    const got: Record<string, string[]> = { one: [], two: [] };
    for (const name of ['one', 'two'] as const) {
      const client = await connect(ingestUser, ingestPassword(), `it-share-${name}-${suffix}`);
      client.on('message', (_topic, payload) => {
        if (payload.toString().startsWith(suffix)) got[name].push(payload.toString());
      });
      await client.subscribeAsync('$share/ingest/gas/v1/+/up', { qos: 1 });
    }
    const gw = await connect(GW_B, PW_B, `it-pub-${GW_B}`);
    const sent = Array.from({ length: 40 }, (_, i) => `${suffix}-${i}`);
    for (const m of sent) await gw.publishAsync(`gas/v1/${GW_B}/up`, m, { qos: 1 });
    await expect.poll(() => got.one.length + got.two.length, { timeout: 5000 }).toBe(sent.length);
    expect([...got.one, ...got.two].sort()).toEqual([...sent].sort());
    expect(got.one.length).toBeGreaterThan(0);
    expect(got.two.length).toBeGreaterThan(0);
  });
});
