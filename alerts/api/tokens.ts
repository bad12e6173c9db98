import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const ROLES = ['admin', 'supervisor', 'operator', 'technician'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  role: Role;
  /** The on-call person (people.id) this token acts as: a technician sees only their tickets. */
  personId?: string;
}

/** Anything that maps a bearer token to its principal; the auth hook awaits the answer. */
export interface TokenVerifier {
  verify(token: string): Principal | undefined | Promise<Principal | undefined>;
}

/**
 * Verifiers tried in order (the bootstrap TokenBook, then the SQL store): the first principal
 * found wins. Nothing is cached, so a revoke takes effect on the next request.
 */
export class TokenChain implements TokenVerifier {
  readonly #verifiers: readonly TokenVerifier[];

  constructor(...verifiers: TokenVerifier[]) {
    this.#verifiers = verifiers;
  }

  async verify(token: string): Promise<Principal | undefined> {
    for (const v of this.#verifiers) {
      const p = await v.verify(token);
      if (p) return p;
    }
    return undefined;
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Bearer tokens, held only as SHA-256 digests and compared in constant time, so neither memory
 * dumps nor timing reveal them.
 */
export class TokenBook implements TokenVerifier {
  readonly #entries: Array<{ digest: Buffer; principal: Principal }> = [];

  add(token: string, principal: Principal): void {
    this.#entries.push({ digest: digest(token), principal });
  }

  verify(token: string): Principal | undefined {
    const candidate = digest(token);
    let found: Principal | undefined;
    // Compare against every entry so the time taken does not say which one matched.
    for (const e of this.#entries) if (timingSafeEqual(e.digest, candidate)) found = e.principal;
    return found;
  }
}

/**
 * The embedded default's admin token: `ADMIN_TOKEN` when set, else the one stored under DATA_DIR,
 * else a new random one stored there (mode 0600). `generated` tells the caller to show it once.
 */
export function loadAdminToken(fromEnv: string | undefined, file: string): { token: string; generated: boolean } {
  if (fromEnv) return { token: fromEnv, generated: false };
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), generated: false };
  const token = randomBytes(24).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, generated: true };
}
