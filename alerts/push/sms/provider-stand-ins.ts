/**
 * Test support and `npm run stand-ins`: one local HTTP server standing in for Alibaba Cloud RPC
 * APIs (Dysmsapi, Dyvmsapi: GET, signature v1 HMAC-SHA1) and Tencent Cloud API 3.0 (SMS, VMS:
 * POST, TC3-HMAC-SHA256). The signature checks are written from the providers' documents, apart
 * from the channels' own signers, and answer as the providers do when they fail: Aliyun
 * 400 SignatureDoesNotMatch / SignatureNonceUsed, Tencent 200 with Response.Error
 * AuthFailure.SignatureFailure. What a correctly signed request gets is `answer…`: by default the
 * documented success of SendSms, SingleCallByTts (Aliyun) and SendSms, SendTtsVoice (Tencent)
 * after the checks of their own parameters; a test replaces it to play failures.
 *
 * It also pushes the delivery reports the providers document, about the messages and calls it
 * accepted, to a report URL: Aliyun SmsReport and VoiceReport / VoiceCallReport (JSON arrays,
 * acknowledged `{"code":0,…}`), Tencent SMS status (JSON array, `sid` = SerialNo) and VMS
 * `voiceprompt_callback` / `voice_failure_callback` (acknowledged `{"result":0,…}`).
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PhoneListener } from '../phone-stand-ins.ts';

export interface AliyunCall {
  params: Record<string, string>;
  signatureValid: boolean;
  /** What it was answered (BizId for SendSms, CallId for SingleCallByTts). */
  answer?: any;
}
export interface TencentCall {
  headers: IncomingHttpHeaders;
  body: any;
  signatureValid: boolean;
  /** The `Response` it was answered (SendStatusSet[].SerialNo, SendStatus.CallId). */
  response?: any;
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

/** `2017-01-01 00:00:00`, Beijing time, as the providers write report times. */
const beijing = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');

/** Aliyun SmsReport item for a SendSms this stand-in accepted (help.aliyun.com/document_detail/101867.html). */
export function aliyunSmsReport(call: AliyunCall, outcome: { success: boolean; atMs: number; err_code?: string; err_msg?: string }) {
  return {
    phone_number: call.params.PhoneNumbers,
    send_time: beijing(outcome.atMs - 2000),
    report_time: beijing(outcome.atMs),
    success: outcome.success,
    err_code: outcome.err_code ?? (outcome.success ? 'DELIVERED' : 'MK:0001'),
    err_msg: outcome.err_msg ?? (outcome.success ? '用户接收成功' : '用户接收失败'),
    sms_size: '1',
    biz_id: call.answer?.BizId,
    out_id: call.params.OutId ?? '',
  };
}

/** Tencent SMS status callback item for a SendSms it accepted (cloud.tencent.com/document/product/382/5807). */
export function tencentSmsReport(call: TencentCall, outcome: { status: 'SUCCESS' | 'FAIL'; atMs: number; errmsg?: string; description?: string }) {
  const number = String(call.body.PhoneNumberSet[0]);
  return {
    user_receive_time: beijing(outcome.atMs),
    nationcode: '86',
    mobile: number.replace(/^\+86/, ''),
    report_status: outcome.status,
    errmsg: outcome.errmsg ?? (outcome.status === 'SUCCESS' ? 'DELIVRD' : 'MI:0013'),
    description: outcome.description ?? (outcome.status === 'SUCCESS' ? '用户短信送达成功' : '用户短信接收失败'),
    sid: call.response.SendStatusSet[0].SerialNo,
  };
}

/**
 * Aliyun VoiceReport item for a SingleCallByTts it accepted (help.aliyun.com/zh/vms/developer-reference/voicereport-4):
 * the ring and answer times are present only when the phone rang / was answered.
 */
export function aliyunVoiceReport(call: AliyunCall, outcome: { status_code: string; status_msg?: string; ringMs?: number; answerMs?: number; endMs: number }) {
  return {
    call_id: call.answer?.CallId,
    status_code: outcome.status_code,
    status_msg: outcome.status_msg ?? '执行完成',
    callee: call.params.CalledNumber,
    caller: call.params.CalledShowNumber ?? '',
    originate_time: beijing(outcome.endMs - 60_000),
    ring_time: outcome.ringMs === undefined ? '' : beijing(outcome.ringMs),
    start_time: outcome.answerMs === undefined ? '' : beijing(outcome.answerMs),
    end_time: beijing(outcome.endMs),
    duration: outcome.answerMs === undefined ? '0' : String(Math.round((outcome.endMs - outcome.answerMs) / 1000)),
    voice_type: 'voice',
    out_id: call.params.OutId ?? '',
    hangup_direction: '用户',
    toll_type: 'UNKNOWN',
  };
}

/** Aliyun VoiceCallReport item (help.aliyun.com/document_detail/214640.htm): one state of a call as it happens. */
export function aliyunVoiceCallReport(call: AliyunCall, statusCode: string, atMs: number) {
  return { status_code: statusCode, status_time: beijing(atMs), out_id: call.params.OutId ?? '', call_id: call.answer?.CallId };
}

/** Tencent VMS voiceprompt_callback for a SendTtsVoice it accepted (cloud.tencent.com/document/product/1128/51534). */
export function tencentVoiceCallback(call: TencentCall, outcome: { result: '0' | '1' | '2'; startMs: number; acceptMs?: number; endMs: number }) {
  const s = (ms: number) => String(Math.floor(ms / 1000));
  return {
    voiceprompt_callback: {
      result: outcome.result,
      accept_time: outcome.acceptMs === undefined ? '0' : s(outcome.acceptMs),
      call_from: '',
      callid: call.response.SendStatus.CallId,
      end_calltime: s(outcome.endMs),
      fee: outcome.acceptMs === undefined ? '0' : '1',
      mobile: String(call.body.CalledNumber).replace(/^\+86/, ''),
      nationcode: '86',
      start_calltime: s(outcome.startMs),
    },
  };
}

/** Tencent VMS voice_failure_callback (cloud.tencent.com/document/product/1128/51536). */
export function tencentVoiceFailure(call: TencentCall, failureCode: number, reason: string) {
  return {
    voice_failure_callback: {
      call_from: '',
      callid: call.response.SendStatus.CallId,
      failure_code: failureCode,
      failure_reason: reason,
      mobile: String(call.body.CalledNumber).replace(/^\+86/, ''),
      nationcode: '86',
    },
  };
}

/** Pushes a report as the providers do: a JSON POST to the configured URL. Resolves with the answer. */
export async function pushReport(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json;charset=utf-8' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function send(res: ServerResponse, r: Reply): void {
  res.writeHead(r.status ?? 200, { 'content-type': 'application/json' }).end(JSON.stringify(r.body));
}

const aliyunFault = (status: number, Code: string, Message: string): Reply => ({ status, body: { Code, Message, RequestId: randomUUID() } });

/** Dysmsapi SendSms and Dyvmsapi SingleCallByTts as documented: their required parameters, then OK. */
export function documentedAliyunAnswer({ params: p }: AliyunCall): Reply {
  if (p.Action === 'SendSms') {
    if (!p.PhoneNumbers || !p.SignName || !p.TemplateCode) return aliyunFault(400, 'MissingParameter', 'PhoneNumbers, SignName and TemplateCode are mandatory for SendSms');
    // Mainland numbers bare, others with their country code, no +; up to 1000, comma-separated.
    if (!p.PhoneNumbers.split(',').every((n) => /^[0-9]{5,15}$/.test(n))) return { body: { Code: 'isv.MOBILE_NUMBER_ILLEGAL', Message: '非法手机号', RequestId: randomUUID() } };
    if (p.TemplateParam !== undefined && !isJson(p.TemplateParam)) return { body: { Code: 'isv.INVALID_JSON_PARAM', Message: 'JSON参数不合法，只接受字符串值', RequestId: randomUUID() } };
    return { body: { Code: 'OK', Message: 'OK', RequestId: randomUUID(), BizId: `${Date.now()}^0` } };
  }
  if (p.Action === 'SingleCallByTts') {
    if (!p.CalledNumber || !p.TtsCode) return aliyunFault(400, 'MissingParameter', 'CalledNumber and TtsCode are mandatory for SingleCallByTts');
    if (p.TtsParam !== undefined && !isJson(p.TtsParam)) return { body: { Code: 'isv.INVALID_JSON_PARAM', Message: 'TtsParam is no JSON', RequestId: randomUUID() } };
    return { body: { Code: 'OK', Message: 'OK', RequestId: randomUUID(), CallId: `${Date.now()}^${Math.floor(Math.random() * 1e12)}` } };
  }
  return aliyunFault(404, 'InvalidAction.NotFound', `Specified api is not found, please check your url and method: ${p.Action}`);
}

/** Tencent SMS SendSms (2021-01-11) and VMS SendTtsVoice (2020-09-02) as documented: their required fields, then success. */
export function documentedTencentAnswer({ headers, body }: TencentCall): Record<string, unknown> {
  const action = headers['x-tc-action'];
  const version = headers['x-tc-version'];
  if (action === 'SendSms' && version === '2021-01-11') {
    const numbers = body?.PhoneNumberSet;
    if (!Array.isArray(numbers) || numbers.length === 0 || !body.SmsSdkAppId || !body.TemplateId) return { Error: { Code: 'MissingParameter', Message: 'PhoneNumberSet, SmsSdkAppId and TemplateId are required' } };
    return {
      SendStatusSet: numbers.map((n: string, i: number) => ({
        SerialNo: `5000:${Date.now()}${i}`,
        PhoneNumber: n,
        Fee: 1,
        SessionContext: body.SessionContext ?? '',
        ...(/^\+[0-9]{6,15}$/.test(n) ? { Code: 'Ok', Message: 'send success' } : { Code: 'InvalidParameterValue.IncorrectPhoneNumber', Message: 'incorrect number format' }),
        IsoCode: n.startsWith('+86') ? 'CN' : '',
      })),
    };
  }
  if (action === 'SendTtsVoice' && version === '2020-09-02') {
    if (!body?.CalledNumber || !body.VoiceSdkAppid || !body.TemplateId) return { Error: { Code: 'MissingParameter', Message: 'CalledNumber, VoiceSdkAppid and TemplateId are required' } };
    return { SendStatus: { CallId: randomUUID(), SessionContext: body.SessionContext ?? '' } };
  }
  return { Error: { Code: 'InvalidAction', Message: `no action ${String(action)} in version ${String(version)}` } };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const templateText = (values: unknown) => (Array.isArray(values) ? values.join(' / ') : String(values ?? ''));

export class ProviderStandIn {
  base = '';
  aliyunCalls: AliyunCall[] = [];
  tencentCalls: TencentCall[] = [];
  /** The business answer to a correctly signed Aliyun request. */
  answerAliyun: (call: AliyunCall) => Reply = documentedAliyunAnswer;
  /** The `Response` (RequestId added) to a correctly signed Tencent request. */
  answerTencent: (call: TencentCall) => Record<string, unknown> = documentedTencentAnswer;
  /** Told of every SMS and call that the answer says reached a phone. */
  onPhone?: PhoneListener;
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

  async start(options: { port?: number; host?: string } = {}): Promise<this> {
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => this.#server.once('error', reject).listen(options.port ?? 0, host, resolve));
    this.base = `http://${host}:${(this.#server.address() as AddressInfo).port}/`;
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
    const answer = this.answerAliyun(call);
    call.answer = answer.body;
    send(res, answer);
    if ((answer.status ?? 200) === 200 && (answer.body as { Code?: string }).Code === 'OK') {
      if (p.Action === 'SendSms') {
        for (const to of p.PhoneNumbers!.split(',')) this.onPhone?.({ provider: 'aliyun', kind: 'sms', to, text: `【${p.SignName}】${p.TemplateCode} ${p.TemplateParam ?? ''}` });
      } else if (p.Action === 'SingleCallByTts') {
        this.onPhone?.({ provider: 'aliyun', kind: 'call', to: p.CalledNumber!, text: `${p.TtsCode} ${p.TtsParam ?? ''}` });
      }
    }
  }

  #tencent(headers: IncomingHttpHeaders, raw: string, res: ServerResponse): void {
    const call: TencentCall = { headers, body: JSON.parse(raw), signatureValid: verifyTencent(headers, raw, this.keys.tencentSecretId, this.keys.tencentSecretKey) };
    this.tencentCalls.push(call);
    if (!call.signatureValid) return send(res, { body: { Response: { Error: { Code: 'AuthFailure.SignatureFailure', Message: 'The provided credentials could not be validated.' }, RequestId: 'q-sig' } } });
    const response = this.answerTencent(call);
    call.response = { ...response, RequestId: 'q-1' };
    send(res, { body: { Response: call.response } });
    if (response.Error) return;
    const b = call.body;
    for (const status of (response.SendStatusSet as Array<{ Code?: string; PhoneNumber?: string }> | undefined) ?? []) {
      if (status.Code === 'Ok') this.onPhone?.({ provider: 'tencent', kind: 'sms', to: status.PhoneNumber ?? '', text: `【${b.SignName}】${b.TemplateId} ${templateText(b.TemplateParamSet)}` });
    }
    if (response.SendStatus) this.onPhone?.({ provider: 'tencent', kind: 'call', to: b.CalledNumber, text: `${b.TemplateId} ${templateText(b.TemplateParamSet)}` });
  }
}
