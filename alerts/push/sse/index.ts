import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Channel, ChannelPlugin } from '../channel.ts';
import { DELIVERED } from '../channel.ts';
import { SseHub } from './hub.ts';

export const SseConfigSchema = Type.Object(
  {
    bufferSize: Type.Integer({ minimum: 1, maximum: 10_000, default: 50, description: 'Events kept per person for Last-Event-ID replay' }),
    maxBacklogEvents: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 25,
      description: 'Events a stream may fall behind before it is closed as slow_client (capped at bufferSize, so its reconnect replays them all)',
    }),
    dir: Type.Optional(Type.String({ minLength: 1, description: 'Folder for the replay journal; default `<DATA_DIR>/sse` when the service stage passes its data folder, else memory only' })),
  },
  { additionalProperties: false },
);

export interface SseChannel extends Channel {
  /** The hub the fastify SSE route subscribes to. */
  readonly hub: SseHub;
}

/** Live stream to the technician's app: every person is served; no open stream is "not delivered". */
export const SsePlugin: ChannelPlugin<typeof SseConfigSchema, SseChannel> = {
  name: 'sse',
  description: 'Server-sent events: a live stream per person for the technician app',
  configSchema: SseConfigSchema,
  serves: () => true,
  create(config, deps) {
    const dir = config.dir ?? (deps.dataDir ? join(deps.dataDir, 'sse') : undefined);
    const hub = new SseHub({ bufferSize: config.bufferSize, maxBacklogEvents: config.maxBacklogEvents, log: deps.log, onDeadLetter: deps.onDeadLetter, ...(dir ? { dir } : {}) });
    return {
      hub,
      async send(notice, recipient) {
        const { listeners } = hub.publish(recipient.id, notice);
        return listeners > 0 ? DELIVERED : { delivered: false, reason: 'no open stream (kept for replay)' };
      },
      async close() {
        hub.close();
      },
    };
  },
};
