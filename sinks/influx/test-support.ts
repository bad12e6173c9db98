import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { Scheduler } from './influx-writer.ts';

/** Helpers for this folder's tests: a scripted line-protocol server and a hand-driven clock. */

export interface ReceivedWrite {
  path: string;
  headers: IncomingMessage['headers'];
  lines: string[];
}

export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang-up';

/** Answers each write with the next scripted reply (204 once the script is used up). */
export class FakeInfluxServer {
  readonly received: ReceivedWrite[] = [];
  readonly replies: Reply[] = [];
  /** Replies used when the script is empty; default 204. */
  fallback: Reply = { status: 204 };
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  /** Lines the server answered 2xx to, in order. */
  accepted: string[] = [];

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const lines = body.length ? body.toString('utf8').split('\n') : [];
      this.received.push({ path: req.url ?? '', headers: req.headers, lines });
      const reply = this.replies.shift() ?? this.fallback;
      if (reply === 'hang-up') {
        req.socket.destroy();
        return;
      }
      if (reply.status < 300) this.accepted.push(...lines);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** Time moves only when the test says so; sleeps resolve when their time is reached or they are aborted. */
export class ManualScheduler implements Scheduler {
  nowMs = 1_700_000_000_000;
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  private pending: Array<{ dueMs: number; resolve: () => void }> = [];

  now(): number {
    return this.nowMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        this.pending = this.pending.filter((p) => p !== entry);
        resolve();
      };
      const entry = {
        dueMs: this.nowMs + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.pending.push(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sleeps not yet due or aborted. */
  get waiting(): number {
    return this.pending.length;
  }

  advance(ms: number): void {
    this.nowMs += ms;
    const due = this.pending.filter((p) => p.dueMs <= this.nowMs);
    this.pending = this.pending.filter((p) => p.dueMs > this.nowMs);
    for (const p of due) p.resolve();
  }
}

/** Waits on real I/O (HTTP round trips) until `check` holds; no fixed sleeps. */
export async function until(check: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
