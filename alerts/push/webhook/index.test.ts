import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { createChannels } from '../channels.ts';
import { PushRejectedError, PushThrottledError, PushTimeoutError, PushUnavailableError } from '../errors.ts';
import { notice, technician } from '../testing.ts';

interface Received {
  url: URL;
  headers: IncomingMessage['headers'];
  body: any;
}

/** A real HTTP receiver on port 0: records each POST and answers with `reply`. */
let server: Server;
let base: string;
let received: Received[];
let reply: (req: Received, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { url: new URL(req.url!, base), headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
      received.push(r);
      reply(r, res);
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
  reply = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"errcode":0,"errmsg":"ok"}');
});

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_: Received, res: ServerResponse) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

const clock = new ManualClock(Date.parse('2026-11-22T08:00:00Z'));
function webhook(config: Record<string, unknown>) {
  const channels = createChannels([{ name: 'robot', type: 'webhook', config: { url: `${base}/hook?key=abc`, ...config } }], { log: pino({ level: 'silent' }), clock });
  return channels.get('robot')!;
}
const bothLanguages = (text: string) => {
  expect(text).toContain('二级燃气报警');
  expect(text).toContain('Gas alarm, level 2');
  expect(text).toContain('紧急');
  expect(text).toContain('EMERGENCY');
};

