import { createHmac, randomUUID } from 'node:crypto';
import { httpStatusError, PushError, PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { fetchAnswer } from '../http.ts';

/**
 * Alibaba Cloud RPC-style APIs (Dysmsapi SMS, Dyvmsapi voice), signature version 1.0: the query
 * sorted by name, each name and value percent-encoded (RFC 3986: space %20, `*` %2A, `~` kept),
 * StringToSign `GET&%2F&<encoded query>`, Signature = base64 HMAC-SHA1 with key `<secret>&`.
 * Hand-written rather than the @alicloud SDKs: these are a few lines, and the SDKs read the
 * system clock, which tests here must drive.
 */

export interface AliyunCredentials {
  accessKeyId: string;
  accessKeySecret: string;
}

/** Alibaba's percent-encoding (Java URLEncoder with `+`→%20, `*`→%2A, %7E→`~`): RFC 3986 unreserved kept. */
export function aliyunPercentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** ISO 8601 UTC to the second, as the RPC Timestamp parameter wants it (no milliseconds). */
const rpcTimestamp = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The canonicalised query (sorted, encoded) the signature covers. */
export function aliyunCanonicalQuery(params: Readonly<Record<string, string>>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(params[k]!)}`)
    .join('&');
}

export function aliyunSignature(method: 'GET' | 'POST', params: Readonly<Record<string, string>>, accessKeySecret: string): string {
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(aliyunCanonicalQuery(params))}`;
  return createHmac('sha1', `${accessKeySecret}&`).update(stringToSign).digest('base64');
}

/** The full signed GET URL for one action: common parameters, the action's own, Signature last. */
export function aliyunSignedUrl(
  endpoint: string,
  action: { Action: string; Version: string; RegionId: string } & Record<string, string>,
  credentials: AliyunCredentials,
  nowMs: number,
  nonce: string = randomUUID(),
): string {
  const params: Record<string, string> = {
    Format: 'JSON',
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce,
    Timestamp: rpcTimestamp(nowMs),
    AccessKeyId: credentials.accessKeyId,
    ...action,
  };
  const signature = aliyunSignature('GET', params, credentials.accessKeySecret);
  return `${endpoint.replace(/\/?$/, '/')}?Signature=${aliyunPercentEncode(signature)}&${aliyunCanonicalQuery(params)}`;
}

/** What every RPC answer carries; `Code` is `OK` on success. */
export interface AliyunAnswer {
  Code?: string;
  Message?: string;
  RequestId?: string;
  [field: string]: unknown;
}

/**
 * Codes meaning "too many for now": flow control per number (minute / hour) or for the API. A day
 * or month quota (isv.DAY_LIMIT_CONTROL) does not clear within a retry, so it is final.
 */
const THROTTLED = /^(isv\.BUSINESS_LIMIT_CONTROL|Throttling(\..*)?)$/;
/** Provider-side faults worth another attempt. */
const UNAVAILABLE = /^(isp\.|ServiceUnavailable|InternalError)/;

/**
 * Sorts a non-OK Code into the push error classes: flow control waits `throttleMs`, a provider
 * fault retries, everything else (bad number, template, signature, account, balance) is final.
 */
export function aliyunError(answer: AliyunAnswer, what: string, throttleMs: number, statusCode?: number): PushError {
  const code = answer.Code ?? 'Unknown';
  const message = `${what}: Aliyun ${code}${answer.Message ? ` ${answer.Message}` : ''}${answer.RequestId ? ` (RequestId ${answer.RequestId})` : ''}`;
  if (THROTTLED.test(code)) return new PushThrottledError(message, { retryAfterMs: throttleMs, ...(statusCode ? { statusCode } : {}) });
  if (UNAVAILABLE.test(code)) return new PushUnavailableError(message, statusCode ? { statusCode } : {});
  return new PushRejectedError(message, statusCode ? { statusCode } : {});
}

/** Calls one RPC action; resolves with the answer when Code is OK, throws a sorted PushError otherwise. */
export async function callAliyun(url: string, what: string, options: { timeoutMs: number; throttleMs: number }): Promise<AliyunAnswer> {
  const { res, text } = await fetchAnswer(url, { method: 'GET' }, options.timeoutMs, `Aliyun (${what})`);
  let answer: AliyunAnswer | undefined;
  try {
    answer = JSON.parse(text) as AliyunAnswer;
  } catch {
    answer = undefined;
  }
  // Errors come as 4xx/5xx with a JSON Code (signature, throttling) or as 200 with a business Code.
  if (answer?.Code && answer.Code !== 'OK') throw aliyunError(answer, what, options.throttleMs, res.status === 200 ? undefined : res.status);
  if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text);
  if (!answer) throw new PushUnavailableError(`${what}: unreadable answer from Aliyun: ${text.slice(0, 200)}`);
  return answer;
}
