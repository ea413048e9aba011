/**
 * One base model's serving loop, seen from the main thread. The engine, its continuous-batching
 * BatchGenerator and the adapter cache run on the base's engine thread (engine-worker.ts); here
 * are the admission bound, the per-caller fair queue and the counters.
 *
 *   submit ─▶ bound check (429) ─▶ prepare on the engine thread: load, tokenize, check (400/422), lease adapter (429)
 *          ─▶ fair queue: one FIFO per caller, callers served round-robin
 *          ─▶ start on the engine thread when fewer than maxRunning run there
 *                 every step: decode rows of all running sequences + prefill chunks
 *                 (each row with its own adapter or none: one batched forward, LoRA per segment)
 *          ◀─ chunks, result (GenerationStream)
 *
 * Requests for different fine-tuned models over the same base share the thread's loop, so their
 * sequences sit in the same `engine.step`. Fairness: a caller with 50 queued requests and one
 * with 1 alternate for the next free slot, so one caller cannot starve the others.
 */
import type { GenerateChunk, GenerateResult, GenerationStream } from '../engine/index.ts';
import { Channel } from '../util/channel.ts';
import { OpenLedgerError } from '../util/errors.ts';
import type { AdapterCacheStats } from './adapter-cache.ts';
import type { ServingConfig } from './config.ts';
import type { PrepareRequest, WorkerStats } from './engine-protocol.ts';
import { EngineThread } from './engine-thread.ts';
import { BOUNDS, histogram, mergeHistograms, observe, type Histogram } from './metrics.ts';

export interface ScheduleRequest extends Omit<PrepareRequest, 'defaultMaxTokens'> {
  /** Who asked: the fair queue's key (null = anonymous, one shared queue). */
  caller: string | null;
  signal: AbortSignal;
}

/** Token texts for logprobs (the tokenizer lives on the engine thread; each chunk brings its texts). */
export interface TokenTexts {
  text(id: number): string;
}

export interface Scheduled {
  stream: GenerationStream;
  tokens: TokenTexts;
}

export interface BaseStats {
  base: string;
  state: 'idle' | 'loading' | 'ready';
  /** Sequences in the running batch now. */
  running: number;
  /** Requests waiting: being prepared, in the fair queue, or for KV room on the engine thread. */
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
  /** Callers with requests in the fair queue now. */
  queuedCallers: number;
  adapters: AdapterCacheStats | null;
  kv: { blocks: number; free: number; blockSize: number } | null;
  /** Bytes per tier on the engine thread (null before the engine loaded). */
  memory: WorkerStats['memory'];
  /** Histograms for GET /metrics: sequences and distinct adapters per step (engine thread), TTFT and TPOT in seconds as this thread sees them. */
  batchSize: Histogram;
  adaptersPerStep: Histogram;
  ttft: Histogram;
  tpot: Histogram;
}

interface Queued {
  id: number;
  caller: string;
  begin: () => void;
  drop: () => void;
}

export class BaseScheduler {
  private thread: EngineThread | null = null;
  private preparing = 0;
  /** Started on the engine thread and not yet ended. */
  private inflight = 0;
  private maxRunning: number;
  private closed = false;
  /** One FIFO per caller; `order` is the round-robin ring of callers with queued requests. */
  private readonly queues = new Map<string, Queued[]>();
  private order: string[] = [];
  private readonly live = new Set<{ cancel(): void; result: Promise<GenerateResult> }>();
  private readonly requests = { total: 0, stop: 0, length: 0, abort: 0, failed: 0, rejected: 0 };
  private base = { steps: 0, tokens: 0, generatedTokens: 0, mixedAdapterSteps: 0, batchSize: histogram(BOUNDS.batch), adaptersPerStep: histogram(BOUNDS.adapters) };
  /** From submit to the first generated token; per output token after the first. */
  private readonly ttft = histogram(BOUNDS.ttft);
  private readonly tpot = histogram(BOUNDS.tpot);

  constructor(readonly name: string, readonly path: string, private readonly cfg: ServingConfig) {
    this.maxRunning = cfg.maxRunning ?? 64;
  }

