import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { HttpError } from './errors.ts';

/**
 * One validation failure as a sentence a client can act on: the field's path, and for the common
 * cases what was wrong with it (`body has unknown field 'isRoot'`, `body/role must be one of …`).
 * fastify's `schemaErrorFormatter`; the error handler answers it as 400 GAS_HTTP_VALIDATION.
 */
export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const allowed = new Map<string, unknown[]>();
  const sentences: string[] = [];
  for (const e of errors) {
    const path = `${dataVar}${e.instancePath}`;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'const') {
      allowed.set(path, [...(allowed.get(path) ?? []), params.allowedValue]);
      continue;
    }
    if (e.keyword === 'anyOf' && allowed.has(path)) {
      sentences.push(`${path} must be one of ${allowed.get(path)!.map((v) => JSON.stringify(v)).join(', ')}`);
      allowed.delete(path);
      continue;
    }
    if (e.keyword === 'additionalProperties') {
      sentences.push(`${path} has unknown field '${String(params.additionalProperty)}'`);
    } else if (e.keyword === 'type' && e.instancePath === '' && dataVar === 'body') {
      sentences.push(`body must be a JSON ${String(params.type)} (send Content-Type: application/json)`);
    } else {
      sentences.push(`${path} ${e.message ?? 'is invalid'}`);
    }
  }
  for (const [path, values] of allowed) sentences.push(`${path} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
  return new Error([...new Set(sentences)].join('; '));
}

/** fastify's own request errors (body parsing and size) under the API's codes, with what to fix. */
export function frameworkHttpError(err: unknown, bodyLimitBytes: number): HttpError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'GAS_HTTP_BODY_TOO_LARGE', `Request body is over the ${bodyLimitBytes}-byte limit`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, 'GAS_HTTP_INVALID_JSON', 'Body is not valid JSON (or uses a forbidden key such as __proto__)');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 'GAS_HTTP_INVALID_JSON', "Body is empty but Content-Type is application/json: send a JSON body or no Content-Type");
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'GAS_HTTP_UNSUPPORTED_MEDIA_TYPE', 'Unsupported Content-Type: send application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'GAS_HTTP_BAD_REQUEST', 'Content-Length does not match the body');
    default:
      return undefined;
  }
}
