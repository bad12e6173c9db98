import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { Clock } from '../../app/clock.ts';
import type { Person } from '../oncall/directory.ts';
import type { Notice } from '../tickets/notice.ts';

/** What a channel says about one push when it did not throw. */
export type SendResult = { delivered: true } | { delivered: false; reason: string };

/** A configured push channel: throws a PushError (see errors.ts) when the push failed. */
export interface Channel {
  /** `{ delivered: false }` is not a failure: nobody to reach here now (e.g. no open stream). */
  send(notice: Notice, recipient: Person): Promise<SendResult>;
  close(): Promise<void>;
}

export interface ChannelDeps {
  log: Logger;
  clock: Clock;
  /** The process's data folder, for a channel that keeps state across restarts (absent: memory only). */
  dataDir?: string;
}

/** A channel plugin: declared alike, config parsed against `configSchema` before `create`. */
export interface ChannelPlugin<S extends TSchema = TSchema, C extends Channel = Channel> {
  name: string;
  description: string;
  configSchema: S;
  create(config: Static<S>, deps: ChannelDeps): C;
  /** Whether an instance called `instanceName` serves this person (e.g. e-mail needs an address). */
  serves(person: Person, instanceName: string, config: Static<S>): boolean;
}

export const DELIVERED: SendResult = { delivered: true };
