import { createHash, timingSafeEqual } from 'node:crypto';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { ConfigError } from '../../../app/errors.ts';
import { ErrorResponse } from '../../api/schemas.ts';
import type { ChannelDeps } from '../channel.ts';
import type { ProviderRefs, RefTarget } from '../provider-refs.ts';

/**
 * Delivery reports the SMS and voice providers push by HTTP (Aliyun SmsReport / VoiceReport,
 * Tencent SMS status and VMS call callbacks). The providers sign none of them, so the report URL
 * carries a shared secret, `?token=<secret>` (a query parameter the API's logs redact), and a body
 * limit; a report about a message not sent from here is logged and answered as received, so the
 * provider does not keep pushing it.
 */
export const ReceiptsConfigSchema = Type.Optional(
  Type.Object(
    {
      secret: Type.String({ minLength: 24, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$', description: 'Shared secret the report URL carries: https://<service>/hooks/v1/push/<instance>/report?token=<secret>' }),
      maxBodyBytes: Type.Integer({ minimum: 1024, maximum: 4 * 1024 * 1024, default: 256 * 1024, description: 'Largest report body taken: a push may batch many reports' }),
    },
    { additionalProperties: false, description: 'Delivery reports pushed by the provider (absent: none taken)' },
  ),
);
export type ReceiptsConfig = NonNullable<Static<typeof ReceiptsConfigSchema>>;

const TokenQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) });

const digest = (s: string) => createHash('sha256').update(s).digest();
/** Compared as digests: equal length, so the time taken says nothing about the secret. */
const sameSecret = (given: string | undefined, secret: string) => given !== undefined && timingSafeEqual(digest(given), digest(secret));

/**
 * `POST /report?token=<secret>`: refused with 401 when the token is wrong, otherwise each report
 * handled by `handle`; the answer is the provider's documented acknowledgement.
 */
export function reportRoute<B extends TSchema, A extends TSchema>(
  app: FastifyInstance,
  config: ReceiptsConfig,
  route: { body: B; answer: A; handle: (body: Static<B>, log: FastifyBaseLogger) => Promise<Static<A>> },
): void {
  app.post<{ Querystring: Static<typeof TokenQuery>; Body: Static<B> }>(
    '/report',
    { bodyLimit: config.maxBodyBytes, schema: { querystring: TokenQuery, body: route.body, response: { 200: route.answer, 401: ErrorResponse } } },
    async (request, reply) => {
      if (!sameSecret(request.query.token, config.secret)) {
        request.log.warn({ remoteAddress: request.ip }, 'Delivery report refused: wrong or missing token');
        return reply.code(401).send({ error: 'GAS_PUSH_CALLBACK_INVALID', message: 'Report not accepted', requestId: request.id });
      }
      return route.handle(request.body, request.log);
    },
  );
}

/** Refused at start: reports taken but nowhere to record them (the service stage gives both). */
export function checkReceipts(config: { receipts?: ReceiptsConfig }, deps: ChannelDeps, needsRefs: boolean, plugin: string): void {
  if (!config.receipts) return;
  if (!deps.recordReceipt || (needsRefs && !deps.db)) throw new ConfigError(`${plugin}: receipts need the service's ticket store (delivery reports have nowhere to go)`);
}

/** 139****0100: logs say which phone without spelling it out. */
export const maskPhone = (n: string) => (n.length > 7 ? `${n.slice(0, n.length - 8)}****${n.slice(-4)}` : n);

/** `2017-01-01 00:00:00` as the providers write report times: Beijing time. Undefined when unreadable. */
export function chinaTimeMs(text: string | undefined): number | undefined {
  const m = text ? /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/.exec(text.trim()) : null;
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}+08:00`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Unix seconds as a string (Tencent VMS `accept_time`). */
export function unixSecondsMs(text: string | undefined): number | undefined {
  return text && /^\d{9,11}$/.test(text) ? Number(text) * 1000 : undefined;
}

/**
 * Aliyun SendSms `OutId` (under 256 characters, returned as the report's `out_id`): the notice and
 * person, so the report needs no lookup. Undefined when they do not fit (then no receipt).
 */
export function aliyunOutId(target: RefTarget): string | undefined {
  const id = `r1.${Buffer.from(JSON.stringify([target.noticeId, target.personId])).toString('base64url')}`;
  return id.length < 256 ? id : undefined;
}

export function targetOfOutId(outId: string | undefined): RefTarget | undefined {
  if (!outId?.startsWith('r1.')) return undefined;
  try {
    const [noticeId, personId] = JSON.parse(Buffer.from(outId.slice(3), 'base64url').toString('utf8')) as unknown[];
    return typeof noticeId === 'string' && typeof personId === 'string' ? { noticeId, personId } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Remembers a provider message id after the provider accepted the message. A store failure is
 * logged, never thrown: the message is out, and failing the push would send it again.
 */
export async function rememberRef(refs: ProviderRefs | undefined, ref: string | undefined, target: RefTarget, deps: ChannelDeps): Promise<void> {
  if (!refs || !ref) return;
  try {
    await refs.remember(ref, target, deps.clock.now());
  } catch (err) {
    deps.log.warn({ err, ref, ...target }, 'Provider message id not kept: its delivery report will not be matched');
  }
}

/** Records what a report says about a known push; a report on a message not sent from here is logged and dropped. */
export async function recordReport(
  deps: ChannelDeps,
  log: FastifyBaseLogger,
  target: RefTarget | undefined,
  ref: string | undefined,
  receipt: 'delivered' | 'read',
  atMs: number | undefined,
): Promise<void> {
  const known = target !== undefined && (await deps.recordReceipt!(target.noticeId, target.personId, receipt, atMs ?? deps.clock.now()));
  if (!target) log.warn({ ref }, 'Delivery report for a message not sent from here (or no longer known), ignored');
  deps.onReport?.(known ? receipt : 'unknown');
}

/** A report saying the message did not reach the person: nothing recorded, logged and counted. */
export function reportFailed(deps: ChannelDeps, log: FastifyBaseLogger, what: string, fields: Record<string, unknown>): void {
  log.warn(fields, what);
  deps.onReport?.('failed');
}
