import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../app/errors.ts';

/**
 * Per-gateway MQTT credentials for the embedded broker (`GATEWAY_CREDENTIALS`): one gateway a line,
 * `gatewayId:password` (as in scripts/services.d/mosquitto.sh's gateways.txt) or, better,
 * `gatewayId:scrypt$<salt>$<hash>` (base64url) from `npx tsx ingest/gateway-credentials.ts hash`.
 * Blank lines and lines starting with `#` are ignored. The MQTT user name is the gateway id.
 */

/** scrypt cost: N = 2^14, r = 8, p = 1 (about 16 MiB and some tens of ms per check). */
const SCRYPT = { N: 16_384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** A gateway id is one MQTT topic level; `$` ids are the broker's own. */
const GATEWAY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

type Secret = { kind: 'plain'; sha256: Buffer } | { kind: 'scrypt'; salt: Buffer; hash: Buffer };

const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();

function scryptAsync(password: Buffer | string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, KEY_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$<salt>$<hash>` for a password: the form to keep in the credentials file. */
export async function hashGatewayPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

function parseSecret(text: string, where: string): Secret {
  if (text.startsWith('scrypt$')) {
    const [, salt, hash] = text.split('$');
    const saltBuf = Buffer.from(salt ?? '', 'base64url');
    const hashBuf = Buffer.from(hash ?? '', 'base64url');
    if (text.split('$').length !== 3 || saltBuf.length < 8 || hashBuf.length !== KEY_BYTES) {
      throw new ConfigError(`${where}: scrypt entry must be scrypt$<salt>$<32-byte hash>, base64url (generate it with: npx tsx ingest/gateway-credentials.ts hash)`);
    }
    return { kind: 'scrypt', salt: saltBuf, hash: hashBuf };
  }
  if (text.length === 0) throw new ConfigError(`${where}: empty password`);
  return { kind: 'plain', sha256: sha256(text) };
}

/** Parses the file's text; a bad line is refused at start with its line number. */
export function parseGatewayCredentials(text: string, source = 'GATEWAY_CREDENTIALS'): GatewayCredentials {
  const entries = new Map<string, Secret>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source}:${i + 1}`;
    const at = line.indexOf(':');
    if (at <= 0) throw new ConfigError(`${where}: expected gatewayId:password or gatewayId:scrypt$salt$hash`);
    const id = line.slice(0, at);
    if (!GATEWAY_ID.test(id)) throw new ConfigError(`${where}: gateway id ${JSON.stringify(id)} must be 1-64 of A-Z a-z 0-9 _ . -`);
    if (entries.has(id)) throw new ConfigError(`${where}: gateway ${id} listed twice`);
    entries.set(id, parseSecret(line.slice(at + 1), where));
  });
  return new GatewayCredentials(entries);
}

export function readGatewayCredentials(file: string): GatewayCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`GATEWAY_CREDENTIALS=${file} cannot be read: ${(err as Error).message}`, { cause: err });
  }
  return parseGatewayCredentials(text, `GATEWAY_CREDENTIALS ${file}`);
}

const DUMMY_PLAIN = sha256('no such gateway');
const DUMMY_SALT = randomBytes(SALT_BYTES);

/**
 * The gateways allowed on the broker. `verify` compares in constant time and spends the same work
 * on an unknown gateway as on a known one, so neither timing nor answers tell which ids exist.
 */
export class GatewayCredentials {
  readonly #entries: ReadonlyMap<string, Secret>;
  /** sha256(id NUL password) of passwords already checked against an scrypt entry: reconnect storms stay cheap. */
  readonly #verified = new Map<string, Buffer>();

  readonly #anyScrypt: boolean;

  constructor(entries: ReadonlyMap<string, Secret>) {
    this.#entries = entries;
    this.#anyScrypt = [...entries.values()].some((s) => s.kind === 'scrypt');
  }

  get size(): number {
    return this.#entries.size;
  }

  has(gatewayId: string): boolean {
    return this.#entries.has(gatewayId);
  }

  async verify(gatewayId: string, password: Buffer | string): Promise<boolean> {
    const secret = this.#entries.get(gatewayId);
    const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
    if (!secret) {
      // As much work as a listed gateway of the file's kind would cost, then no.
      if (this.#anyScrypt) await scryptAsync(pw, DUMMY_SALT);
      else timingSafeEqual(sha256(pw), DUMMY_PLAIN);
      return false;
    }
    if (secret.kind === 'plain') return timingSafeEqual(sha256(pw), secret.sha256);
    const key = sha256(Buffer.concat([Buffer.from(gatewayId), Buffer.from([0]), pw]));
    const seen = this.#verified.get(gatewayId);
    if (seen && timingSafeEqual(seen, key)) return true;
    const hash = await scryptAsync(pw, secret.salt);
    const ok = timingSafeEqual(hash, secret.hash);
    if (ok) this.#verified.set(gatewayId, key);
    return ok;
  }
}

const USAGE = `Usage:
  npx tsx ingest/gateway-credentials.ts hash [gatewayId]
      reads passwords from stdin, one a line (or 'gatewayId:password' lines when no id is given),
      and prints 'gatewayId:scrypt$salt$hash' lines for GATEWAY_CREDENTIALS
  npx tsx ingest/gateway-credentials.ts check FILE
      parses a credentials file and prints how many gateways it lists
`;

async function cli(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  if (command === 'check' && arg) {
    const creds = readGatewayCredentials(arg);
    process.stdout.write(`${arg}: ${creds.size} gateways\n`);
    return 0;
  }
  if (command !== 'hash') {
    process.stderr.write(USAGE);
    return 64;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const lines = Buffer.concat(chunks).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  for (const line of lines) {
    let id = arg;
    let password = line;
    if (!id) {
      const at = line.indexOf(':');
      if (at <= 0) throw new ConfigError(`expected gatewayId:password, got a line without ':'`);
      id = line.slice(0, at);
      password = line.slice(at + 1);
    }
    if (!GATEWAY_ID.test(id)) throw new ConfigError(`gateway id ${JSON.stringify(id)} must be 1-64 of A-Z a-z 0-9 _ . -`);
    process.stdout.write(`${id}:${await hashGatewayPassword(password)}\n`);
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
