import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PipelineError } from '../../app/errors.ts';
import type { AuditEntry } from '../audit/audit-log.ts';
import { TicketNotFoundError } from '../tickets/errors.ts';
import type { Db } from '../store/db.ts';

/**
 * Acting on a ticket from a phone notification (issue 14): a channel puts a signed, single-use,
 * expiring token into its button or link; whoever redeems it acts as the person it was issued to.
 * The token is the only credential such a request carries, so it names person, ticket and action.
 */

/** What a button on a phone may do to a ticket. */
export type PhoneAction = 'acknowledge' | 'on_site';

export interface ActionClaim {
  personId: string;
  ticketId: string;
  action: PhoneAction;
}

/** Issues action tokens (HMAC-SHA256 signed, expiring, single-use). */
export interface ActionTokenIssuer {
  /** `ttlMs` absent: the configured default. */
  issue(claim: ActionClaim, ttlMs?: number): string;
}

/** Performs a redeemed action as that person; throws the ticket service's typed errors. */
export interface ActionApplier {
  /** `via`: where the action came from (channel instance name, or `link`), kept in the audit trail. */
  apply(a: ActionClaim & { via: string }): Promise<{ ticketId: string; status: string }>;
}

/** The one-tap link any channel may show: the console's acknowledge screen posts the token to /hooks/v1/actions. */
export function actionLink(appUrl: string, token: string): string {
  return `${appUrl.replace(/\/+$/, '')}/#/act/${token}`;
}

/** The prefix of a claim's ticketId that names an alert instead (see actionTicketRef). */
export const ALERT_REF = 'alert:';

/**
 * What a notice's buttons act on: its ticket, or for an alarm pushed ahead of its ticket (the
 * safety lane's leak push, which the ticket's dispatch then does not repeat) `alert:<first alert
 * id>`, which the applier turns into the ticket opened for that alert when the button is pressed.
 * Undefined when the notice names neither.
 */
export function actionTicketRef(notice: { ticketId: string; data: Record<string, unknown> }): string | undefined {
  if (notice.ticketId) return notice.ticketId;
  const first = ([] as unknown[]).concat(notice.data.alertIds ?? [])[0];
  return typeof first === 'string' && first !== '' ? `${ALERT_REF}${first}` : undefined;
}

/** The ticket an alert was taken into (ticket_alerts), for `alert:` references. */
export function sqlTicketOfAlert(db: Db): (alertId: string) => Promise<string | undefined> {
  return async (alertId) => (await db.query<{ ticket_id: string }>('SELECT ticket_id FROM ticket_alerts WHERE alert_id = $1', [alertId]))[0]?.ticket_id;
}

const hookPath = (via: string) => (via === 'link' ? '/hooks/v1/actions' : `/hooks/v1/push/${via}`);

/** Where a redemption came from, for the audit trail. */
export interface RedeemContext {
  /** Channel instance name, or `link` for the one-tap acknowledge screen. */
  via: string;
  /** The route called; absent: `/hooks/v1/actions` for `link`, else `/hooks/v1/push/<via>`. */
  path?: string;
  clientIp?: string;
  requestId?: string;
  /**
   * A check the caller makes on the claim before the token is spent (e.g. the WeCom user who
   * clicked is the person it was issued to); throw an ActionTokenError to refuse.
   */
  check?: (claim: ActionClaim) => void | Promise<void>;
}

/** Checks and spends tokens: every refusal is audited. */
export interface ActionTokenRedeemer {
  redeem(token: string, ctx: RedeemContext): Promise<ActionClaim>;
  /** Makes a spent token usable again (its action could not happen yet); a forged one is ignored. */
  release?(token: string): Promise<void>;
}

/**
 * A button pressed on a leak's push before the ticket for the alert was opened (the storm folder
 * holds new alerts a few seconds): nothing happened, and the token stays usable.
 */
export class ActionNotYetError extends PipelineError {
  constructor(readonly ref: string) {
    super('GAS_ACTION_NOT_YET', '工单尚未生成，请稍后再试 The ticket is not open yet: try again in a moment');
  }
}

/**
 * Redeems and applies in one step, for the link route and every provider callback: a token whose
 * action could not happen yet (ActionNotYetError) is released, so the same button works a moment later.
 */
