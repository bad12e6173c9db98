/**
 * Error classes shared by every stage. Each has a stable code with the `GAS_` prefix, an optional
 * `cause`, and whether retrying can help; fields survive JSON logging.
 */
export class PipelineError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Bad configuration or environment: refused at start, never merely logged. */
export class ConfigError extends PipelineError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('GAS_CONFIG_INVALID', message, options);
  }
}
