/** A technician app's live stream, read with fetch: every Server-Sent Event as it arrives. */
export interface StreamEvent {
  id: string;
  event: string;
  data: unknown;
  receivedAtMs: number;
}

export interface StreamClient {
  events: StreamEvent[];
  /** Resolves with the first event (already received or yet to come) that `match` accepts. */
  next(match: (e: StreamEvent) => boolean, timeoutMs?: number): Promise<StreamEvent>;
  close(): void;
}

export async function openStream(url: string): Promise<StreamClient> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`stream ${url}: ${res.status}`);
  const events: StreamEvent[] = [];
  const waiters: Array<{ match: (e: StreamEvent) => boolean; resolve: (e: StreamEvent) => void }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = {};
          for (const line of frame.split('\n')) {
            const m = /^([a-zA-Z]+): ?(.*)$/.exec(line);
            if (m) fields[m[1]!] = fields[m[1]!] === undefined ? m[2]! : `${fields[m[1]!]}\n${m[2]}`;
          }
          if (fields.data === undefined) continue;
          const e: StreamEvent = { id: fields.id ?? '', event: fields.event ?? 'message', data: JSON.parse(fields.data), receivedAtMs: performance.now() };
          events.push(e);
          for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.match(e)) waiters.splice(i, 1)[0]!.resolve(e);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return {
    events,
    next(match, timeoutMs = 15_000) {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching stream event')), timeoutMs);
        waiters.push({ match, resolve: (e) => { clearTimeout(timer); resolve(e); } });
      });
    },
    close: () => controller.abort(),
  };
}
