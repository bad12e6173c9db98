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

/** The people's Web Push subscriptions (migration 091), on PostgreSQL or PGlite. */
export class PushSubscriptions {
  constructor(private readonly db: Db) {}

  /** Saves a subscription for a person; the same endpoint saved again (new keys, new person) replaces it. */
  async save(personId: string, sub: WebPushSubscription, userAgent: string | undefined, nowMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO push_subscriptions (endpoint, person_id, p256dh, auth, user_agent, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (endpoint) DO UPDATE SET person_id = EXCLUDED.person_id, p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
         user_agent = EXCLUDED.user_agent, created_at = EXCLUDED.created_at, last_sent_at = NULL`,
      [sub.endpoint, personId, sub.keys.p256dh, sub.keys.auth, userAgent?.slice(0, 300) ?? null, new Date(nowMs).toISOString()],
    );
  }

  /** Removes a person's subscription; false when they had none at that endpoint. */
  async remove(personId: string, endpoint: string): Promise<boolean> {
    const rows = await this.db.query('DELETE FROM push_subscriptions WHERE endpoint = $1 AND person_id = $2 RETURNING endpoint', [endpoint, personId]);
    return rows.length > 0;
  }

  /** Removes an endpoint the push service no longer knows (404/410), whoever it belonged to. */
  async expire(endpoint: string): Promise<void> {
    await this.db.query('DELETE FROM push_subscriptions WHERE endpoint = $1', [endpoint]);
  }

  async forPerson(personId: string): Promise<StoredSubscription[]> {
    const rows = await this.db.query<Row>('SELECT * FROM push_subscriptions WHERE person_id = $1 ORDER BY created_at, endpoint', [personId]);
    return rows.map((r) => ({ endpoint: r.endpoint, keys: { p256dh: r.p256dh, auth: r.auth }, personId: r.person_id, userAgent: r.user_agent, createdAtMs: toMs(r.created_at) }));
  }

  async markSent(endpoint: string, nowMs: number): Promise<void> {
    await this.db.query('UPDATE push_subscriptions SET last_sent_at = $2 WHERE endpoint = $1', [endpoint, new Date(nowMs).toISOString()]);
  }
}
