import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const ROLES = ['admin', 'supervisor', 'operator', 'technician'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  role: Role;
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Bearer tokens, held only as SHA-256 digests and compared in constant time, so neither memory
 * dumps nor timing reveal them.
 */
export class TokenBook {
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
