import type { Db } from '../store/db.ts';

/** The push a provider's message id stands for. */
export interface RefTarget {
  noticeId: string;
  personId: string;
}

/** How long a message id is kept: providers report within minutes, at worst a few days (handset off). */
export const REF_KEEP_MS = 3 * 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
const ts = (n: number) => `to_timestamp($${n}::float8 / 1000.0)`;

/**
 * Provider message ids of one channel instance (Tencent SMS SerialNo, voice CallId) → the notice
 * and person, in the ticket store (migration 093), so a delivery report that names only the id is
 * recorded on the right push wherever and whenever it arrives.
 */
export class ProviderRefs {
  #prunedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: Db,
    private readonly channel: string,
  ) {}

  /** Remembers that `ref` is this push; rows older than REF_KEEP_MS go at most once an hour. */
  async remember(ref: string, target: RefTarget, nowMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO push_provider_refs (channel, ref, notice_id, recipient_id, sent_at) VALUES ($1, $2, $3, $4, ${ts(5)})
       ON CONFLICT (channel, ref) DO UPDATE SET notice_id = EXCLUDED.notice_id, recipient_id = EXCLUDED.recipient_id, sent_at = EXCLUDED.sent_at`,
      [this.channel, ref, target.noticeId, target.personId, nowMs],
    );
    if (nowMs - this.#prunedAtMs < PRUNE_EVERY_MS) return;
    this.#prunedAtMs = nowMs;
    await this.db.query(`DELETE FROM push_provider_refs WHERE sent_at < ${ts(1)}`, [nowMs - REF_KEEP_MS]);
  }

  async find(ref: string): Promise<RefTarget | undefined> {
    const [row] = await this.db.query<{ notice_id: string; recipient_id: string }>('SELECT notice_id, recipient_id FROM push_provider_refs WHERE channel = $1 AND ref = $2', [this.channel, ref]);
    return row ? { noticeId: row.notice_id, personId: row.recipient_id } : undefined;
  }
}
