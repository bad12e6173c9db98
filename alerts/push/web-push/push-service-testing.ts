/**
 * A browser's side of Web Push for tests and `npm run stand-ins`: the subscription's keys, what a
 * push service and the browser check and undo (RFC 8292 VAPID, RFC 8291 aes128gcm), written from
 * the RFCs with node:crypto rather than with the library the channel sends with, and a local push
 * service doing both for the browsers it knows.
 */
import { createDecipheriv, createECDH, createHash, createPublicKey, type ECDH, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { PhoneListener } from '../phone-stand-ins.ts';
import type { WebPushPayload } from './index.ts';

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

/**
 * The same browser every run, its keys derived from `seed`: a subscription saved once stays valid
 * when the stand-in restarts. Test keys only.
 */
export function fixedBrowser(id: string, seed: string): Browser {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(createHash('sha256').update(`${seed}:key`).digest());
  return { id, ecdh, auth: createHash('sha256').update(`${seed}:auth`).digest().subarray(0, 16) };
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

/** One message the push service took: its headers and the payload as the browser decrypts it. */
export interface PushDelivery {
  browser: string;
  ttl: string | undefined;
  urgency: string | undefined;
  topic: string | undefined;
  /** The VAPID public key the sender signed with. */
  vapidKey: string;
  payload: WebPushPayload;
}

export interface PushServiceStandIn {
  base: string;
  /** The browsers subscribed here, by id: `POST /push/<id>`; any other id answers 404 as for a dropped subscription. */
  browsers: Map<string, Browser>;
  delivered: PushDelivery[];
  /** Answer per browser id instead of delivering (201 when not listed). */
  answers: Map<string, { status: number; headers?: Record<string, string> }>;
  /** Told of every message delivered to a browser. */
  onPhone?: PhoneListener;
  /** Subscribes `browser` here: PushSubscription.toJSON() of it. */
  subscribe(browser: Browser): ReturnType<typeof subscriptionOf>;
  reset(): void;
  close(): Promise<void>;
}

/**
 * A push service (RFC 8030) for the browsers it holds: it checks the VAPID JWT against its own
 * origin, the aes128gcm encoding and the 4096-byte limit, decrypts the payload with the browser's
 * keys and answers 201 with a Location, as a browser vendor's service does. With `tls` it serves
 * https, as real push services do (the subscription API takes no other).
 */
export async function startPushServiceStandIn(options: { port?: number; host?: string; tls?: { cert: Buffer; key: Buffer } } = {}): Promise<PushServiceStandIn> {
  const s: PushServiceStandIn = {
    base: '',
    browsers: new Map(),
    delivered: [],
    answers: new Map(),
    subscribe(browser) {
      s.browsers.set(browser.id, browser);
      return subscriptionOf(browser, `${s.base}/push/${browser.id}`);
    },
    reset() {
      s.browsers.clear();
      s.delivered.length = 0;
      s.answers.clear();
    },
    close: async () => {},
  };
  const handle: Parameters<typeof createServer>[1] = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const id = (req.url ?? '').replace(/^\/push\//, '');
      const browser = req.method === 'POST' ? s.browsers.get(id) : undefined;
      if (!browser) return res.writeHead(404).end();
      // RFC 8291 §4: push services need take no more than 4096 bytes of encrypted body.
      if (Buffer.concat(chunks).length > 4096) return res.writeHead(413).end('payload too large');
      const answer = s.answers.get(id) ?? { status: 201 };
      if (answer.status !== 201) return res.writeHead(answer.status, answer.headers).end('no');
      try {
        const { k } = checkVapid(req.headers.authorization, s.base);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding ${req.headers['content-encoding']}`);
        const payload = JSON.parse(decrypt(browser, Buffer.concat(chunks))) as WebPushPayload;
        const h = (name: string) => req.headers[name] as string | undefined;
        s.delivered.push({ browser: id, ttl: h('ttl'), urgency: h('urgency'), topic: h('topic'), vapidKey: k, payload });
        res.writeHead(201, { location: `${s.base}/message/${s.delivered.length}` }).end();
        s.onPhone?.({ provider: 'web-push', kind: 'push', to: id, text: payload.title });
      } catch (err) {
        res.writeHead(400).end((err as Error).message);
      }
    });
  };
  const server = options.tls ? createTlsServer(options.tls, handle) : createServer(handle);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, host, resolve));
  s.base = `${options.tls ? 'https' : 'http'}://${host}:${(server.address() as AddressInfo).port}`;
  s.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return s;
}
