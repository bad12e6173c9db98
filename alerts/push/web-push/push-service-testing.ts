/**
 * A browser's side of Web Push for tests: the subscription's keys, and what a push service and
 * the browser check and undo (RFC 8292 VAPID, RFC 8291 aes128gcm), written from the RFCs with
 * node:crypto rather than with the library the channel sends with.
 */
import { createDecipheriv, createECDH, createPublicKey, type ECDH, hkdfSync, randomBytes, verify } from 'node:crypto';

export const b64u = (b: Buffer) => b.toString('base64url');

/** A browser's side of a subscription: its P-256 key pair and auth secret. */
export interface Browser {
  id: string;
  ecdh: ECDH;
  auth: Buffer;
}

export function newBrowser(id: string): Browser {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { id, ecdh, auth: randomBytes(16) };
}

/** RFC 8291 §3.4 and RFC 8188: decrypts one aes128gcm record as the browser would. */
export function decrypt(browser: Browser, body: Buffer): string {
  const salt = body.subarray(0, 16);
  const idLen = body[20]!;
  const asPublic = body.subarray(21, 21 + idLen);
  const record = body.subarray(21 + idLen);
  const uaPublic = browser.ecdh.getPublicKey();
  const secret = browser.ecdh.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', secret, browser.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  // The last record ends with the 0x02 delimiter, then zero padding.
  let end = padded.length - 1;
  while (padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('no 0x02 delimiter: not the last record of an aes128gcm body');
  return padded.subarray(0, end).toString('utf8');
}

/** RFC 8292: `vapid t=<ES256 JWT>, k=<public key>`; the JWT's aud must be the push service's origin. */
export function checkVapid(header: string | undefined, origin: string): { sub: string; k: string } {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? '');
  if (!m) throw new Error(`bad Authorization: ${header}`);
  const [head, claims, sig] = m[1]!.split('.');
  const k = Buffer.from(m[2]!, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(k.subarray(1, 33)), y: b64u(k.subarray(33, 65)) }, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${head}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig!, 'base64url'));
  if (!ok) throw new Error('VAPID signature does not verify');
  const h = JSON.parse(Buffer.from(head!, 'base64url').toString());
  const c = JSON.parse(Buffer.from(claims!, 'base64url').toString());
  if (h.alg !== 'ES256') throw new Error(`alg ${h.alg}`);
  if (c.aud !== origin) throw new Error(`aud ${c.aud} is not ${origin}`);
  const nowS = Date.now() / 1000;
  if (!(c.exp > nowS && c.exp <= nowS + 86_400)) throw new Error(`exp ${c.exp} not within 24 h`);
  return { sub: c.sub, k: m[2]! };
}

/** The subscription as the browser's PushSubscription.toJSON() gives it. */
export function subscriptionOf(browser: Browser, endpoint: string) {
  return { endpoint, keys: { p256dh: b64u(browser.ecdh.getPublicKey()), auth: b64u(browser.auth) } };
}
