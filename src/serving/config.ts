/**
 * The model server's one config object, parsed once (zod) where the server is created. Every
 * bound here is per base model: each base has its own engine, batch loop and adapter cache.
 */
import { z } from 'zod';
import { configError } from '../util/errors.ts';

export const servingConfigSchema = z.object({
  /** KV cache budget in tokens over all running sequences of one base (default: the engine's, min(4·context, 8192)). */
  kvTokens: z.number().int().min(1).optional(),
  /** Rows per forward call: decode rows + prefill chunks (the engine's default 256). */
  maxBatchTokens: z.number().int().min(1).optional(),
  /** Sequences decoding at once per base (the BatchGenerator's default, min(64, maxBatchTokens)). */
  maxRunning: z.number().int().min(1).optional(),
  /** Requests admitted to wait for a running slot or KV room per base; the next one gets a 429. */
  maxQueued: z.number().int().min(0).default(64),
  /** Adapters kept loaded per base (LRU); adapters of running requests are never evicted. */
  maxAdapters: z.number().int().min(1).default(16),
  /**
   * Host-memory budget of the loaded adapters per base, in MiB (unset: only the maxAdapters count
   * bound). Idle adapters are evicted least recently used first to fit; an adapter larger than
   * the budget is refused (422).
   */
  adapterMemoryMb: z.number().positive().max(1 << 20).optional(),
  /** Default max_tokens when a request gives none (OpenAI's chat default is "the rest of the context"; a bound is kinder to a shared node). */
  defaultMaxTokens: z.number().int().min(1).default(256),
  /** Bytes of prompt text a request may carry; checked before anything tokenizes it (413). */
  maxPromptBytes: z.number().int().min(1).default(1 << 20),
  /** Most choices (OpenAI's n) one request may ask for. */
  maxChoices: z.number().int().min(1).max(128).default(16),
  /**
   * Niceness of each engine thread and its kernel threads (0–19; Linux nice is per thread).
   * Above 0 the decode loop yields the CPU to the HTTP thread — and to every other process on the
   * machine, so on a busy shared machine decoding slows down a lot (see README, Measured).
   * 0 (default) = the process's own priority.
   */
  engineNice: z.number().int().min(0).max(19).default(0),
});

export type ServingConfig = z.infer<typeof servingConfigSchema>;
export type ServingConfigInput = z.input<typeof servingConfigSchema>;

export function parseServingConfig(input: ServingConfigInput = {}): ServingConfig {
  const r = servingConfigSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0];
    const param = i.path.join('.');
    throw configError(`serving config ${param}: ${i.message}`, { param, code: 'invalid_serving_config', hint: 'see src/serving/config.ts for the options' });
  }
  return r.data;
}
