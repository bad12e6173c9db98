import type { Clock } from '../../../app/clock.ts';

/** What a provider's token endpoint answered: the token and how long it lives. */
export interface FetchedToken {
  token: string;
  expiresInMs: number;
}

/**
 * An app access token (DingTalk `gettoken`, Feishu `tenant_access_token`), fetched once and reused
 * until shortly before it expires: the providers rate-limit their token endpoints, and a token per
 * push would hit that limit during an alarm storm. Concurrent pushes share one fetch in flight.
 */
export class AccessTokenCache {
  readonly #fetch: () => Promise<FetchedToken>;
  readonly #clock: Clock;
  readonly #marginMs: number;
  #current: { token: string; expiresAtMs: number } | undefined;
  #pending: Promise<string> | undefined;

  /** `marginMs`: renew this long before expiry, so no push leaves with a token about to lapse. */
  constructor(fetch: () => Promise<FetchedToken>, clock: Clock, marginMs = 5 * 60_000) {
    this.#fetch = fetch;
    this.#clock = clock;
    this.#marginMs = marginMs;
  }

  async get(): Promise<string> {
    if (this.#current && this.#clock.now() < this.#current.expiresAtMs - this.#marginMs) return this.#current.token;
    this.#pending ??= this.#fetch()
      .then(({ token, expiresInMs }) => {
        this.#current = { token, expiresAtMs: this.#clock.now() + expiresInMs };
        return token;
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  /** The provider refused `token` (expired early, app secret rotated): the next get() fetches anew. */
  invalidate(token: string): void {
    if (this.#current?.token === token) this.#current = undefined;
  }
}
