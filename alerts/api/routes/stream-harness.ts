import { request as httpRequest, type IncomingMessage } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { ApiServices } from '../server.ts';
import type { Principal } from '../tokens.ts';

/** Test support for the stream routes: route plugins on a bare fastify, signed in as `principal`, its log lines kept. */
export interface StreamHarness {
  app: FastifyInstance;
  base: string;
  logs: Array<Record<string, unknown> & { msg: string }>;
  close(): Promise<void>;
}

export async function streamHarness(services: Partial<ApiServices>, register: (app: FastifyInstance) => PromiseLike<unknown>, principal: Principal): Promise<StreamHarness> {
  const logs: StreamHarness['logs'] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as StreamHarness['logs'][number]) });
  // forceCloseConnections: fetch leaves spare idle sockets that would hold close() up for seconds.
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger, forceCloseConnections: true });
  app.decorate('services', services as ApiServices);
  app.addHook('onRequest', async (request) => {
    request.principal = principal;
  });
  await register(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return { app, base, logs, close: () => app.close() };
}

/** One SSE frame as the client saw it; `data` parsed as JSON when it is. */
export interface Frame {
  id?: string;
  event?: string;
  data?: unknown;
}

export function parseFrames(text: string): Frame[] {
  const frames: Frame[] = [];
  for (const block of text.split('\n\n')) {
    const f: Frame = {};
    let data: string | undefined;
    for (const line of block.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (!m) continue;
      if (m[1] === 'data') data = data === undefined ? m[2]! : `${data}\n${m[2]}`;
      else f[m[1] as 'id' | 'event'] = m[2]!;
    }
    if (data !== undefined) f.data = JSON.parse(data) as unknown;
    if (f.id !== undefined || f.event !== undefined) frames.push(f);
  }
  return frames;
}

/**
 * A client that stops reading: the response is paused once `: connected` arrived, so the socket's
 * buffers fill and the server sees backpressure. `resume()` reads the rest to the stream's end.
 */
export async function stalledClient(url: string, headers: Record<string, string> = {}): Promise<{ resume(): Promise<{ text: string; ended: 'end' | 'aborted' }> }> {
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { headers: { accept: 'text/event-stream', ...headers } }, resolve);
    req.on('error', reject);
    req.end();
  });
  res.setEncoding('utf8');
  let text = '';
  await new Promise<void>((resolve) => {
    const onData = (chunk: string) => {
      text += chunk;
      if (text.includes(': connected')) {
        res.off('data', onData);
        res.pause();
        resolve();
      }
    };
    res.on('data', onData);
  });
  return {
    resume: () =>
      new Promise((resolve) => {
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ text, ended: 'end' }));
        res.on('aborted', () => resolve({ text, ended: 'aborted' }));
        res.on('error', () => resolve({ text, ended: 'aborted' }));
        res.resume();
      }),
  };
}

/** Reads a fetch body until `until` holds for the text so far, or the stream ends. */
export async function readUntil(res: Response, until: (text: string) => boolean): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

/** Lets the event loop turn (I/O included) without waiting on the clock. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
