/**
 * One error type for the whole node. Every failure a user can cause or fix is an OpenLedgerError
 * with a short message, a hint that names the fix, and the fields the HTTP layer maps to
 * `{ error: { message, type, param, code } }` (server/errors.ts is the only place that does so).
 */
export type ErrorType =
  | 'invalid_request_error' // bad input from the caller (400)
  | 'authentication_error' // missing/invalid credentials (401)
  | 'permission_error' // authenticated but not allowed (403)
  | 'not_found_error' // (404)
  | 'conflict_error' // state conflict, e.g. duplicate (409)
  | 'payload_too_large' // (413)
  | 'insufficient_quota' // the caller's escrow cannot pay for the request (402, OpenAI's type)
  | 'rate_limit_error' // quotas (429)
  | 'config_error' // invalid node configuration (CLI exit)
  | 'chain_error' // RPC / contract failures (502)
  | 'model_error' // model files that cannot be loaded
  | 'internal_error'; // a bug (500)

const STATUS: Record<ErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  payload_too_large: 413,
  insufficient_quota: 402,
  rate_limit_error: 429,
  config_error: 400,
  chain_error: 502,
  model_error: 422,
  internal_error: 500,
};

export interface ErrorOptions {
  type?: ErrorType;
  /** The offending parameter or field, when there is one (`hyperparameters.rank`, `file`). */
  param?: string | null;
  /** A stable machine-readable code, e.g. `datanet_not_found`. */
  code?: string | null;
  /** What the user should do about it. */
  hint?: string;
  /** Extra structured details (values that were wrong). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class OpenLedgerError extends Error {
  readonly type: ErrorType;
  readonly param: string | null;
  readonly code: string | null;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'OpenLedgerError';
    this.type = opts.type ?? 'invalid_request_error';
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  get status(): number {
    return STATUS[this.type];
  }

  /** Message with the hint appended, for CLI output and logs. */
  get fullMessage(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

export const invalid = (message: string, opts: Omit<ErrorOptions, 'type'> = {}) =>
  new OpenLedgerError(message, { ...opts, type: 'invalid_request_error' });
export const notFound = (message: string, opts: Omit<ErrorOptions, 'type'> = {}) =>
  new OpenLedgerError(message, { ...opts, type: 'not_found_error' });
export const forbidden = (message: string, opts: Omit<ErrorOptions, 'type'> = {}) =>
  new OpenLedgerError(message, { ...opts, type: 'permission_error' });
export const configError = (message: string, opts: Omit<ErrorOptions, 'type'> = {}) =>
  new OpenLedgerError(message, { ...opts, type: 'config_error' });
export const modelError = (message: string, opts: Omit<ErrorOptions, 'type'> = {}) =>
  new OpenLedgerError(message, { ...opts, type: 'model_error' });
