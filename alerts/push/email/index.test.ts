import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../app/clock.ts';
import { createChannels } from '../channels.ts';
import { PushRejectedError, PushUnavailableError } from '../errors.ts';
import { notice, technician } from '../testing.ts';

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

let server: SMTPServer;
let port: number;
let mails: Mail[];
/** SMTP reply code to refuse the next DATA with, if any. */
let refuseWith: number | undefined;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (refuseWith) {
          const err = Object.assign(new Error('Mailbox unavailable'), { responseCode: refuseWith });
          return callback(err);
        }
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  mails = [];
  refuseWith = undefined;
});

/** Minimal MIME reading for the test: unfold headers, decode RFC 2047 words and the body's transfer encoding. */
function parseMail(raw: string): { subject: string; text: string; headers: Map<string, string> } {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = new Map<string, string>();
  for (const line of head!.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
  }
  const words = (s: string) =>
    s.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_, enc: string, data: string) =>
      enc.toLowerCase() === 'b' ? Buffer.from(data, 'base64').toString('utf8') : qp(data.replaceAll('_', ' ')),
    );
  const qp = (s: string) => Buffer.from(s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
  const body = rest.join('\n\n');
  const cte = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const text = cte === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : cte === 'quoted-printable' ? qp(body) : body;
  return { subject: words(headers.get('subject') ?? '').trim(), text, headers };
}

const clock = new ManualClock();
function email(config: Record<string, unknown> = {}) {
  return createChannels(
    [{ name: 'mail', type: 'email', config: { host: '127.0.0.1', port, ignoreTls: true, from: '燃气客服 Gas service <noreply@example.com>', timeoutMs: 5000, ...config } }],
    { log: pino({ level: 'silent' }), clock },
  ).get('mail')!;
}

describe('email channel against a real smtp-server', () => {
  it('sends a zh-CN subject with English beside and a bilingual text body', async () => {
    const ch = email();
    await expect(ch.channel.send(notice(), technician)).resolves.toEqual({ delivered: true });
    await ch.channel.close();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['chen@example.com']);
    expect(mails[0]!.from).toBe('noreply@example.com');
    const m = parseMail(mails[0]!.raw);
    // One priority word (titles carried two: 【一般 Normal】【普通】).
    expect(m.subject).toBe('【紧急】二级燃气报警：城东区幸福路12号 / [EMERGENCY] Gas alarm, level 2: 12 Xingfu Rd, East');
    expect(m.text).toContain('请立即到场，关闭总阀并通风。');
    expect(m.text).toContain('Go on site now, shut the main valve and ventilate.');
    expect(m.text).toContain('工单 Ticket: T000001');
    expect(m.headers.get('x-gas-notice-id')).toBe('N-1');
  });

  it('serves only people with an address', () => {
    const ch = email();
    expect(ch.serves(technician)).toBe(true);
    expect(ch.serves({ ...technician, email: undefined })).toBe(false);
  });

  it('treats an SMTP 5xx as permanent and a 4xx as retryable', async () => {
    refuseWith = 550;
    await expect(email().channel.send(notice(), technician)).rejects.toBeInstanceOf(PushRejectedError);
    refuseWith = 451;
    await expect(email().channel.send(notice(), technician)).rejects.toBeInstanceOf(PushUnavailableError);
  });

  it('treats an unreachable server as retryable', async () => {
    await expect(email({ port: 1 }).channel.send(notice(), technician)).rejects.toMatchObject({ retryable: true });
  });
});
