import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import type { CustomerChannelInstance } from '../channels.ts';
import { createChannels } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushTimeoutError, PushUnavailableError } from '../errors.ts';
import { notice } from '../testing.ts';

const SECRET = 'crm-shared-secret-0123456789';

/**
 * A stand-in for the customer system on port 0: it verifies the signature as a receiver would
 * (HMAC over the raw bytes, constant-time compare) and answers 401 when it does not match.
 */
let server: Server;
let base: string;
let received: Array<{ headers: IncomingHttpHeaders; raw: string; body: any; signatureValid: boolean }>;
let reply: (res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const expected = createHmac('sha256', SECRET).update(`${req.headers['x-gas-timestamp']}.${raw}`).digest();
      const given = Buffer.from(String(req.headers['x-gas-signature'] ?? ''), 'hex');
      const signatureValid = given.length === expected.length && timingSafeEqual(given, expected);
      received.push({ headers: req.headers, raw, body: JSON.parse(raw), signatureValid });
      if (!signatureValid) res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"bad signature"}');
      else reply(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  received = [];
  reply = (res) => res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
});

const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
const customer = { id: 'customer:王芳' };
const lowBalance = notice({
  id: 'customer:A-17',
  kind: 'customer.notice',
  ticketId: 'customer:A-17',
  recipients: [customer.id],
  priority: 'low',
  title: { 'zh-CN': '余额不足 HM-E2', en: 'Low balance HM-E2' },
  body: { 'zh-CN': '余额不足，请及时购气。', en: 'The prepaid balance is low: please buy gas soon.' },
  data: { deviceId: 'HM-E2', customer: '王芳', condition: 'LOW_BALANCE' },
});

function crm(config: Record<string, unknown> = {}): CustomerChannelInstance {
  const channels = createChannels([{ name: 'crm', type: 'customer-webhook', config: { url: `${base}/notices`, secret: SECRET, ...config } }], { log: pino({ level: 'silent' }), clock });
  const instance = channels.get('crm')!;
  if (instance.audience !== 'customer') throw new Error('customer-webhook must be a customer channel');
  return instance;
}

describe('customer-webhook channel against a stand-in customer system', () => {
  it('posts the notice signed over timestamp and body, with the notice id as idempotency key', async () => {
    await expect(crm().channel.send(lowBalance, customer)).resolves.toEqual({ delivered: true });
    const [r] = received;
    expect(r!.signatureValid).toBe(true);
    expect(r!.headers['x-gas-timestamp']).toBe(String(clock.now()));
    expect(r!.headers['idempotency-key']).toBe('customer:A-17');
    expect(r!.headers['content-type']).toMatch(/application\/json/);
    expect(r!.body).toEqual({
      id: 'customer:A-17',
      kind: 'customer.notice',
      customer: { id: '王芳', account: '王芳' },
      deviceId: 'HM-E2',
      condition: 'LOW_BALANCE',
      title: { 'zh-CN': '余额不足 HM-E2', en: 'Low balance HM-E2' },
      body: { 'zh-CN': '余额不足，请及时购气。', en: 'The prepaid balance is low: please buy gas soon.' },
      createdAt: '2026-11-22T08:00:00.000Z',
    });
  });

  it('is refused by the customer system when signed with another secret: a final failure with the reason', async () => {
    const err = await crm({ secret: 'not-the-shared-secret-000' }).channel.send(lowBalance, customer).catch((e) => e);
    expect(received[0]!.signatureValid).toBe(false);
    expect(err).toBeInstanceOf(PushRejectedError);
    expect(err).toMatchObject({ retryable: false, statusCode: 401, message: 'HTTP 401: {"error":"bad signature"}' });
  });

  it('names no account when the registry names no customer for the meter', async () => {
    await crm().channel.send({ ...lowBalance, recipients: ['customer:HM-9'], data: { deviceId: 'HM-9', customer: null, condition: 'NO_BALANCE' } }, { id: 'customer:HM-9' });
    expect(received[0]!.body).toMatchObject({ customer: { id: 'HM-9', account: null }, deviceId: 'HM-9', condition: 'NO_BALANCE' });
  });

  it('sends extra headers but keeps its own idempotency key and signature', async () => {
    await crm({ headers: { 'x-api-key': 'k1', 'Idempotency-Key': 'forged', 'X-Gas-Signature': 'forged' } }).channel.send(lowBalance, customer);
    expect(received[0]!.headers['x-api-key']).toBe('k1');
    expect(received[0]!.headers['idempotency-key']).toBe('customer:A-17');
    expect(received[0]!.signatureValid).toBe(true);
  });

  it('sorts failures for the dispatcher: 5xx retry, 429 waits Retry-After, other 4xx final', async () => {
    const ch = crm();
    reply = (res) => res.writeHead(503).end('maintenance');
    await expect(ch.channel.send(lowBalance, customer)).rejects.toMatchObject({ code: 'GAS_PUSH_UNAVAILABLE', retryable: true, statusCode: 503 });
    reply = (res) => res.writeHead(429, { 'retry-after': '30' }).end();
    const throttled = await ch.channel.send(lowBalance, customer).catch((e) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect(throttled.retryAfterMs).toBe(30_000);
    reply = (res) => res.writeHead(422, { 'content-type': 'application/json' }).end('{"error":"unknown account 王芳"}');
    await expect(ch.channel.send(lowBalance, customer)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED', retryable: false, message: expect.stringContaining('unknown account') });
  });

  it('times out through AbortSignal and reports a refused connection as retryable', async () => {
    reply = () => {}; // never answers
    await expect(crm({ timeoutMs: 100 }).channel.send(lowBalance, customer)).rejects.toBeInstanceOf(PushTimeoutError);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(crm({ url: `http://127.0.0.1:${port}/` }).channel.send(lowBalance, customer)).rejects.toBeInstanceOf(PushUnavailableError);
  });

  it('never sends a staff notice', async () => {
    await expect(crm().channel.send(notice({ recipients: [customer.id] }), customer)).rejects.toBeInstanceOf(PushRejectedError);
    expect(received).toEqual([]);
  });

  it('refuses a config without a secret, or with a short one, at start', () => {
    expect(() => createChannels([{ name: 'crm', type: 'customer-webhook', config: { url: `${base}/` } }], { log: pino({ level: 'silent' }), clock })).toThrow(/push.channels.crm.config/);
    expect(() => crm({ secret: 'short' })).toThrow(/push.channels.crm.config.secret/);
  });
});
