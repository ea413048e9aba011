/**
 * The one place that turns failures into HTTP responses:
 * `{ error: { message, type, param, code } }` (OpenAI's shape), plus `hint` when we have one.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { OpenLedgerError } from '../util/errors.ts';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null; hint?: string };
}

/**
 * Absolute paths on the node never reach a caller: the data dir, the checkout, the home and temp
 * dirs are replaced by placeholders in every error message and hint (a message built from a file
 * error would otherwise show where the node keeps its keys).
 */
const redactions: Array<[string, string]> = [];
export function configureRedaction(paths: Record<string, string>): void {
  redactions.length = 0;
  for (const [name, path] of Object.entries(paths)) if (path && path.length > 1) redactions.push([path, `<${name}>`]);
  redactions.sort((a, b) => b[0].length - a[0].length); // longest first: the data dir before the home dir
}
export function redactPaths(text: string): string {
  let out = text;
  for (const [path, name] of redactions) out = out.split(path).join(name);
  return out;
}

export function toErrorBody(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof OpenLedgerError) {
    return {
      status: err.status,
      body: { error: { message: redactPaths(err.message), type: err.type, param: err.param, code: err.code, ...(err.hint ? { hint: redactPaths(err.hint) } : {}) } },
    };
  }
  const fe = err as FastifyError & { validation?: Array<{ instancePath?: string; params?: Record<string, unknown> }> };
  if (fe && fe.validation) {
    const v = fe.validation[0];
    const missing = v?.params?.missingProperty as string | undefined;
    const path = (v?.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
    const param = missing ? (path ? `${path}.${missing}` : missing) : path || null;
    return {
      status: 400,
      body: { error: { message: fe.message, type: 'invalid_request_error', param, code: 'invalid_request', hint: 'see the request schema at /docs' } },
    };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const type = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 404 ? 'not_found_error' : fe.statusCode === 429 ? 'rate_limit_error' : 'invalid_request_error';
    return { status: fe.statusCode, body: { error: { message: redactPaths(fe.message), type, param: null, code: fe.code ?? null } } };
  }
  return { status: 500, body: { error: { message: 'internal error', type: 'internal_error', param: null, code: null } } };
}

/**
 * Where 5xx failures are written: always, whatever the request log level (an operator must see why
 * the node answered 500). `configureServerErrorLog` replaces it (tests: silence; the node: stderr).
 */
let serverErrorLog: (line: string) => void = (line) => process.stderr.write(line + '\n');
export function configureServerErrorLog(f: (line: string) => void): void {
  serverErrorLog = f;
}

/** Seconds a 429 / 503 asks the caller to wait (`details.retryAfterSeconds` of the error), for the Retry-After header. */
export function retryAfterOf(err: unknown): number | null {
  const d = err instanceof OpenLedgerError ? (err.details as { retryAfterSeconds?: unknown; retryAfter?: unknown } | undefined) : undefined;
  const s = d?.retryAfterSeconds ?? d?.retryAfter;
  return typeof s === 'number' && s > 0 ? Math.ceil(s) : null;
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply) {
  const { status, body } = toErrorBody(err);
  if (status >= 500) {
    request.log.error({ err }, 'request failed');
    const e = err as Error;
    serverErrorLog(`${new Date().toISOString()} ${status} ${request.method} ${request.url.split('?')[0].slice(0, 200)} (${request.id}): ${e?.stack ?? String(err)}`);
  }
  // Every 429 and 503 says when to come back (the error's own estimate, else a short default).
  const retry = retryAfterOf(err) ?? (status === 429 ? 1 : status === 503 ? 5 : null);
  if (retry !== null) reply.header('retry-after', String(retry));
  reply.status(status).send(body);
}

/** JSON schema of the error body, referenced by every route's error responses. */
export const errorSchema = {
  $id: 'Error',
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        message: { type: 'string' },
        type: { type: 'string' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
        hint: { type: 'string' },
      },
      required: ['message', 'type', 'param', 'code'],
    },
  },
  required: ['error'],
} as const;
