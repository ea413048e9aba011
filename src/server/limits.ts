/**
 * Per-caller limits the HTTP layer enforces before a route runs (429 + Retry-After, in the API's
 * error shape):
 *
 *   SlidingWindow   at most `max` events per key in any `windowMs`; memory bounded (`maxKeys`
 *                   keys, least recently used dropped first, so a flood of keys cannot grow it)
 *
 * Used for SIWE nonce issuance (per client IP: every nonce is a store row) and for the relay budget
 * (per signed-in address: routes whose chain transaction the operator sends and pays gas for).
 * In memory: a restart resets the windows (a restart takes seconds; the windows are per hour).
 */
import { OpenLedgerError } from '../util/errors.ts';

export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();
  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one event for `key`; returns 0 when allowed, else the seconds until one is (nothing recorded). */
  take(key: string): number {
    const t = this.now();
    const from = t - this.windowMs;
    const list = (this.hits.get(key) ?? []).filter((x) => x > from);
    if (list.length >= this.max) {
      this.hits.delete(key);
      this.hits.set(key, list);
      return Math.max(1, Math.ceil((list[0] + this.windowMs - t) / 1000));
    }
    list.push(t);
    this.hits.delete(key); // re-insert: Map order is the LRU order
    this.hits.set(key, list);
    while (this.hits.size > this.maxKeys) this.hits.delete(this.hits.keys().next().value!);
    return 0;
  }

  /** Gives back the newest event of `key` (a relayed request that failed sent no transaction). */
  refund(key: string): void {
    this.hits.get(key)?.pop();
  }
}

export function rateLimited(message: string, retryAfterS: number, code: string, hint: string): OpenLedgerError {
  return new OpenLedgerError(message, { type: 'rate_limit_error', code, hint, details: { retryAfter: retryAfterS } });
}

/**
 * Routes whose on-chain transaction the operator sends for the caller (`…For` calls, owner actions
 * relayed by the node): each request counts once against the caller's relay budget.
 */
export const RELAYED_ROUTES = new Set([
  'POST /v1/datanets',
  'POST /v1/datanets/:id/versions',
  'POST /v1/datanets/:id/validators',
  'POST /v1/datanets/:id/access',
  'DELETE /v1/datanets/:id/access/:address',
  'POST /v1/fine_tuning/models/import',
  'POST /v1/fine_tuning/jobs',
  'POST /v1/escrow/authorizations',
  'POST /v1/rewards/:address/claim',
]);
