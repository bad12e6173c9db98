import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hashGatewayPassword, parseGatewayCredentials } from './gateway-credentials.ts';

describe('gateway credentials', () => {
  it('verifies plain and scrypt entries, and nothing else', async () => {
    const creds = parseGatewayCredentials(`# comment\n\nGW-1:secret-1\nGW-2:${await hashGatewayPassword('secret-2')}\n`);
    expect(creds.size).toBe(2);
    expect(await creds.verify('GW-1', 'secret-1')).toBe(true);
    expect(await creds.verify('GW-1', Buffer.from('secret-1'))).toBe(true);
    expect(await creds.verify('GW-1', 'secret-2')).toBe(false);
    expect(await creds.verify('GW-2', 'secret-2')).toBe(true);
    expect(await creds.verify('GW-2', 'secret-2')).toBe(true); // from the cache of verified passwords
    expect(await creds.verify('GW-2', 'secret-1')).toBe(false);
    expect(await creds.verify('GW-3', 'secret-1')).toBe(false);
    expect(await creds.verify('GW-1', '')).toBe(false);
  });

  it('keeps a colon inside a password', async () => {
    expect(await parseGatewayCredentials('GW-1:a:b').verify('GW-1', 'a:b')).toBe(true);
  });

  it.each([
    ['no colon', 'GW-1', /:1: expected gatewayId:password/],
    ['empty password', 'GW-1:', /empty password/],
    ['wildcard in id', 'GW+1:pw', /gateway id/],
    ['slash in id', 'a/b:pw', /gateway id/],
    ['duplicate', 'GW-1:a\nGW-1:b', /:2: gateway GW-1 listed twice/],
    ['bad scrypt', 'GW-1:scrypt$abc', /scrypt entry/],
  ])('refuses a bad file at start: %s', (_name, text, message) => {
    expect(() => parseGatewayCredentials(text)).toThrow(message);
  });

  it('hashes from the command line', async () => {
    const out = execFileSync('npx', ['tsx', 'ingest/gateway-credentials.ts', 'hash'], { input: 'GW-7:pw-7\n', encoding: 'utf8' });
    expect(out).toMatch(/^GW-7:scrypt\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+\n$/);
    expect(await parseGatewayCredentials(out).verify('GW-7', 'pw-7')).toBe(true);
  }, 30_000);
});
