/**
 * The API's error catalogue: each a class with a stable `GAS_HTTP_*` code and status. 5xx texts
 * are never shown to clients; these 4xx texts are, so they say what to fix.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'Missing or invalid bearer token: send Authorization: Bearer <token>') {
    super(401, 'GAS_HTTP_UNAUTHORIZED', message);
  }
}

export class ForbiddenError extends HttpError {
  constructor(message = 'Your role may not do this') {
    super(403, 'GAS_HTTP_FORBIDDEN', message);
  }
}

export class NotFoundError extends HttpError {
  constructor(what: string) {
    super(404, 'GAS_HTTP_NOT_FOUND', `${what} not found`);
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string) {
    super(400, 'GAS_HTTP_BAD_REQUEST', message);
  }
}

export class ConflictError extends HttpError {
  constructor(code: string, message: string) {
    super(409, code, message);
  }
}

/** A query, path or body string holding NUL, a lone surrogate or a control character (see contracts/safe-json.ts). */
export class UnsafeTextError extends HttpError {
  constructor(message: string) {
    super(400, 'GAS_HTTP_UNSAFE_TEXT', message);
  }
}

/** A time range the API cannot answer: unreadable, reversed or too long. */
export class BadRangeError extends HttpError {
  constructor(message: string) {
    super(400, 'GAS_HTTP_BAD_RANGE', message);
  }
}

/** A JSON body nested deeper than the API takes. */
export class TooDeepError extends HttpError {
  constructor(message: string) {
    super(400, 'GAS_HTTP_TOO_DEEP', message);
  }
}

/** One token or one address already holds as many live streams as it may. */
export class TooManyStreamsError extends HttpError {
  constructor(message: string) {
    super(429, 'GAS_HTTP_TOO_MANY_STREAMS', message);
  }
}

/**
 * Domain errors from the services behind the API, by their stable code: the client gets the
 * domain's code with the matching status; anything else stays a 500.
 */
const DOMAIN_STATUS: Readonly<Record<string, number>> = {
  GAS_TICKET_NOT_FOUND: 404,
  GAS_TICKET_ILLEGAL_TRANSITION: 409,
  GAS_TICKET_CONFLICT: 409,
  GAS_TICKET_SAFETY_ACTIVE: 409,
  GAS_TICKET_CONDITIONS_ACTIVE: 409,
  GAS_TICKET_INVALID_INPUT: 400,
  GAS_ONCALL_NOT_FOUND: 404,
  GAS_ONCALL_INVALID: 400,
  GAS_CONFIG_INVALID: 400,
  GAS_ACTION_TOKEN_FORGED: 401,
  GAS_ACTION_TOKEN_WRONG_PERSON: 403,
  GAS_ACTION_TOKEN_REPLAYED: 409,
  GAS_ACTION_TOKEN_EXPIRED: 410,
  GAS_PUSH_CALLBACK_INVALID: 401,
  GAS_ACTION_NOT_YET: 409,
  GAS_HISTORY_UNAVAILABLE: 503,
};

export function domainHttpError(err: unknown): HttpError | undefined {
  if (!(err instanceof Error) || !('code' in err) || typeof err.code !== 'string') return undefined;
  const status = DOMAIN_STATUS[err.code];
  return status === undefined ? undefined : new HttpError(status, err.code, err.message);
}
