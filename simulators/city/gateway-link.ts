/**
 * One gateway's uplink, as a concentrator runs it: its own MQTT connection (clientId = gatewayId,
 * last will `{"online":false}`), one batch at a time at QoS 1, and after a refused or failed publish
 * (connection dropped, no PUBACK in time) a reconnect and a resend of the same batch after a random
 * wait in a window that doubles per attempt, so a thousand gateways that failed together do not
 * all come back together. A resent batch keeps its seq: if the first copy did arrive, ingest drops
 * the second as a duplicate.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface LinkOptions {
  url: string;
  /** A publish without PUBACK after this long has failed, ms; also the connect timeout. */
  ackTimeoutMs: number;
  /** The first retry waits a random time under this, ms; the window doubles per attempt… */
  retryMinMs: number;
  /** …up to this, ms. */
  retryMaxMs: number;
  /** Attempts per batch (the first included) before the gateway gives the batch up. */
  maxAttempts: number;
  /** Broker password; the user name is then the gateway id. */
  password?: string;
}

/** Shared by all the links of a shard. */
export interface LinkCounters {
  retries: number;
  reconnects: number;
}

class AckTimeout extends Error {
  override readonly name = 'AckTimeout';
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new AckTimeout(`no PUBACK within ${ms} ms`)), ms))),
  ]);
}

export class GatewayLink {
  #client?: MqttClient;
  #connections = 0;
  readonly #up: string;
  readonly #status: string;

  constructor(
    readonly gatewayId: string,
    private readonly options: LinkOptions,
    private readonly counters: LinkCounters,
    /** Uniform in [0, 1): the retry jitter. */
    private readonly random: () => number,
  ) {
    this.#up = `gas/v1/${gatewayId}/up`;
    this.#status = `gas/v1/${gatewayId}/status`;
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** Connects, retrying with jitter; throws after `maxAttempts`. */
  async connect(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#open();
        return;
      } catch (err) {
        if (attempt >= this.options.maxAttempts) throw new Error(`${this.gatewayId}: cannot connect to the broker after ${attempt} attempts`, { cause: err });
        await sleep(this.#jitterMs(attempt));
      }
    }
  }

  /** Publishes one batch until the broker acknowledges it; false when the gateway gave it up. */
  async publish(payload: Buffer): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        const client = this.#client ?? (await this.#open());
        await withTimeout(client.publishAsync(this.#up, payload, { qos: 1 }), this.options.ackTimeoutMs);
        return true;
      } catch {
        this.#drop();
        if (attempt >= this.options.maxAttempts) return false;
        this.counters.retries++;
        await sleep(this.#jitterMs(attempt));
      }
    }
  }

  /** A clean DISCONNECT: the broker does not publish the last will. */
  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.endAsync();
  }

  #jitterMs(attempt: number): number {
    const windowMs = Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** (attempt - 1));
    return this.random() * windowMs;
  }

  async #open(): Promise<MqttClient> {
    const { url, ackTimeoutMs, password } = this.options;
    const client = await mqtt.connectAsync(url, {
      clientId: this.gatewayId,
      ...(password !== undefined ? { username: this.gatewayId, password } : {}),
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: ackTimeoutMs,
      will: { topic: this.#status, payload: Buffer.from('{"online":false}'), qos: 1, retain: true },
    });
    // A dropped connection fails the publishes in flight at once (mqtt.js would hold them otherwise).
    client.on('close', () => {
      if (this.#client === client) this.#drop();
    });
    client.on('error', () => undefined);
    if (this.#connections++ > 0) this.counters.reconnects++;
    this.#client = client;
    try {
      await withTimeout(client.publishAsync(this.#status, '{"online":true}', { qos: 1, retain: true }), ackTimeoutMs);
    } catch (err) {
      this.#drop();
      throw err;
    }
    return client;
  }

  #drop(): void {
    const client = this.#client;
    this.#client = undefined;
    client?.end(true);
  }
}
