import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { once } from 'node:events';
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import { createBrokerQueue } from './broker-queue.ts';
import type { Logger } from 'pino';
import { FailureLimiter, type FailureLimitOptions } from '../app/failure-limiter.ts';
import type { GatewayCredentials } from './gateway-credentials.ts';

/** Why the broker refused a client or one of its packets: the `reason` of `gas_mqtt_refused_total`. */
export const MQTT_REFUSALS = ['no_credentials', 'bad_credentials', 'client_id', 'rate_limited', 'publish_topic', 'subscribe_topic'] as const;
export type MqttRefusal = (typeof MQTT_REFUSALS)[number];

export interface EmbeddedBrokerOptions {
  port: number;
  host: string;
  /**
   * Per-gateway credentials (`GATEWAY_CREDENTIALS`). When given, every network client must log in as
   * a listed gateway (user name = gateway id) and may publish and subscribe only under
   * `gas/v1/{gatewayId}/`. When absent the broker is open to anonymous clients (the quick start).
   */
  credentials?: GatewayCredentials;
  /** Serve MQTT over TLS only (`MQTT_TLS_CERT` / `MQTT_TLS_KEY`, PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Refused logins one address may make per window before all its logins are refused until the
   * window ends (CONNACK 5, `rate_limited`); 20 per 60 s when omitted.
   */
  loginFailures?: FailureLimitOptions;
  /**
   * Ingest's MQTT client id (`MQTT_CLIENT_ID`): no network client may use it, open broker or not.
   * Ingest takes this broker's messages in process, but the same id names its persistent session
   * on an external broker, and a gateway using it here is misconfigured either way.
   */
  ingestClientId?: string;
}

/**
 * A subscriber in this process. Until it calls `release` the message keeps one of the broker's
 * delivery slots, and its publisher's connection is not read further.
 */
export type InProcessDelivery = (packet: AedesPublishPacket, release: () => void) => void;

/** The runner counts refusals; the broker only reports them. */
export interface BrokerObserver {
  onRefused(reason: MqttRefusal): void;
}

type Principal = { kind: 'gateway'; gatewayId: string };

/** MQTT 3.1.1 CONNACK return codes. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
/**
 * Messages the broker delivers at once; more wait in its queue, in arrival order, where a leak
 * cannot overtake them. Ingest's source holds a delivery only while more than its `maxWaiting`
 * messages wait, and a held delivery stops the broker reading that publisher, so deliveries in
 * flight are about one per connected gateway: room for 10,000 gateways before anything queues here.
 */
const BROKER_CONCURRENCY = 10_000;

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The part of a topic a gateway owns. */
const ownPrefix = (gatewayId: string): string => `gas/v1/${gatewayId}/`;

/**
 * The in-process MQTT broker (aedes) that `npm start` runs so a pilot needs no external server.
 * Gateways connect over TCP (or TLS); ingest, in the same process, subscribes in process
 * (`subscribeInProcess`): no credential, no network, no MQTT encoding.
 *
 * aedes speaks MQTT 3.1.1: a refused publish closes the gateway's connection (the protocol has no
 * negative PUBACK), a refused subscription is answered with SUBACK 0x80.
 */
export class EmbeddedBroker {
  #broker?: Aedes;
  #server?: Server;
  readonly #sockets = new Set<Socket>();
  readonly #principals = new WeakMap<Client, Principal>();
  readonly #loginFailures: FailureLimiter;
  #credentials?: GatewayCredentials;

  constructor(
    private readonly options: EmbeddedBrokerOptions,
    private readonly log: Logger,
    private readonly observer: BrokerObserver = { onRefused() {} },
  ) {
    this.#credentials = options.credentials;
    this.#loginFailures = new FailureLimiter(options.loginFailures);
  }

  get secured(): boolean {
    return this.#credentials !== undefined;
  }