  private engine(): EngineThread {
    if (!this.thread || this.thread.dead) {
      // Counters survive a replaced thread.
      if (this.thread?.latest) {
        const l = this.thread.latest;
        this.base = {
          steps: this.base.steps + l.steps, tokens: this.base.tokens + l.tokens, generatedTokens: this.base.generatedTokens + l.generatedTokens, mixedAdapterSteps: this.base.mixedAdapterSteps + l.mixedAdapterSteps,
          batchSize: mergeHistograms(this.base.batchSize, l.batchSize), adaptersPerStep: mergeHistograms(this.base.adaptersPerStep, l.adaptersPerStep),
        };
      }
      this.thread = new EngineThread({
        name: this.name, path: this.path, maxAdapters: this.cfg.maxAdapters, nice: this.cfg.engineNice,
        adapterBudgetBytes: this.cfg.adapterMemoryMb ? Math.floor(this.cfg.adapterMemoryMb * 1048576) : null,
        ...(this.cfg.kvTokens ? { kvTokens: this.cfg.kvTokens } : {}),
        ...(this.cfg.maxBatchTokens ? { maxBatchTokens: this.cfg.maxBatchTokens } : {}),
        ...(this.cfg.maxRunning ? { maxRunning: this.cfg.maxRunning } : {}),
      });
    }
    return this.thread;
  }

