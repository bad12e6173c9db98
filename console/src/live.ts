import { useEffect, useRef, useState } from 'preact/hooks';

export type LiveState = 'connecting' | 'open' | 'reconnecting';

/**
 * Listens to a Server-Sent Events stream while the component is mounted. EventSource reconnects
 * by itself (sending Last-Event-ID); `onOpen` runs on every (re)connect so the caller reloads
 * what it may have missed. Handlers are read through the latest render, so they may close over state.
 */
export function useEventStream(url: string | null, handlers: { onOpen?: () => void; events: Record<string, (data: unknown, id: string) => void> }): LiveState {
  const [state, setState] = useState<LiveState>('connecting');
  const latest = useRef(handlers);
  latest.current = handlers;
  useEffect(() => {
    if (!url) return undefined;
    const source = new EventSource(url);
    source.onopen = () => {
      setState('open');
      latest.current.onOpen?.();
    };
    source.onerror = () => setState('reconnecting');
    const names = Object.keys(latest.current.events);
    const listeners = names.map((name) => {
      const listener = (e: MessageEvent<string>) => latest.current.events[name]?.(JSON.parse(e.data) as unknown, e.lastEventId);
      source.addEventListener(name, listener);
      return listener;
    });
    return () => {
      names.forEach((name, i) => source.removeEventListener(name, listeners[i]!));
      source.close();
    };
  }, [url]);
  return state;
}
