import type { FastifyInstance } from 'fastify';
import { jsonProblem, textProblem, type JsonBounds, type JsonProblemCode } from '../../contracts/safe-json.ts';
import { BadRequestError, TooDeepError, UnsafeTextError, type HttpError } from './errors.ts';

/**
 * Deepest nesting of a JSON body: the deepest the API takes (rotations, SLA limits) is 5.
 * Checked before the schema check and the audit log walk the body recursively.
 */
export const MAX_BODY_DEPTH = 32;

const BODY_ERRORS: Record<JsonProblemCode, new (message: string) => HttpError> = { too_deep: TooDeepError, unsafe_text: UnsafeTextError, too_long: BadRequestError };

function refuseUnsafe(part: 'params' | 'querystring', values: unknown): void {
  if (values === null || typeof values !== 'object') return;
  for (const [key, value] of Object.entries(values)) {
    const keyProblem = textProblem(key);
    if (keyProblem) throw new UnsafeTextError(`${part} has a parameter name that ${keyProblem}`);
    for (const text of Array.isArray(value) ? value : [value]) {
      const problem = typeof text === 'string' ? textProblem(text) : undefined;
      if (problem) throw new UnsafeTextError(`${part}/${key} ${problem}`);
    }
  }
}

/**
 * The edge's text and depth rules on every request (contracts/safe-json.ts): a path or query
 * parameter holding NUL, a lone surrogate or a control character is refused with 400
 * GAS_HTTP_UNSAFE_TEXT naming it, a body nested deeper than MAX_BODY_DEPTH with 400
 * GAS_HTTP_TOO_DEEP, so no route, SQL query or log line behind it sees either. Lengths are bounded
 * by each route's schema and the body limit.
 */
export function inputGuard(app: FastifyInstance, bodyLimitBytes: number): void {
  const bounds: JsonBounds = { maxDepth: MAX_BODY_DEPTH, maxStringChars: bodyLimitBytes };
  app.addHook('preValidation', async (request) => {
    refuseUnsafe('params', request.params);
    refuseUnsafe('querystring', request.query);
    if (request.body === undefined) return;
    const problem = jsonProblem(request.body, bounds);
    if (problem) throw new BODY_ERRORS[problem.code](`body${problem.path} ${problem.message}`);
  });
}
