import type { Db } from '../store/db.ts';

/** One change made through the API, as recorded (migration 040). */
export interface AuditEntry {
  at: number;
  /** The person the token acts as, else the token's name. */
  actor: string;
  role: string;
  /** e.g. `devices.put`, `settings.sla.put`, `tokens.post`, `tickets.dispatch.post`. */
  action: string;
  targetType: string;
  targetId?: string;
  method: string;
  path: string;
  status: number;
  requestId?: string;
  clientIp?: string;
  detail?: unknown;
}

export interface AuditRecord extends Omit<AuditEntry, 'at' | 'targetId' | 'requestId' | 'clientIp' | 'detail'> {
  id: string;
  at: string;
  targetId: string | null;
  requestId: string | null;
  clientIp: string | null;
  detail: unknown;
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  fromMs?: number;
  toMs?: number;
  /** Only entries older than this id (paging backwards). */
  beforeId?: string;
  limit: number;
}

interface Row {
  id: string | number | bigint;
  at: unknown;
  actor: string;
  role: string;
  action: string;
  target_type: string;
  target_id: string | null;
  method: string;
  path: string;
  status: number;
  request_id: string | null;
  client_ip: string | null;
  detail: unknown;
}

// `auth`: a Web Push subscription's auth secret (POST /push/subscriptions).
const SECRET_KEY = /pass|secret|token|authori[sz]ation|^auth$|cookie|private|apikey|api_key/i;
const MAX_DETAIL_CHARS = 16 * 1024;

/** A request body fit for the audit log: secret-looking fields masked, and capped in size. */
export function auditDetail(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  const masked = JSON.parse(JSON.stringify(body, (key, value: unknown) => (key !== '' && SECRET_KEY.test(key) ? '[redacted]' : value)) ?? 'null') as unknown;
  const text = JSON.stringify(masked);
  if (text.length <= MAX_DETAIL_CHARS) return masked;
  return { truncated: true, chars: text.length, head: text.slice(0, MAX_DETAIL_CHARS) };
}

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();

/** The audit log in the ticket store: append and query, never update or delete. */
export class SqlAuditLog {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_log (at, actor, role, action, target_type, target_id, method, path, status, request_id, client_ip, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)`,
      [new Date(e.at).toISOString(), e.actor, e.role, e.action, e.targetType, e.targetId ?? null, e.method, e.path, e.status, e.requestId ?? null, e.clientIp ?? null, JSON.stringify(e.detail ?? null)],
    );
  }

  /** Newest first. */
  async list(q: AuditQuery): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.actor !== undefined) add('actor = ?', q.actor);
    if (q.action !== undefined) add('action = ?', q.action);
    if (q.targetType !== undefined) add('target_type = ?', q.targetType);
    if (q.targetId !== undefined) add('target_id = ?', q.targetId);
    if (q.fromMs !== undefined) add('at >= ?', new Date(q.fromMs).toISOString());
    if (q.toMs !== undefined) add('at < ?', new Date(q.toMs).toISOString());
    if (q.beforeId !== undefined) add('id < ?', q.beforeId);
    params.push(q.limit);
    const rows = await this.db.query<Row>(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      id: String(r.id),
      at: iso(r.at),
      actor: r.actor,
      role: r.role,
      action: r.action,
      targetType: r.target_type,
      targetId: r.target_id,
      method: r.method,
      path: r.path,
      status: r.status,
      requestId: r.request_id,
      clientIp: r.client_ip,
      detail: typeof r.detail === 'string' ? (JSON.parse(r.detail) as unknown) : r.detail,
    }));
  }
}
