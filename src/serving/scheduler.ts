/**
 * One base model's serving loop: its engine (loaded on first request, then kept), one
 * continuous-batching BatchGenerator over it, the adapter cache, admission bounds and counters.
 *
 *   submit ─▶ bound check (429) ─▶ engine loaded? ─▶ adapter leased (cache) ─▶ BatchGenerator.submit
 *                                                                              │
 *        every step: decode rows of all running sequences + prefill chunks ◀──┘
 *        (each row with its own adapter or none: one batched forward, LoRA per segment)
 *
 * Requests for different fine-tuned models over the same base share this loop, so their
 * sequences sit in the same `engine.step`; the lease keeps an adapter loaded while its sequence runs.
 */
import { BatchGenerator, createEngine, loadModel, type Engine, type GenerateRequest, type GenerationStream, type StepEntry } from '../engine/index.ts';
import { OpenLedgerError, modelError } from '../util/errors.ts';
import { AdapterCache, type AdapterCacheStats, type AdapterLease } from './adapter-cache.ts';
import type { ServingConfig } from './config.ts';

export interface ScheduleRequest {
  generate: Omit<GenerateRequest, 'adapter' | 'signal'>;
  /** PEFT folder or GGUF LoRA of a fine-tuned model; null for the base. */
  adapterPath: string | null;
  /** The model as the request named it (for errors). */
  modelName: string;
  signal: AbortSignal;
}

export interface Scheduled {
  stream: GenerationStream;
  /** The base's engine (its tokenizer names tokens for logprobs). */
  engine: Engine;
}

export interface BaseStats {
  base: string;
  state: 'idle' | 'loading' | 'ready';
  /** Sequences in the running batch now. */
  running: number;
  /** Requests waiting for a slot, KV room, the engine or their adapter to load. */
  waiting: number;
  /** engine.step calls, tokens through them (prefill + decode), tokens generated. */
  steps: number;
  tokens: number;
  generatedTokens: number;
  /** Most sequences, and most distinct adapters, seen in one step. */
  maxSequencesInStep: number;
  maxAdaptersInStep: number;
  /** Steps that carried sequences of two or more different adapters (OpenLoRA's point). */
  mixedAdapterSteps: number;
  requests: { total: number; stop: number; length: number; abort: number; failed: number; rejected: number };
  adapters: AdapterCacheStats | null;
  kv: { blocks: number; free: number; blockSize: number } | null;
}

interface Loaded {
  engine: Engine;
  gen: BatchGenerator;
  adapters: AdapterCache;
  maxRunning: number;
}

export class BaseScheduler {
  private loading: Promise<Loaded> | null = null;
  private loaded: Loaded | null = null;
  private pending = 0;
  private closed = false;
  private readonly live = new Set<GenerationStream>();
  private readonly counters = { steps: 0, tokens: 0, generatedTokens: 0, maxSequencesInStep: 0, maxAdaptersInStep: 0, mixedAdapterSteps: 0 };
  private readonly requests = { total: 0, stop: 0, length: 0, abort: 0, failed: 0, rejected: 0 };

  constructor(readonly name: string, readonly path: string, private readonly cfg: ServingConfig) {}

  async submit(req: ScheduleRequest): Promise<Scheduled> {
    if (this.closed) throw stopping();
    const maxRunning = this.loaded?.maxRunning ?? this.cfg.maxRunning ?? 64;
    const inSystem = this.pending + (this.loaded ? this.loaded.gen.runningCount + this.loaded.gen.waitingCount : 0);
    if (inSystem >= maxRunning + this.cfg.maxQueued) {
      this.requests.rejected++;
      throw new OpenLedgerError(`model ${this.name} is at capacity: ${inSystem} requests are running or queued`, {
        type: 'rate_limit_error', code: 'server_overloaded', param: 'model',
        hint: 'retry in a moment (with backoff); the node operator can raise the serving maxRunning / maxQueued bounds',
        details: { running: this.loaded?.gen.runningCount ?? 0, queued: inSystem - (this.loaded?.gen.runningCount ?? 0) },
      });
    }
    this.pending++;
    let lease: AdapterLease | null = null;
    try {
      const l = await this.load();
      if (this.closed) throw stopping();
      lease = req.adapterPath ? await l.adapters.acquire(req.adapterPath).catch((e) => { throw unloadable(`the adapter of ${req.modelName}`, e); }) : null;
      const stream = l.gen.submit({ ...req.generate, adapter: lease?.adapter ?? null, signal: req.signal });
      this.requests.total++;
      this.live.add(stream);
      const held = lease;
      lease = null;
      stream.result.then(
        (r) => { this.requests[r.finishReason]++; this.counters.generatedTokens += r.completionTokens; },
        () => { this.requests.failed++; },
      ).finally(() => { held?.release(); this.live.delete(stream); });
      return { stream, engine: l.engine };
    } finally {
      lease?.release();
      this.pending--;
    }
  }