  private get queued(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  async submit(req: ScheduleRequest): Promise<Scheduled> {
    if (this.closed) throw stopping();
    const w = this.thread?.latest;
    const inSystem = this.preparing + this.queued + this.inflight;
    if (inSystem >= this.maxRunning + this.cfg.maxQueued) {
      this.requests.rejected++;
      throw new OpenLedgerError(`model ${this.name} is at capacity: ${inSystem} requests are running or queued`, {
        type: 'rate_limit_error', code: 'server_overloaded', param: 'model',
        hint: 'retry in a moment (with backoff); the node operator can raise the serving maxRunning / maxQueued bounds',
        details: { running: w?.running ?? 0, queued: inSystem - (w?.running ?? 0), retryAfterSeconds: 1 },
      });
    }
    if (req.signal.aborted) throw cancelled();
    const tSubmit = performance.now();
    const thread = this.engine();
    this.preparing++;
    let id: number, promptTokens: number;
    try {
      const { signal: _s, caller: _c, ...prep } = req;
      ({ id, promptTokens, maxRunning: this.maxRunning } = await thread.prepare({ ...prep, defaultMaxTokens: this.cfg.defaultMaxTokens }));
    } finally {
      this.preparing--;
    }
    if (this.closed) {
      thread.cancel(id);
      throw stopping();
    }
    this.requests.total++;
    return { stream: this.stream(thread, id, promptTokens, req, tSubmit), tokens: this.texts };
  }

  /** Token texts seen in logprobs so far (bounded: cleared when it grows past 65k entries). */
  private readonly textMap = new Map<number, string>();
  private readonly texts: TokenTexts = { text: (id) => this.textMap.get(id) ?? '' };

  private stream(thread: EngineThread, id: number, promptTokens: number, req: ScheduleRequest, tSubmit: number): GenerationStream {
    const chan = new Channel<GenerateChunk>();
    let resolve!: (r: GenerateResult) => void, reject!: (e: unknown) => void;
    const result = new Promise<GenerateResult>((res, rej) => { resolve = res; reject = rej; });
    result.catch(() => {});
    let state: 'queued' | 'running' | 'ended' = 'queued';
    const t0 = performance.now();
    let tFirst: number | null = null;
    const abortResult = (): GenerateResult => ({
      text: '', tokens: [], finishReason: 'abort', stopSequence: null, promptTokens, completionTokens: 0,
      timings: { admittedMs: 0, firstTokenMs: null, totalMs: performance.now() - t0 },
    });
    const end = () => {
      req.signal.removeEventListener('abort', cancel);
      this.live.delete(handle);
    };
    const cancel = () => {
      if (state === 'queued') {
        state = 'ended';
        this.unqueue(entry);
        thread.cancel(id);
        this.requests.abort++;
        chan.close();
        end();
        resolve(abortResult());
      } else if (state === 'running') thread.cancel(id);
    };
    const entry: Queued = {
      id, caller: req.caller ?? '', drop: cancel,
      begin: () => {
        if (state !== 'queued') return;
        state = 'running';
        this.inflight++;
        thread.start(id, {
          chunk: (c) => {
            if (c.texts) {
              if (this.textMap.size > 65536) this.textMap.clear();
              for (const [t, s] of c.texts) this.textMap.set(t, s);
            }
            if (tFirst === null && c.tokens.length) {
              tFirst = performance.now();
              observe(this.ttft, (tFirst - tSubmit) / 1000);
            }
            chan.push({ text: c.text, tokens: c.tokens, ...(c.logprobs ? { logprobs: c.logprobs } : {}) });
          },
          done: (r) => {
            state = 'ended';
            this.inflight--;
            this.requests[r.finishReason]++;
            if (tFirst !== null && r.completionTokens > 1) observe(this.tpot, (performance.now() - tFirst) / 1000 / (r.completionTokens - 1));
            chan.close();
            end();
            resolve(r);
            this.dispatch();
          },
          failed: (e) => {
            state = 'ended';
            this.inflight--;
            this.requests.failed++;
            chan.close(e);
            end();
            reject(e);
            this.dispatch();
          },
        });
      },
    };
    const handle = { cancel, result };
    this.live.add(handle);
    req.signal.addEventListener('abort', cancel, { once: true });
    this.enqueue(entry);
    if (req.signal.aborted) cancel(); // the caller left while the request was being prepared
    else this.dispatch();
    return { result, promptTokens, cancel, [Symbol.asyncIterator]: () => chan.iterator(cancel) };
  }

  private enqueue(e: Queued): void {
    let q = this.queues.get(e.caller);
    if (!q) {
      this.queues.set(e.caller, (q = []));
      this.order.push(e.caller);
    }
    q.push(e);
  }

  private unqueue(e: Queued): void {
    const q = this.queues.get(e.caller);
    if (!q) return;
    const i = q.indexOf(e);
    if (i >= 0) q.splice(i, 1);
    if (!q.length) {
      this.queues.delete(e.caller);
      this.order = this.order.filter((c) => c !== e.caller);
    }
  }

  /** Start queued requests while slots are free: the next caller in the ring gives its oldest. */
  private dispatch(): void {
    while (this.inflight < this.maxRunning && this.order.length) {
      const caller = this.order.shift()!;
      const q = this.queues.get(caller)!;
      const e = q.shift()!;
      if (q.length) this.order.push(caller);
      else this.queues.delete(caller);
      e.begin();
    }
  }

  async embed(inputs: Array<string | number[]>, adapterPath: string | null, modelName: string, adapterLabel?: string) {
    if (this.closed) throw stopping();
    return this.engine().embed(inputs, adapterPath, modelName, adapterLabel);
  }

  stats(): BaseStats {
    const w = this.thread?.latest ?? null;
    return {
      base: this.name, state: w?.state ?? 'idle',
      // Counted here, not from the thread's last report, so a request's end and the counts agree at once.
      running: Math.max(0, this.inflight - (w?.waiting ?? 0)), waiting: this.preparing + this.queued + Math.min(w?.waiting ?? 0, this.inflight),
      steps: this.base.steps + (w?.steps ?? 0), tokens: this.base.tokens + (w?.tokens ?? 0),
      generatedTokens: this.base.generatedTokens + (w?.generatedTokens ?? 0),
      maxSequencesInStep: w?.maxSequencesInStep ?? 0, maxAdaptersInStep: w?.maxAdaptersInStep ?? 0,
      mixedAdapterSteps: this.base.mixedAdapterSteps + (w?.mixedAdapterSteps ?? 0),
      requests: { ...this.requests }, queuedCallers: this.order.length,
      adapters: w?.adapters ?? null, kv: w?.kv ?? null, memory: w?.memory ?? null,
      batchSize: w ? mergeHistograms(this.base.batchSize, w.batchSize) : this.base.batchSize,
      adaptersPerStep: w ? mergeHistograms(this.base.adaptersPerStep, w.adaptersPerStep) : this.base.adaptersPerStep,
      ttft: this.ttft, tpot: this.tpot,
    };
  }

  /** Cancel what runs and waits, let the engine thread finish them, end the thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const h of [...this.live]) h.cancel();
    await Promise.race([Promise.allSettled([...this.live].map((h) => h.result)), new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.thread?.close();
  }
}

/** The caller left before the request was queued (nobody reads the answer; never run). */
const cancelled = () => new OpenLedgerError('the request was cancelled by its caller', { code: 'request_cancelled', hint: 'nothing ran; send it again' });

/** What a request gets while the node stops (the scheduler's and the server's one error): 503 with its own type. */
export const stopping = () => new OpenLedgerError('the node is stopping', { type: 'service_unavailable', code: 'server_stopping', hint: 'retry when the node is back', details: { retryAfterSeconds: 5 } });