export async function redeemAndApply(tokens: ActionTokenRedeemer, applier: ActionApplier, token: string, ctx: RedeemContext): Promise<{ claim: ActionClaim; done: { ticketId: string; status: string } }> {
  const claim = await tokens.redeem(token, ctx);
  try {
    return { claim, done: await applier.apply({ ...claim, via: ctx.via }) };
  } catch (err) {
    if (err instanceof ActionNotYetError) await tokens.release?.(token);
    throw err;
  }
}

export type ActionTokenRefusal = 'forged' | 'expired' | 'replayed' | 'wrong_person';

/** A token refused: its reason is what the audit log and the caller's logs say. */
export class ActionTokenError extends PipelineError {
  constructor(
    readonly reason: ActionTokenRefusal,
    message: string,
  ) {
    super(`GAS_ACTION_TOKEN_${reason.toUpperCase()}`, message);
  }
}

/** The HTTP answer each refusal gets (alerts/api/errors.ts), kept alike in the audit log. */
const REFUSAL_STATUS: Record<ActionTokenRefusal, number> = { forged: 401, wrong_person: 403, replayed: 409, expired: 410 };

const ACTIONS: ReadonlySet<string> = new Set<PhoneAction>(['acknowledge', 'on_site']);
const VERSION = 'a1';

interface Payload {
  p: string;
  t: string;
  a: PhoneAction;
  /** Expiry, epoch ms. */
  e: number;
  /** Nonce: what single use is checked by. */
  n: string;
}

export interface ActionTokensOptions {
  db: Db;
  clock: { now(): number };
  /** At least 32 bytes; see `loadActionSecret`. */
  secret: Buffer;
  defaultTtlMs: number;
  audit?: { record(e: AuditEntry): Promise<void> };
}

/**
 * Action tokens `a1.<base64url payload>.<base64url HMAC-SHA256>`: compact enough for a WeCom
 * button key (1024 bytes) and a URL fragment. Single use is kept in `action_token_uses`
 * (migration 090) until expiry, so a replica sharing the store refuses a replay too.
 */
export class ActionTokens implements ActionTokenIssuer, ActionTokenRedeemer {
  readonly #o: ActionTokensOptions;

  constructor(options: ActionTokensOptions) {
    if (options.secret.length < 32) throw new PipelineError('GAS_CONFIG_INVALID', 'Action-token secret must be at least 32 bytes');
    this.#o = options;
  }

  issue(claim: ActionClaim, ttlMs = this.#o.defaultTtlMs): string {
    const payload: Payload = { p: claim.personId, t: claim.ticketId, a: claim.action, e: this.#o.clock.now() + ttlMs, n: randomBytes(12).toString('base64url') };
    const body = `${VERSION}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${body}.${this.#sign(body)}`;
  }

  async redeem(token: string, ctx: RedeemContext): Promise<ActionClaim> {
    let claim: ActionClaim | undefined;
    try {
      const payload = this.#verify(token);
      claim = { personId: payload.p, ticketId: payload.t, action: payload.a };
      if (payload.e <= this.#o.clock.now()) throw new ActionTokenError('expired', '链接或按钮已过期，请在控制台打开工单 This link or button has expired: open the ticket in the console');
      await ctx.check?.(claim);
      const now = this.#o.clock.now();
      // Spent before the action runs, so two taps racing each other act once.
      const spent = await this.#o.db.query(
        `INSERT INTO action_token_uses (nonce, person_id, ticket_id, action, via, used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (nonce) DO NOTHING RETURNING nonce`,
        [payload.n, claim.personId, claim.ticketId, claim.action, ctx.via, new Date(now).toISOString(), new Date(payload.e).toISOString()],
      );
      if (spent.length === 0) throw new ActionTokenError('replayed', '链接或按钮已用过 This link or button has already been used');
      // Expired nonces need no keeping: the expiry check refuses those tokens first.
      await this.#o.db.query('DELETE FROM action_token_uses WHERE expires_at < $1', [new Date(now).toISOString()]);
      return claim;
    } catch (err) {
      if (err instanceof ActionTokenError) await this.#auditRefusal(err, claim, ctx);
      throw err;
    }
  }

  async release(token: string): Promise<void> {
    let nonce: string;
    try {
      nonce = this.#verify(token).n;
    } catch {
      return;
    }
    await this.#o.db.query('DELETE FROM action_token_uses WHERE nonce = $1', [nonce]);
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#o.secret).update(body).digest('base64url');
  }

  #verify(token: string): Payload {
    const forged = () => new ActionTokenError('forged', '链接或按钮无效 This link or button is not valid');
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) throw forged();
    const given = Buffer.from(parts[2]!, 'base64url');
    const expected = createHmac('sha256', this.#o.secret).update(`${parts[0]}.${parts[1]}`).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw forged();
    let p: Partial<Payload>;
    try {
      p = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<Payload>;
    } catch {
      throw forged();
    }
    // Signed by us, so malformed only if the secret leaked or a bug issued it: refused alike.
    if (typeof p.p !== 'string' || typeof p.t !== 'string' || typeof p.a !== 'string' || !ACTIONS.has(p.a) || typeof p.e !== 'number' || typeof p.n !== 'string') throw forged();
    return p as Payload;
  }

