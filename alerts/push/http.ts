import { asPushError, PushTimeoutError } from './errors.ts';

/**
 * One request to a provider with a deadline: the response and its body text, or a PushError the
 * dispatcher can sort (a timeout named after whom it waited for, a network failure retryable).
 * What the status and body mean is the caller's: each provider answers in its own shape.
 */
export async function fetchAnswer(url: string | URL, init: RequestInit, timeoutMs: number, who: string): Promise<{ res: Response; text: string }> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { res, text: await res.text() };
  } catch (err) {
    const e = asPushError(err);
    if (e instanceof PushTimeoutError) throw new PushTimeoutError(`No answer from ${who} within ${timeoutMs} ms`, { cause: err });
    throw e;
  }
}
