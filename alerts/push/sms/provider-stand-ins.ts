/**
 * Test support: one local HTTP server standing in for Alibaba Cloud RPC APIs (Dysmsapi,
 * Dyvmsapi: GET, signature v1 HMAC-SHA1) and Tencent Cloud API 3.0 (SMS, VMS: POST,
 * TC3-HMAC-SHA256). The signature checks are written from the providers' documents, apart from
 * the channels' own signers, and answer as the providers do when they fail: Aliyun
 * 400 SignatureDoesNotMatch / SignatureNonceUsed, Tencent 200 with Response.Error
 * AuthFailure.SignatureFailure. What a correctly signed request gets is the test's `answer…`.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AliyunCall {
  params: Record<string, string>;
  signatureValid: boolean;
}
export interface TencentCall {
  headers: IncomingHttpHeaders;
  body: any;
  signatureValid: boolean;
}
export interface Reply {
  status?: number;
  body: unknown;
}

/** RFC 3986 as Alibaba documents it: encodeURIComponent plus ! ' ( ) * encoded. */
const popEncode = (s: string) =>
  encodeURIComponent(s)
    .replaceAll('!', '%21')
    .replaceAll("'", '%27')
    .replaceAll('(', '%28')
    .replaceAll(')', '%29')
    .replaceAll('*', '%2A');

function verifyAliyun(url: URL, secret: string): AliyunCall {
  const params = Object.fromEntries(url.searchParams.entries());
  const { Signature: given, ...rest } = params;
  const canonical = Object.keys(rest)
    .sort()
    .map((k) => `${popEncode(k)}=${popEncode(rest[k]!)}`)
    .join('&');
  const expected = createHmac('sha1', `${secret}&`).update(`GET&${popEncode('/')}&${popEncode(canonical)}`).digest('base64');
  return { params, signatureValid: given === expected };
}

function verifyTencent(headers: IncomingHttpHeaders, raw: string, secretId: string, secretKey: string): boolean {
  const m = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$/.exec(String(headers.authorization ?? ''));
  if (!m || m[1] !== secretId) return false;
  const [, , date, service, signedHeaders, signature] = m;
  const ts = Number(headers['x-tc-timestamp']);
  if (new Date(ts * 1000).toISOString().slice(0, 10) !== date) return false;
  const canonicalHeaders = signedHeaders!
    .split(';')
    .map((n) => `${n}:${String(headers[n] ?? '').trim().toLowerCase()}\n`)
    .join('');
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');
  const canonicalRequest = `POST\n/\n\n${canonicalHeaders}\n${signedHeaders}\n${hash(raw)}`;
  const toSign = `TC3-HMAC-SHA256\n${ts}\n${date}/${service}/tc3_request\n${hash(canonicalRequest)}`;
  const kDate = createHmac('sha256', `TC3${secretKey}`).update(date!).digest();
  const kService = createHmac('sha256', kDate).update(service!).digest();
  const kSigning = createHmac('sha256', kService).update('tc3_request').digest();
  return createHmac('sha256', kSigning).update(toSign).digest('hex') === signature;
}

function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
}

export class ProviderStandIn {
  base = '';
  aliyunCalls: AliyunCall[] = [];
  tencentCalls: TencentCall[] = [];
  /** The business answer to a correctly signed Aliyun request. */
  answerAliyun: (call: AliyunCall) => Reply = () => ({ body: { Code: 'OK', Message: 'OK', RequestId: 'R-ok' } });
  /** The `Response` (RequestId added) to a correctly signed Tencent request. */
  answerTencent: (call: TencentCall) => Record<string, unknown> = () => ({});
  readonly #nonces = new Set<string>();
  readonly #server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET') return this.#aliyun(new URL(req.url!, this.base), res);
      return this.#tencent(req.headers, Buffer.concat(chunks).toString('utf8'), res);
    });
  });

  constructor(readonly keys: { aliyunSecret: string; tencentSecretId: string; tencentSecretKey: string }) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #aliyun(url: URL, res: ServerResponse): void {
    const call = verifyAliyun(url, this.keys.aliyunSecret);
    this.aliyunCalls.push(call);
    const p = call.params;
    if (!call.signatureValid) return send(res, { status: 400, body: { Code: 'SignatureDoesNotMatch', Message: 'Specified signature is not matched with our calculation.', RequestId: 'R-sig' } });
    if (!p.SignatureNonce || this.#nonces.has(p.SignatureNonce)) return send(res, { status: 400, body: { Code: 'SignatureNonceUsed', Message: 'Specified signature nonce was used already.', RequestId: 'R-nonce' } });
    this.#nonces.add(p.SignatureNonce);
    if (p.SignatureMethod !== 'HMAC-SHA1' || p.SignatureVersion !== '1.0' || p.Format !== 'JSON' || p.Version !== '2017-05-25' || !p.AccessKeyId) {
      return send(res, { status: 400, body: { Code: 'MissingParameter', Message: 'common parameters', RequestId: 'R-p' } });
    }
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(p.Timestamp ?? '')) return send(res, { status: 400, body: { Code: 'InvalidTimeStamp.Format', Message: 'Timestamp', RequestId: 'R-t' } });
    send(res, this.answerAliyun(call));
  }

  #tencent(headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    const call: TencentCall = { headers, body: JSON.parse(raw), signatureValid: verifyTencent(headers, raw, this.keys.tencentSecretId, this.keys.tencentSecretKey) };
    this.tencentCalls.push(call);
    if (!call.signatureValid) return send(res, { body: { Response: { Error: { Code: 'AuthFailure.SignatureFailure', Message: 'The provided credentials could not be validated.' }, RequestId: 'q-sig' } } });
    send(res, { body: { Response: { ...this.answerTencent(call), RequestId: 'q-1' } } });
  }
}
