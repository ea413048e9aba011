/**
 * Per-caller quotas and rate limits (issue 9, item 7), one config object in the node config
 * (`quotas`), one instance per node (`services.modules.quotas`). Every limit answers 429 with
 * `Retry-After` (seconds until the window frees enough) in the one error shape.
 *
 *   requestsPerMinute   completions + embeddings per caller, sliding 60 s window
 *   tokensPerMinute     prompt + completion tokens per caller, sliding 60 s window: a request is
 *                       admitted while the window is under the limit; what it used is counted when it ends
 *   maxFiles, maxFileBytes   uploaded training files per caller: count and total bytes (checked before storing)
 *   maxQueuedJobs       fine-tuning jobs per caller not yet finished (validating, queued, running)
 *
 * 0 turns a limit off. Windows are in memory (a restart forgets them); files and jobs are counted
 * from the store, so they hold across restarts.
 */
import { z } from 'zod';
import { OpenLedgerError } from '../util/errors.ts';

export const quotasConfigSchema = z.object({
  requestsPerMinute: z.number().int().min(0).default(600),
  tokensPerMinute: z.number().int().min(0).default(1_000_000),
  maxFiles: z.number().int().min(0).default(100),
  maxFileBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
  maxQueuedJobs: z.number().int().min(0).default(4),
});
export type QuotasConfig = z.infer<typeof quotasConfigSchema>;
export type QuotasConfigInput = z.input<typeof quotasConfigSchema>;

const WINDOW_MS = 60_000;
/** Callers tracked at once; past this, idle ones are forgotten first. */
const MAX_CALLERS = 100_000;

interface Window {
  /** (time, amount) entries inside the last minute, oldest first. */
  at: number[];
  n: number[];
  sum: number;
}

export class Quotas {
  readonly config: QuotasConfig;
  private readonly requests = new Map<string, Window>();
  private readonly tokens = new Map<string, Window>();

  constructor(config: QuotasConfigInput = {}, private readonly now: () => number = Date.now) {
    this.config = quotasConfigSchema.parse(config);
  }

  /** Count one request for `caller`; 429 when the minute's requests are used up. */
  request(caller: string): void {
    const lim = this.config.requestsPerMinute;
    if (!lim) return;
    const w = this.window(this.requests, caller);
    if (w.sum >= lim) throw limited(`${lim} requests per minute`, 'requests_per_minute', this.retryAfter(w, w.sum - lim + 1), 'spread requests out');
    this.add(w, 1);
  }

  /** Before a completion: 429 while the caller's tokens of the last minute are at the limit. */
  checkTokens(caller: string): void {
    const lim = this.config.tokensPerMinute;
    if (!lim) return;
    const w = this.window(this.tokens, caller);
    if (w.sum >= lim) throw limited(`${lim} tokens per minute`, 'tokens_per_minute', this.retryAfter(w, w.sum - lim + 1), 'lower max_tokens or wait');
  }

  /** After a completion: the tokens it used. */
  addTokens(caller: string, n: number): void {
    if (!this.config.tokensPerMinute || !(n > 0)) return;
    this.add(this.window(this.tokens, caller), n);
  }

  /** Before storing a file of `bytes`: the caller's `count` files and `total` bytes stay within the quota. */
  checkFile(current: { count: number; bytes: number }, bytes: number): void {
    const { maxFiles, maxFileBytes } = this.config;
    if (maxFiles && current.count + 1 > maxFiles) {
      throw limited(`${maxFiles} files per caller`, 'file_quota_exceeded', null, `delete files you no longer need (DELETE /v1/files/{id}); you have ${current.count}`);
    }
    if (maxFileBytes && current.bytes + bytes > maxFileBytes) {
      throw limited(`${maxFileBytes} bytes of files per caller`, 'file_quota_exceeded', null, `delete files you no longer need (DELETE /v1/files/{id}); you use ${current.bytes} bytes, this file has ${bytes}`);
    }
  }

  /** Before queueing a job: the caller's unfinished jobs stay within the quota. */
  checkJobs(unfinished: number): void {
    const lim = this.config.maxQueuedJobs;
    if (lim && unfinished >= lim) throw limited(`${lim} unfinished fine-tuning jobs per caller`, 'job_quota_exceeded', 60, 'wait for a job to finish or cancel one (POST /v1/fine_tuning/jobs/{id}/cancel)');
  }

  private window(map: Map<string, Window>, caller: string): Window {
    const key = caller.toLowerCase();
    let w = map.get(key);
    if (!w) {
      if (map.size >= MAX_CALLERS) this.prune(map);
      map.set(key, (w = { at: [], n: [], sum: 0 }));
    }
    const cut = this.now() - WINDOW_MS;
    let i = 0;
    while (i < w.at.length && w.at[i] <= cut) w.sum -= w.n[i++];
    if (i) { w.at.splice(0, i); w.n.splice(0, i); }
    return w;
  }

  private add(w: Window, n: number): void {
    w.at.push(this.now());
    w.n.push(n);
    w.sum += n;
  }

  /** Seconds until `excess` of the window's amount has aged out. */
  private retryAfter(w: Window, excess: number): number {
    let freed = 0;
    for (let i = 0; i < w.at.length; i++) {
      freed += w.n[i];
      if (freed >= excess) return Math.max(1, Math.ceil((w.at[i] + WINDOW_MS - this.now()) / 1000));
    }
    return 60;
  }

  private prune(map: Map<string, Window>): void {
    const cut = this.now() - WINDOW_MS;
    for (const [k, w] of map) if (!w.at.length || w.at[w.at.length - 1] <= cut) map.delete(k);
    if (map.size >= MAX_CALLERS) map.delete(map.keys().next().value!);
  }
}

const limited = (what: string, code: string, retryAfterSeconds: number | null, hint: string) =>
  new OpenLedgerError(`rate limit reached: ${what}`, { type: 'rate_limit_error', code, hint, ...(retryAfterSeconds ? { details: { retryAfterSeconds } } : {}) });

/** The node's quotas, created once from the node config (tests may put their own in `modules.quotas` first). */
export function quotasOf(s: { config: { quotas?: QuotasConfigInput }; modules: Record<string, unknown> }): Quotas {
  let q = s.modules.quotas as Quotas | undefined;
  if (!q) s.modules.quotas = q = new Quotas(s.config.quotas ?? {});
  return q;
}