  /**
   * New gateway credentials (the file re-read on SIGHUP): they apply to the next login. Connected
   * gateways stay connected; a broker started open stays open.
   */
  replaceCredentials(credentials: GatewayCredentials): void {
    if (!this.#credentials) throw new Error('The broker was started without GATEWAY_CREDENTIALS; restart it to require logins');
    this.#credentials = credentials;
    this.log.info({ gateways: credentials.size }, 'Gateway credentials reloaded');
  }

  async start(): Promise<number> {
    const broker = await Aedes.createBroker({
      mq: createBrokerQueue(BROKER_CONCURRENCY),
      authenticate: (client, username, password, done) => {
        this.#authenticate(client, username, password).then(
          () => done(null, true),
          (err: AuthenticateError) => done(err, false),
        );
      },
      authorizePublish: (client, packet, done) => done(this.#authorizePublish(client, packet.topic)),
      authorizeSubscribe: (client, sub, done) => done(null, this.#mayRead(client, sub.topic) ? sub : null),
    });
    broker.on('clientError', (client, err) => this.log.debug({ err, clientId: client.id }, 'MQTT client error'));
    const server = this.options.tls
      ? createTlsServer({ cert: this.options.tls.cert, key: this.options.tls.key, minVersion: 'TLSv1.2' }, broker.handle)
      : createServer(broker.handle);
    // Tracked so stop() also ends connections aedes never saw (a TLS handshake, a silent socket).
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('tlsClientError', (err: Error) => this.log.debug({ err }, 'MQTT TLS handshake failed'));
    server.listen(this.options.port, this.options.host);
    await once(server, 'listening');
    this.#broker = broker;
    this.#server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.log.info({ port, host: this.options.host, tls: Boolean(this.options.tls), gateways: this.#credentials?.size ?? 'anonymous' }, 'Embedded MQTT broker listening');
    if (!this.#credentials) {
      this.log.warn('Embedded MQTT broker is OPEN, for development only: any client may connect and publish for any gateway (ingest\'s client id and $-prefixed ids stay reserved). Set GATEWAY_CREDENTIALS for per-gateway logins before gateways connect over a real network (see SECURITY.md)');
    }
    return port;
  }

  /** Subscribes a function in this process to `filter`, without an MQTT connection: it gets every matching message as published. */
  subscribeInProcess(filter: string, deliver: InProcessDelivery): Promise<void> {
    const broker = this.#broker;
    if (!broker) throw new Error('EmbeddedBroker not started');
    return new Promise((resolve) => broker.subscribe(filter, deliver, resolve));
  }

  unsubscribeInProcess(filter: string, deliver: InProcessDelivery): Promise<void> {
    const broker = this.#broker;
    if (!broker) return Promise.resolve();
    return new Promise((resolve) => broker.unsubscribe(filter, deliver, resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#broker ? this.#broker.close(() => resolve()) : resolve()));
    const closed = new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #refuse(reason: MqttRefusal, message: string, fields: Record<string, unknown>, level: 'warn' | 'debug' = 'warn'): void {
    this.observer.onRefused(reason);
    this.log[level]({ ...fields, reason }, message);
  }

  async #authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const remote = (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
    // Checked before the session is taken over (aedes authenticates first), and even when the broker is open.
    if (client.id === this.options.ingestClientId || client.id.startsWith('$')) {
      this.#loginFailures.fail(remote);
      this.#refuse('client_id', "MQTT connection refused: client id reserved for the pipeline's own ingest", { gatewayId: username, clientId: client.id, remote });
      throw authError(IDENTIFIER_REJECTED, 'client id reserved');
    }
    const credentials = this.#credentials;
    if (!credentials) return;
    // Logged at debug: a guesser hammering away must not flood the log; the counter shows it.
    if (this.#loginFailures.blockedForMs(remote) > 0) {
      this.#refuse('rate_limited', 'MQTT connection refused: too many failed logins from this address', { gatewayId: username, clientId: client.id, remote }, 'debug');
      throw authError(NOT_AUTHORIZED, 'too many failed logins');
    }
    if (!username || !password) {
      this.#loginFailures.fail(remote);
      this.#refuse('no_credentials', 'MQTT connection refused: no user name or password', { clientId: client.id, remote });
      throw authError(NOT_AUTHORIZED, 'credentials required');
    }
    if (!(await credentials.verify(username, password))) {
      this.#loginFailures.fail(remote);
      this.#refuse('bad_credentials', 'MQTT connection refused: wrong gateway credentials', { gatewayId: username, clientId: client.id, remote });
      throw authError(BAD_USERNAME_OR_PASSWORD, 'bad user name or password');
    }
    // A gateway may not take over another client's session (MQTT client-id takeover): its client id
    // is its gateway id, or starts with it and '-'.
    if (client.id !== username && !client.id.startsWith(`${username}-`)) {
      this.#loginFailures.fail(remote);
      this.#refuse('client_id', 'MQTT connection refused: client id is not the gateway id', { gatewayId: username, clientId: client.id, remote });
      throw authError(IDENTIFIER_REJECTED, 'client id must be the gateway id');
    }
    this.#principals.set(client, { kind: 'gateway', gatewayId: username });
  }

  #authorizePublish(client: Client | null, topic: string): Error | null {
    if (topic.startsWith('$SYS')) return new Error('$SYS topics are reserved');
    // null: aedes publishing a stored last will on its own behalf.
    if (!client || !this.#credentials) return null;
    const p = this.#principals.get(client);
    if (p?.kind === 'gateway' && topic.startsWith(ownPrefix(p.gatewayId))) return null;
    this.#refuse('publish_topic', "MQTT publish refused: topic outside the gateway's own gas/v1/{gatewayId}/", { gatewayId: p?.kind === 'gateway' ? p.gatewayId : undefined, clientId: client.id, topic });
    return new Error(`publish to ${topic} not allowed`);
  }

  #mayRead(client: Client, filter: string): boolean {
    if (!this.#credentials) return true;
    const p = this.#principals.get(client);
    if (p?.kind === 'gateway' && filter.startsWith(ownPrefix(p.gatewayId))) return true;
    this.#refuse('subscribe_topic', "MQTT subscription refused: filter outside the gateway's own gas/v1/{gatewayId}/", { gatewayId: p?.kind === 'gateway' ? p.gatewayId : undefined, clientId: client.id, topic: filter });
    return false;
  }
}
