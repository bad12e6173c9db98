import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Db } from '../store/db.ts';
import type { Principal, Role, TokenVerifier } from './tokens.ts';

/** A token as listed to admins: never the token itself. */
export interface ApiTokenInfo {
  id: string;
  name: string;
  role: Role;
  personId: string | null;
  createdAt: string;
  revokedAt: string | null;
}

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  person_id: string | null;
  sha256: string;
  created_at: unknown;
  revoked_at: unknown;
}

const sha256Hex = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
const isoOf = (v: unknown): string | null => (v === null || v === undefined ? null : (v instanceof Date ? v : new Date(String(v))).toISOString());

function toInfo(r: TokenRow): ApiTokenInfo {
  return { id: r.id, name: r.name, role: r.role, personId: r.person_id, createdAt: isoOf(r.created_at)!, revokedAt: isoOf(r.revoked_at) };
}

/**
 * Issued API tokens in the ticket store (migration 020). Tokens are 32 random bytes, kept only as
 * SHA-256 digests; `verify` reads the row on every call, so a revoke is effective at once.
 */
export class SqlTokenStore implements TokenVerifier {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Issues a token; the returned `token` is the only time it is ever visible. */
  async create(input: { name: string; role: Role; personId?: string }): Promise<ApiTokenInfo & { token: string }> {
    const token = `gas_${randomBytes(32).toString('base64url')}`;
    const rows = await this.#db.query<TokenRow>(
      'INSERT INTO api_tokens (id, name, role, person_id, sha256) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [randomUUID(), input.name, input.role, input.personId ?? null, sha256Hex(token)],
    );
    return { ...toInfo(rows[0]!), token };
  }

  async list(): Promise<ApiTokenInfo[]> {
    return (await this.#db.query<TokenRow>('SELECT * FROM api_tokens ORDER BY created_at, id')).map(toInfo);
  }

  /** Revokes a token; false when there is no such token (revoking twice is not an error). */
  async revoke(id: string): Promise<boolean> {
    const rows = await this.#db.query('UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  async verify(token: string): Promise<Principal | undefined> {
    if (!token) return undefined;
    const candidate = sha256Hex(token);
    // The lookup by digest can only leak timing about a hash of the guess, which says nothing about
    // a valid token; the constant-time compare guards the final match all the same.
    const row = (await this.#db.query<TokenRow>('SELECT * FROM api_tokens WHERE sha256 = $1 AND revoked_at IS NULL', [candidate]))[0];
    if (!row || !timingSafeEqual(Buffer.from(row.sha256, 'hex'), Buffer.from(candidate, 'hex'))) return undefined;
    return { name: row.name, role: row.role, ...(row.person_id !== null ? { personId: row.person_id } : {}) };
  }
}
