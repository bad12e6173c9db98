import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Bus } from '../contracts/bus.ts';

/** What a sink is given at start; it consumes from the bus under its own group name. */
export interface SinkDeps {
  bus: Bus;
  /** The process's data folder, for a sink that keeps state across restarts. */
  dataDir: string;
  log: Logger;
}

/** A started sink. */
export interface Sink {
  /** Stops its timers and saves what it keeps; the bus is closed before this is called. */
  stop(): Promise<void>;
}

/** A sink plugin, declared alike: its settings are parsed against `configSchema` before `start`. */
export interface SinkPlugin<S extends TSchema = TSchema, K extends Sink = Sink> {
  name: string;
  description: string;
  configSchema: S;
  start(config: Static<S>, deps: SinkDeps): Promise<K>;
}
