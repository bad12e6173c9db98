import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from './config.ts';
import { redactUrl } from './logging.ts';

const dir = mkdtempSync(join(tmpdir(), 'gas-config-'));
const file = (name: string) => {
  const path = join(dir, name);
  writeFileSync(path, 'x');
  return path;
};

describe('security settings from the environment', () => {
  it('reads credentials, TLS pairs and the CA as files', () => {
    const cert = file('cert.pem');
    const key = file('key.pem');
    const c = configFromEnv({ GATEWAY_CREDENTIALS: file('gw.txt'), MQTT_TLS_CERT: cert, MQTT_TLS_KEY: key, HTTP_TLS_CERT: cert, HTTP_TLS_KEY: key });
    expect(c).toMatchObject({ gatewayCredentialsFile: join(dir, 'gw.txt'), mqttTls: { certFile: cert, keyFile: key }, httpTls: { certFile: cert, keyFile: key } });
    expect(configFromEnv({ MQTT_URL: 'mqtts://broker:8883', MQTT_CA: cert }).mqttCaFile).toBe(cert);
    const open = configFromEnv({});
    expect(open.gatewayCredentialsFile).toBeUndefined();
    expect(open.httpTls).toBeUndefined();
  });

  it.each([
    [{ GATEWAY_CREDENTIALS: '/nonexistent/gw.txt' }, /GATEWAY_CREDENTIALS=\/nonexistent\/gw.txt cannot be read/],
    [{ HTTP_TLS_CERT: join(dir, 'cert.pem') }, /HTTP_TLS_KEY is missing/],
    [{ MQTT_TLS_KEY: join(dir, 'key.pem') }, /MQTT_TLS_CERT is missing/],
    [{ MQTT_CA: '/nonexistent/ca.pem' }, /MQTT_CA=.* cannot be read/],
    [{ MQTT_URL: 'mqtt://broker:1883', GATEWAY_CREDENTIALS: join(dir, 'gw.txt') }, /does not run with MQTT_URL/],
  ])('refuses %o at start', (env, message) => {
    file('cert.pem');
    file('key.pem');
    file('gw.txt');
    expect(() => configFromEnv(env)).toThrow(message);
  });

  it('masks passwords in URLs before they are logged', () => {
    expect(redactUrl('postgres://gas:s3cret@db:5432/gas')).toBe('postgres://gas:redacted@db:5432/gas');
    expect(redactUrl('mqtts://ingest:pw@broker:8883')).toBe('mqtts://ingest:redacted@broker:8883');
    expect(redactUrl('https://hooks.example/x?access_token=abc&x=1')).toBe('https://hooks.example/x?access_token=redacted&x=1');
    expect(redactUrl('mqtt://127.0.0.1:1883')).toBe('mqtt://127.0.0.1:1883');
    expect(redactUrl(undefined)).toBeUndefined();
  });
});
