import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import { PipelineError } from '../../../app/errors.ts';

/**
 * WeCom's callback crypto (WXBizMsgCrypt): the message signature and the AES-256-CBC envelope.
 * Only the receiving side: the app never sends an encrypted passive reply, it updates the card
 * through the API instead.
 */

/** A callback that does not verify: bad signature, wrong key, wrong corp, or mangled envelope. */
export class WecomCallbackError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_PUSH_CALLBACK_INVALID', message, options);
  }
}

/** msg_signature = hex(sha1(the four strings sorted and joined)). */
export function wecomSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return createHash('sha1').update([token, timestamp, nonce, encrypt].sort().join('')).digest('hex');
}

export function verifyWecomSignature(token: string, q: { msg_signature: string; timestamp: string; nonce: string }, encrypt: string): void {
  const expected = Buffer.from(wecomSignature(token, q.timestamp, q.nonce, encrypt), 'utf8');
  const given = Buffer.from(q.msg_signature.toLowerCase(), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new WecomCallbackError('WeCom callback signature does not verify');
}

/** The AES key: base64 of the 43-character EncodingAESKey with '=' appended, 32 bytes. */
export function wecomAesKey(encodingAesKey: string): Buffer {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (key.length !== 32) throw new WecomCallbackError('EncodingAESKey must be 43 characters of base64 (32 bytes)');
  return key;
}

/**
 * Decrypts an `Encrypt` / `echostr` value: AES-256-CBC, IV = the key's first 16 bytes, PKCS#7
 * padded to 32-byte blocks; plaintext = random(16) + msg_len(4, big-endian) + msg + receiveid.
 * The receiveid must be our corp id, or the message was meant for someone else.
 */
export function wecomDecrypt(key: Buffer, encrypted: string, corpId: string): string {
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(Buffer.from(encrypted, 'base64')), decipher.final()]);
  } catch (err) {
    throw new WecomCallbackError('WeCom callback does not decrypt', { cause: err });
  }
  const pad = plain.at(-1) ?? 0;
  if (pad < 1 || pad > 32 || plain.length < 20 + pad) throw new WecomCallbackError('WeCom callback has bad padding');
  const content = plain.subarray(16, plain.length - pad);
  const msgLen = content.readUInt32BE(0);
  if (msgLen > content.length - 4) throw new WecomCallbackError('WeCom callback message length exceeds the envelope');
  const receiveId = content.subarray(4 + msgLen).toString('utf8');
  if (receiveId !== corpId) throw new WecomCallbackError(`WeCom callback is for ${receiveId}, not this corp`);
  return content.subarray(4, 4 + msgLen).toString('utf8');
}
