import type { Db } from '../../store/db.ts';

/** A browser's push subscription as `PushSubscription.toJSON()` gives it. */
export interface WebPushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface StoredSubscription extends WebPushSubscription {
  personId: string;
  userAgent: string | null;
  createdAtMs: number;
}

interface Row {
  endpoint: string;
  person_id: string;
  p256dh: string;
  auth: string;
  user_agent: string | null;
  created_at: Date | string;
}

const toMs = (v: Date | string) => (v instanceof Date ? v.getTime() : Date.parse(v));

const toStored = (r: Row): StoredSubscription => ({ endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth }, personId: r.person_id, userAgent: r.user_agent, createdAtMs: toMs(r.created_at) });

/**
 * The people's Web Push subscriptions (migration 091), on PostgreSQL or PGlite, with a copy in
 * memory for the send path: a leak's push must not wait behind the tickets' SQL for a lookup. The
 * copy is loaded once, kept up to date by this process's own changes, and reloaded in the
 * background every `refreshMs` for changes made by another process.
 */
export class PushSubscriptions {
  #byPerson: Map<string, StoredSubscription[]> | undefined;
  #loading: Promise<Map<string, StoredSubscription[]>> | undefined;
  #loadedAtMs = Number.NEGATIVE_INFINITY;
  /** Own changes so far: a load that read the store before one of them is stale at once. */
  #changes = 0;
  readonly #now: () => number;
  readonly #refreshMs: number;
  readonly #onReloadError: (err: unknown) => void;

  constructor(
    private readonly db: Db,
    options: { now?: () => number; refreshMs?: number; onReloadError?: (err: unknown) => void } = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#refreshMs = options.refreshMs ?? 60_000;
    this.#onReloadError = options.onReloadError ?? (() => undefined);
  }

  #load(): Promise<Map<string, StoredSubscription[]>> {
    const changesBefore = this.#changes;
    this.#loading ??= this.db
      .query<Row>('SELECT * FROM push_subscriptions ORDER BY created_at, endpoint')
      .then((rows) => {
        const byPerson = new Map<string, StoredSubscription[]>();
        for (const r of rows) (byPerson.get(r.person_id) ?? byPerson.set(r.person_id, []).get(r.person_id)!).push(toStored(r));
        this.#byPerson = byPerson;
        // A change made while the rows were read may be missing from them: read again at the next send.
        this.#loadedAtMs = this.#changes === changesBefore ? this.#now() : Number.NEGATIVE_INFINITY;
        return byPerson;
      })
      .finally(() => (this.#loading = undefined));
    return this.#loading;
  }

  /** Applies this process's own change to the copy, once it is in the store. */
  #change(endpoint: string, added?: StoredSubscription): void {
    this.#changes++;
    if (!this.#byPerson) return;
    for (const [person, subs] of this.#byPerson) {
      const kept = subs.filter((s) => s.endpoint !== endpoint);
      if (kept.length === 0) this.#byPerson.delete(person);
      else if (kept.length !== subs.length) this.#byPerson.set(person, kept);
    }
    if (added) this.#byPerson.set(added.personId, [...(this.#byPerson.get(added.personId) ?? []), added]);
  }

  /** Saves a subscription for a person; the same endpoint saved again (new keys, new person) replaces it. */
  async save(personId: string, sub: WebPushSubscription, userAgent: string | undefined, nowMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO push_subscriptions (endpoint, person_id, p256dh, auth, user_agent, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (endpoint) DO UPDATE SET person_id = EXCLUDED.person_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
         user_agent = EXCLUDED.user_agent, created_at = EXCLUDED.created_at, last_sent_at = NULL`,
      [sub.endpoint, personId, sub.keys.p256dh, sub.keys.auth, userAgent?.slice(0, 300) ?? null, new Date(nowMs).toISOString()],
    );
    this.#change(sub.endpoint, { endpoint: sub.endpoint, keys: { ...sub.keys }, personId, userAgent: userAgent?.slice(0, 300) ?? null, createdAtMs: nowMs });
  }

  /** Removes a person's subscription; false when they had none at that endpoint. */
  async remove(personId: string, endpoint: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM push_subscriptions WHERE endpoint = $1 AND person_id = $2 RETURNING endpoint', [endpoint, personId]);
    if (rows.length > 0) this.#change(endpoint);
    return rows.length > 0;
  }

  /** Removes an endpoint the push service no longer knows (404/410), whoever it belonged to. */
  async expire(endpoint: string): Promise<void> {
    await this.db.query('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
    this.#change(endpoint);
  }

  /** From memory once loaded (a stale copy is refreshed in the background, never waited for). */
  async forPerson(personId: string): Promise<StoredSubscription[]> {
    const byPerson = this.#byPerson ?? (await this.#load());
    if (this.#now() - this.#loadedAtMs >= this.#refreshMs) this.#load().catch(this.#onReloadError);
    return byPerson.get(personId) ?? [];
  }

  async markSent(endpoint: string, nowMs: number): Promise<void> {
    await this.db.query('UPDATE push_subscriptions SET last_sent_at = $2 WHERE endpoint = $1', [endpoint, new Date(nowMs).toISOString()]);
  }
}