  stats(): BaseStats {
    const l = this.loaded;
    const es = l?.engine.stats();
    return {
      base: this.name, state: l ? 'ready' : this.loading ? 'loading' : 'idle',
      running: l?.gen.runningCount ?? 0, waiting: this.pending + (l?.gen.waitingCount ?? 0),
      ...this.counters, requests: { ...this.requests },
      adapters: l?.adapters.stats() ?? null,
      kv: es ? { blocks: es.kvBlocks, free: es.kvBlocksFree, blockSize: es.kvBlockSize } : null,
    };
  }

  /** Cancel what runs, wait for the loop to let go of its sequences, free the engine. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.live) s.cancel();
    await Promise.allSettled([...this.live].map((s) => s.result));
    const l = await this.loading?.catch(() => null);
    l?.engine.close();
    this.loaded = null;
  }

  private load(): Promise<Loaded> {
    this.loading ??= (async () => {
      const model = await loadModel(this.path);
      const engine = await createEngine(model, {
        ...(this.cfg.kvTokens ? { kvTokens: this.cfg.kvTokens } : {}),
        ...(this.cfg.maxBatchTokens ? { maxBatchTokens: this.cfg.maxBatchTokens } : {}),
      });
      const maxRunning = Math.min(this.cfg.maxRunning ?? 64, engine.maxBatchTokens);
      const gen = new BatchGenerator(engine, { maxRunning, onStep: (batch) => this.onStep(batch) });
      const loaded: Loaded = { engine, gen, adapters: new AdapterCache(engine, this.cfg.maxAdapters), maxRunning };
      if (this.closed) engine.close();
      else this.loaded = loaded;
      return loaded;
    })().catch((e) => {
      this.loading = null; // a failed load (bad file) is retried by the next request
      throw unloadable(`base model ${this.name}`, e);
    });
    return this.loading;
  }

  private onStep(batch: readonly StepEntry[]): void {
    const c = this.counters;
    c.steps++;
    const adapters = new Set<number>();
    for (const e of batch) {
      c.tokens += e.tokens.length;
      if (e.adapter) adapters.add(e.adapter.id);
    }
    c.maxSequencesInStep = Math.max(c.maxSequencesInStep, batch.length);
    c.maxAdaptersInStep = Math.max(c.maxAdaptersInStep, adapters.size);
    if (adapters.size >= 2) c.mixedAdapterSteps++;
  }
}

/** A model or adapter file the node cannot load: the operator's problem, not the caller's input (422, no server paths in the message). */
function unloadable(what: string, e: unknown): OpenLedgerError {
  if (e instanceof OpenLedgerError && e.code === 'adapter_cache_full') return e;
  const cause = e instanceof OpenLedgerError ? e : null;
  return modelError(`${what} cannot be loaded on this node${cause?.code ? ` (${cause.code})` : ''}`, {
    param: 'model', code: 'model_load_failed', cause: e,
    hint: 'the node operator should check that its files still exist and fit the base model (`openledger models list`, `openledger models add`)',
    details: { reason: (e as Error)?.message },
  });
}

/** What a request gets while the node stops (the scheduler's and the server's one error). */
export const stopping = () => new OpenLedgerError('the node is stopping', { type: 'rate_limit_error', code: 'server_stopping', hint: 'retry when the node is back' });
