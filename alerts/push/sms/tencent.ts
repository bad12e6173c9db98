import { createHash, createHmac } from 'node:crypto';
import { httpStatusError, PushError, PushRejectedError, PushThrottledError, PushUnavailableError } from '../errors.ts';
import { fetchAnswer } from '../http.ts';

/**
 * Tencent Cloud API 3.0 (SMS `SendSms`, VMS `SendTtsVoice`): a JSON POST signed TC3-HMAC-SHA256
 * over content-type and host. Hand-written rather than tencentcloud-sdk-nodejs for the reason the
 * Aliyun signer is: a few lines, and the SDK reads the system clock.
 */

export interface TencentCredentials {
  secretId: string;
  secretKey: string;
}

export interface TencentRequest {
  /** e.g. https://sms.tencentcloudapi.com */
  endpoint: string;
  /** The service part of the credential scope: `sms`, `vms`. */
  service: string;
  action: string;
  version: string;
  region: string;
  body: unknown;
}

const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/** The Authorization header for one request: `TC3-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function tc3Authorization(credentials: TencentCredentials, service: string, host: string, contentType: string, payload: string, timestampS: number): string {
  const date = new Date(timestampS * 1000).toISOString().slice(0, 10);
  const canonicalRequest = ['POST', '/', '', `content-type:${contentType}\nhost:${host}\n`, 'content-type;host', sha256Hex(payload)].join('\n');
  const scope = `${date}/${service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(timestampS), scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${credentials.secretKey}`, date), service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${credentials.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

/** `Response.Error` present: the whole request failed (auth, parameters, limits of the API). */
export interface TencentError {
  Code: string;
  Message?: string;
}

/**
 * Codes meaning "too many for now": the per-number minute and hour limits and API rate limits.
 * A daily limit (`…DailyLimit`) does not clear within a retry, so it is final.
 */
const THROTTLED = /^(LimitExceeded\.(PhoneNumberThirtySecondLimit|PhoneNumberOneHourLimit|.*Frequency.*)|RequestLimitExceeded(\..*)?)$/;
const UNAVAILABLE = /^(InternalError|FailedOperation\.(ServiceUnavailable|.*Timeout.*)|ResourceUnavailable)/;

/** Sorts a Tencent error code into the push error classes, as the Aliyun one does. */
export function tencentError(code: string, detail: string, what: string, throttleMs: number, requestId?: string): PushError {
  const message = `${what}: Tencent ${code}${detail ? ` ${detail}` : ''}${requestId ? ` (RequestId ${requestId})` : ''}`;
  if (THROTTLED.test(code)) return new PushThrottledError(message, { retryAfterMs: throttleMs });
  if (UNAVAILABLE.test(code)) return new PushUnavailableError(message);
  return new PushRejectedError(message);
}

/** Posts one signed request; resolves with `Response` (no `Error` in it), throws a sorted PushError otherwise. */
export async function callTencent(
  request: TencentRequest,
  credentials: TencentCredentials,
  nowMs: number,
  what: string,
  options: { timeoutMs: number; throttleMs: number },
): Promise<Record<string, unknown>> {
  const url = new URL(request.endpoint);
  const payload = JSON.stringify(request.body);
  const contentType = 'application/json; charset=utf-8';
  const timestampS = Math.floor(nowMs / 1000);
  const headers = {
    'content-type': contentType,
    'x-tc-action': request.action,
    'x-tc-version': request.version,
    'x-tc-region': request.region,
    'x-tc-timestamp': String(timestampS),
    // fetch sends the URL's host (port included when not the default) as Host: that is what is signed.
    authorization: tc3Authorization(credentials, request.service, url.host, contentType, payload, timestampS),
  };
  const { res, text } = await fetchAnswer(url, { method: 'POST', headers, body: payload }, options.timeoutMs, `Tencent Cloud (${what})`);
  if (res.status < 200 || res.status >= 300) throw httpStatusError(res.status, text);
  let response: Record<string, unknown> | undefined;
  try {
    response = (JSON.parse(text) as { Response?: Record<string, unknown> }).Response;
  } catch {
    response = undefined;
  }
  if (!response) throw new PushUnavailableError(`${what}: unreadable answer from Tencent Cloud: ${text.slice(0, 200)}`);
  const error = response.Error as TencentError | undefined;
  if (error) throw tencentError(error.Code, error.Message ?? '', what, options.throttleMs, response.RequestId as string | undefined);
  return response;
}