describe('webhook channel against a real HTTP receiver', () => {
  it('posts the generic JSON body, signed when a secret is set', async () => {
    reply = (_r, res) => res.writeHead(204).end();
    await webhook({ format: 'generic', secret: 's3cret' }).channel.send(notice(), technician);
    const [r] = received;
    expect(r!.headers['content-type']).toMatch(/application\/json/);
    expect(r!.body).toMatchObject({ id: 'N-1', kind: 'ticket.dispatched', ticketId: 'T000001', priority: 'emergency', data: { deviceId: 'M-1' }, recipient: { id: 'tech-chen' } });
    expect(r!.body.title['zh-CN']).toContain('二级燃气报警');
    const expected = createHmac('sha256', 's3cret').update(`${r!.headers['x-gas-timestamp']}.${JSON.stringify(r!.body)}`).digest('hex');
    expect(r!.headers['x-gas-signature']).toBe(expected);
  });

  it('posts WeCom markdown and fails on a non-zero errcode', async () => {
    const ch = webhook({ format: 'wecom' });
    await expect(ch.channel.send(notice(), technician)).resolves.toEqual({ delivered: true });
    expect(received[0]!.body.msgtype).toBe('markdown');
    expect(Object.keys(received[0]!.body)).toEqual(['msgtype', 'markdown']);
    bothLanguages(received[0]!.body.markdown.content);
    expect(received[0]!.url.searchParams.get('key')).toBe('abc');

    reply = json(200, { errcode: 93000, errmsg: 'invalid webhook url' });
    const err = await ch.channel.send(notice(), technician).catch((e) => e);
    expect(err).toBeInstanceOf(PushRejectedError);
    expect(err).toMatchObject({ code: 'GAS_PUSH_REJECTED', retryable: false, message: expect.stringMatching(/93000/) });

    reply = json(200, { errcode: 45009, errmsg: 'api freq out of limit' });
    await expect(ch.channel.send(notice(), technician)).rejects.toMatchObject({ code: 'GAS_PUSH_THROTTLED', retryAfterMs: 60_000 });
  });

  it('posts DingTalk markdown with @mobile and a valid timestamp/sign query', async () => {
    await webhook({ format: 'dingtalk', secret: 'SECdemo' }).channel.send(notice(), technician);
    const r = received[0]!;
    expect(r.body.msgtype).toBe('markdown');
    expect(r.body.markdown.title).toContain('二级燃气报警');
    bothLanguages(r.body.markdown.text);
    expect(r.body.markdown.text).toContain('@13900000100');
    expect(r.body.at).toEqual({ atMobiles: ['13900000100'], isAtAll: false });
    // Verified as DingTalk does: HMAC-SHA256 keyed by the secret over "timestamp\nsecret", base64.
    const timestamp = r.url.searchParams.get('timestamp')!;
    expect(Math.abs(Number(timestamp) - clock.now())).toBeLessThan(3_600_000);
    expect(r.url.searchParams.get('sign')).toBe(createHmac('sha256', 'SECdemo').update(`${timestamp}\nSECdemo`).digest('base64'));
    expect(r.url.searchParams.get('key')).toBe('abc');

    reply = json(200, { errcode: 310000, errmsg: 'sign not match' });
    await expect(webhook({ format: 'dingtalk', secret: 'wrong' }).channel.send(notice(), technician)).rejects.toBeInstanceOf(PushRejectedError);
  });

  it('posts a Feishu interactive card with a valid timestamp/sign body, or plain text', async () => {
    reply = json(200, { code: 0, msg: 'success', data: {} });
    await webhook({ format: 'feishu', secret: 'fs-secret' }).channel.send(notice(), technician);
    const r = received[0]!;
    expect(r.body.msg_type).toBe('interactive');
    expect(r.body.card.header).toMatchObject({ template: 'red', title: { tag: 'plain_text' } });
    bothLanguages(r.body.card.header.title.content + r.body.card.elements[0].text.content);
    expect(r.body.card.elements[1].actions[0].url).toBe('https://ops.example.com/tickets/T000001');
    // Verified as Feishu does: HMAC-SHA256 keyed by "timestamp\nsecret" over nothing, base64; seconds.
    expect(Number(r.body.timestamp)).toBe(Math.floor(clock.now() / 1000));
    expect(r.body.sign).toBe(createHmac('sha256', `${r.body.timestamp}\nfs-secret`).digest('base64'));

    await webhook({ format: 'feishu', feishuMessage: 'text' }).channel.send(notice(), technician);
    expect(received[1]!.body).not.toHaveProperty('sign');
    expect(received[1]!.body.msg_type).toBe('text');
    bothLanguages(received[1]!.body.content.text);

    reply = json(200, { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' });
    await expect(webhook({ format: 'feishu', secret: 'x' }).channel.send(notice(), technician)).rejects.toMatchObject({ code: 'GAS_PUSH_REJECTED' });
  });

  it('does not read errcode on a generic receiver', async () => {
    reply = json(200, { errcode: 1 });
    await expect(webhook({ format: 'generic' }).channel.send(notice(), technician)).resolves.toEqual({ delivered: true });
  });

  it('sorts HTTP failures: 5xx retry, 429 with Retry-After, other 4xx permanent', async () => {
    const ch = webhook({ format: 'generic' });
    reply = json(503, { error: 'down' });
    await expect(ch.channel.send(notice(), technician)).rejects.toMatchObject({ retryable: true, statusCode: 503, code: 'GAS_PUSH_UNAVAILABLE' });
    reply = json(429, {}, { 'retry-after': '7' });
    const throttled = await ch.channel.send(notice(), technician).catch((e) => e);
    expect(throttled).toBeInstanceOf(PushThrottledError);
    expect(throttled.retryAfterMs).toBe(7000);
    reply = json(404, {});
    await expect(ch.channel.send(notice(), technician)).rejects.toMatchObject({ retryable: false, statusCode: 404 });
  });

  it('times out through AbortSignal and reports a refused connection as retryable', async () => {
    reply = () => {}; // never answers
    await expect(webhook({ timeoutMs: 100 }).channel.send(notice(), technician)).rejects.toBeInstanceOf(PushTimeoutError);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = createChannels([{ name: 'x', type: 'webhook', config: { url: `http://127.0.0.1:${port}/` } }], { log: pino({ level: 'silent' }), clock });
    await expect(refused.get('x')!.channel.send(notice(), technician)).rejects.toBeInstanceOf(PushUnavailableError);
  });

  it('serves only the people who list the robot, and refuses a bad config at start', () => {
    const ch = webhook({});
    expect(ch.serves(technician)).toBe(true);
    expect(ch.serves({ ...technician, webhooks: [] })).toBe(false);
    expect(() => webhook({ format: 'slack' })).toThrow(/push.channels.robot.config.format/);
  });
});
