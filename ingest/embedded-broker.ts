import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';

/**
 * The in-process MQTT broker (aedes) that `npm start` runs so a pilot needs no external server.
 * Ingest connects to it over loopback like to any other broker.
 */
export class EmbeddedBroker {
  #broker?: Aedes;
  #server?: Server;

  constructor(
    private readonly options: { port: number; host: string },
    private readonly log: Logger,
  ) {}

  async start(): Promise<number> {
    const broker = await Aedes.createBroker();
    broker.on('clientError', (client, err) => this.log.debug({ err, clientId: client.id }, 'MQTT client error'));
    const server = createServer(broker.handle);
    server.listen(this.options.port, this.options.host);
    await once(server, 'listening');
    this.#broker = broker;
    this.#server = server;
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.options.port;
    this.log.info({ port, host: this.options.host }, 'Embedded MQTT broker listening');
    return port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#broker ? this.#broker.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
