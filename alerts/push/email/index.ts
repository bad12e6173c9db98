import { Type } from '@sinclair/typebox';
import nodemailer from 'nodemailer';
import { type Channel, type ChannelPlugin, DELIVERED } from '../channel.ts';
import { PushRejectedError, PushTimeoutError, PushUnavailableError } from '../errors.ts';
import { plainText, subjectLine } from '../format.ts';

export const EmailConfigSchema = Type.Object(
  {
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65_535, default: 587 }),
    secure: Type.Boolean({ default: false, description: 'TLS from the start (port 465); false: STARTTLS when offered' }),
    auth: Type.Optional(Type.Object({ user: Type.String(), pass: Type.String() }, { additionalProperties: false })),
    from: Type.String({ minLength: 3, description: 'e.g. "燃气客服 Gas service <noreply@example.com>"' }),
    ignoreTls: Type.Boolean({ default: false, description: 'Never STARTTLS (local test servers only)' }),
    timeoutMs: Type.Integer({ minimum: 1, default: 20_000 }),
  },
  { additionalProperties: false },
);

/** SMTP codes and nodemailer error codes that no retry will fix. */
const PERMANENT_CODES = new Set(['EAUTH', 'EENVELOPE', 'EMESSAGE']);

function classify(err: unknown): Error {
  const e = err as { code?: string; responseCode?: number; message?: string };
  const message = `SMTP: ${e.message ?? String(err)}`;
  // The SMTP reply decides first: 5xx is final, 4xx is "try again later" whatever stage refused.
  if (typeof e.responseCode === 'number' && e.responseCode >= 500) return new PushRejectedError(message, { cause: err, statusCode: e.responseCode });
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) return new PushUnavailableError(message, { cause: err, statusCode: e.responseCode });
  if (e.code && PERMANENT_CODES.has(e.code)) return new PushRejectedError(message, { cause: err });
  if (e.code === 'ETIMEDOUT') return new PushTimeoutError(message, { cause: err });
  return new PushUnavailableError(message, { cause: err, statusCode: e.responseCode });
}

/** E-mail over SMTP (nodemailer): zh-CN subject with English beside, plain-text body. */
export const EmailPlugin: ChannelPlugin<typeof EmailConfigSchema> = {
  name: 'email',
  description: 'E-mail over SMTP to the person’s address',
  configSchema: EmailConfigSchema,
  serves: (person) => Boolean(person.email),
  create(config, deps): Channel {
    const transport = nodemailer.createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      ignoreTLS: config.ignoreTls,
      auth: config.auth,
      connectionTimeout: config.timeoutMs,
      greetingTimeout: config.timeoutMs,
      socketTimeout: config.timeoutMs,
    });
    return {
      async send(notice, recipient) {
        if (!recipient.email) throw new PushRejectedError(`${recipient.id} has no e-mail address`);
        try {
          await transport.sendMail({
            from: config.from,
            to: { name: recipient.name, address: recipient.email },
            subject: subjectLine(notice),
            text: plainText(notice, recipient),
            headers: { 'X-Gas-Notice-Id': notice.id, 'X-Gas-Ticket-Id': notice.ticketId },
            // Mail clients thread by this id, and a resend of the same notice is recognisable.
            messageId: `<${notice.id}.${recipient.id}@gas-pipeline>`,
          });
        } catch (err) {
          deps.log.debug({ err, noticeId: notice.id }, 'SMTP send failed');
          throw classify(err);
        }
        return DELIVERED;
      },
      async close() {
        transport.close();
      },
    };
  },
};