  async #auditRefusal(err: ActionTokenError, claim: ActionClaim | undefined, ctx: RedeemContext): Promise<void> {
    if (!this.#o.audit) return;
    await this.#o.audit.record({
      at: this.#o.clock.now(),
      actor: claim?.personId ?? 'unknown',
      role: 'action-token',
      action: `actions.refused.${err.reason}`,
      targetType: 'tickets',
      ...(claim ? { targetId: claim.ticketId } : {}),
      method: 'POST',
      path: ctx.path ?? hookPath(ctx.via),
      status: REFUSAL_STATUS[err.reason],
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
      ...(ctx.clientIp ? { clientIp: ctx.clientIp } : {}),
      detail: { via: ctx.via, reason: err.reason, ...(claim ? { action: claim.action } : {}) },
    });
  }
}

/**
 * The signing secret: `ACTION_TOKEN_SECRET`-style settings value when given (replicas must share
 * it), else a random one kept in `file` (created 0600 on first start) so links outlive a restart.
 */
export function loadActionSecret(file: string, configured?: string): Buffer {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  const secret = randomBytes(32);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, secret.toString('base64url'), { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

export interface TicketActionsDeps {
  tickets: {
    get(id: string): Promise<{ assignee: string | null } | undefined>;
    acknowledge(id: string, actor: string): Promise<{ id: string; status: string }>;
    arriveOnSite(id: string, actor: string): Promise<{ id: string; status: string }>;
  };
  people: { person(id: string): Promise<{ role: string } | undefined> };
  /** Resolves `alert:<id>` claims (see actionTicketRef); without it they are "not found". */
  ticketOfAlert?: (alertId: string) => Promise<string | undefined>;
  clock: { now(): number };
  audit?: { record(e: AuditEntry): Promise<void> };
  log: { error(obj: object, msg: string): void };
}

/**
 * Ticket actions from a phone, with the same rule as the API: a technician acts only on a ticket
 * assigned to them (another's is "not found"), supervisors and directors on any they were sent.
 * Each is audited as `tickets.<action>.phone` with the channel it came from.
 */
export function ticketActionApplier(d: TicketActionsDeps): ActionApplier {
  return {
    async apply({ personId, ticketId: ref, action, via }) {
      const ticketId = ref.startsWith(ALERT_REF) ? await d.ticketOfAlert?.(ref.slice(ALERT_REF.length)) : ref;
      if (ticketId === undefined) throw new ActionNotYetError(ref);
      const [person, ticket] = await Promise.all([d.people.person(personId), d.tickets.get(ticketId)]);
      if (!ticket || !person || (person.role === 'technician' && ticket.assignee !== personId)) throw new TicketNotFoundError(ticketId);
      const done = action === 'acknowledge' ? await d.tickets.acknowledge(ticketId, personId) : await d.tickets.arriveOnSite(ticketId, personId);
      try {
        await d.audit?.record({
          at: d.clock.now(),
          actor: personId,
          role: person.role,
          action: `tickets.${action === 'acknowledge' ? 'acknowledge' : 'on-site'}.phone`,
          targetType: 'tickets',
          targetId: ticketId,
          method: 'POST',
          path: hookPath(via),
          status: 200,
          detail: { via, action, status: done.status },
        });
      } catch (err) {
        // The action is done; a missing audit line is an operator's problem, not the technician's.
        d.log.error({ err, ticketId, via }, 'Audit log write failed');
      }
      return { ticketId: done.id, status: done.status };
    },
  };
}
