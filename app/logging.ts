import pino, { type Logger } from 'pino';

/**
 * Fields that may hold a secret wherever they appear in a log line (top level or one level down):
 * they are written as `[redacted]`. Request logs carry no headers at all (see alerts/api/server.ts),
 * these paths are the second line of defence for anything that logs an object carelessly.
 */
export const REDACTED_LOG_PATHS = [
  'authorization',
  'password',
  'passphrase',
  'secret',
  'token',
  'adminToken',
  'mqttPassword',
  'databaseUrl',
  'connectionString',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
  '*.password',
  '*.passphrase',
  '*.secret',
  '*.token',
  '*.adminToken',
  '*.mqttPassword',
  '*.databaseUrl',
  '*.connectionString',
  '*.headers.authorization',
];

/** The pipeline's logger: pino at `level`, with secrets redacted. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/** A URL fit for a log line: any password in it (`mqtt://user:pw@host`, `postgres://…`) masked. */
export function redactUrl(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|key/i.test(key)) u.searchParams.set(key, 'redacted');
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:redacted@');
  }
}
