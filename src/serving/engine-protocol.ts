/** The messages between a base model's scheduler (main thread) and its engine thread (engine-worker.ts). */
import type { ChatMessage, GenerateResult, SampledToken, SamplingParams } from '../engine/index.ts';
import type { AdapterCacheStats } from './adapter-cache.ts';
import { OpenLedgerError } from '../util/errors.ts';

/** An error crossing the thread boundary: its fields, rebuilt on the other side. */
export interface SerializedError { message: string; type: string; code: string | null; param: string | null; hint?: string; details?: Record<string, unknown> }

export function serializeError(e: unknown): SerializedError {
  if (e instanceof OpenLedgerError) return { message: e.message, type: e.type, code: e.code, param: e.param, hint: e.hint, details: e.details };
  return { message: (e as Error)?.message ?? String(e), type: 'internal_error', code: 'internal_error', param: null };
}
import type { Histogram } from './metrics.ts';

export interface EngineThreadInit {
  name: string;
  path: string;
  kvTokens?: number;
  maxBatchTokens?: number;
  maxRunning?: number;
  maxAdapters: number;
  /** Byte budget of the loaded adapters (null: count bound only). */
  adapterBudgetBytes?: number | null;
  /** Niceness of the thread (and the kernel threads it starts). */
  nice: number;
}

export interface PrepareRequest {
  generate: {
    prompt?: string | number[];
    messages?: ChatMessage[];
    /** undefined = the default (defaultMaxTokens, within the context); given = must fit the context (else 400). */
    maxTokens?: number;
    stop?: string[];
    ignoreEos?: boolean;
    sampling?: SamplingParams;
  };
  defaultMaxTokens: number;
  adapterPath: string | null;
  /** How the adapter shows in the public stats (never its path; see server.ts statsLabel). */
  adapterLabel?: string;
  /** A dynamic merge: these adapters' deltas summed with these weights (adapterPath is then null). */
  adapters?: Array<{ path: string; weight: number; model: string }> | null;
  modelName: string;
  /** JSON mode: schema null = any object (json_object); otherwise the (already checked) JSON schema. */
  json: { schema: unknown } | null;
}

export interface WorkerStats {
  state: 'idle' | 'loading' | 'ready';
  maxRunning: number | null;
  running: number;
  waiting: number;
  steps: number;
  tokens: number;
  generatedTokens: number;
  maxSequencesInStep: number;
  maxAdaptersInStep: number;
  mixedAdapterSteps: number;
  /** Sequences per engine step, distinct adapters per engine step. */
  batchSize: Histogram;
  adaptersPerStep: Histogram;
  adapters: AdapterCacheStats | null;
  kv: { blocks: number; free: number; blockSize: number } | null;
  /** Bytes per tier on this engine: its whole heap (weights, KV, scratch, adapters), the KV cache, the loaded adapters. */
  memory: { engineHeapBytes: number; kvBytes: number; adapterBytes: number } | null;
}

export type ToWorker =
  | { t: 'prepare'; id: number; req: PrepareRequest }
  | { t: 'start'; id: number }
  | { t: 'cancel'; id: number }
  | { t: 'embed'; id: number; inputs: Array<string | number[]>; adapterPath: string | null; modelName: string; adapterLabel?: string }
  | { t: 'close' };

export type ToMain =
  | { t: 'prepared'; id: number; promptTokens: number; maxRunning: number }
  | { t: 'error'; id: number; error: SerializedError }
  | { t: 'chunk'; id: number; text: string; tokens: number[]; logprobs?: SampledToken[]; texts?: Array<[number, string]> }
  | { t: 'done'; id: number; result: GenerateResult }
  | { t: 'failed'; id: number; error: SerializedError }
  | { t: 'embedded'; id: number; vectors: Float32Array[]; promptTokens: number }
  | { t: 'stats'; stats: WorkerStats }
  | { t: 'closed' };
