/**
 * The Engine: a loaded model plus its KV cache, kernels, forward runner and adapters, driven one
 * batched step at a time. `step` is the API serving (OpenLoRA) and generation use:
 *
 *   engine.step([{ seq, tokens, adapter, logits: 'last' | 'all' | 'none' }, …]) → logits per entry
 *
 * Entries are different sequences at different positions (a prefill chunk of one, the next
 * decode token of another, …). The step sorts rows by adapter so each adapter's rows form one
 * segment, packs them into forward calls of at most `maxBatchTokens` rows (a long prompt spans
 * several calls), runs every linear once per call over all rows, and returns fresh logit arrays.
 * Nothing here is asynchronous or shared across threads: one owner drives the engine.
 */
import type { Heap } from './heap.ts';
import type { Kernels } from './kernels/types.ts';
import type { LoadedModel } from './model/load.ts';
import type { ModelConfig } from './model/config.ts';
import type { Tokenizer } from './tokenizer/types.ts';
import type { LoraAdapter, LoraPart } from './lora/adapter.ts';
import type { LoraSegment } from './model/blocks/linear.ts';
import { KvCache, type SeqKv } from './kv-cache.ts';
import { ModelRunner, type SeqSegment } from './model/forward.ts';
import { selectKernels } from './kernels/select.ts';
import { referenceKernels } from './kernels/reference.ts';
import { loadAdapterFile } from './lora/load.ts';
import { createAdapter, type LoraFactors } from './lora/memory.ts';
import type { AdapterLoadOptions } from './lora/peft.ts';
import { configError, invalid, OpenLedgerError } from '../util/errors.ts';

export interface EngineOptions {
  /** Kernel set (default: selectKernels(heap), the WASM set with reference fallback). Engine.close() closes it. */
  kernels?: Kernels;
  /** Rows per forward call: prefill chunk + decode rows (default 256). */
  maxBatchTokens?: number;
  /** KV cache budget in tokens over all sequences (default min(4·context, 8192)). */
  kvTokens?: number;
  /** Positions per KV block (default 16). */
  blockSize?: number;
  /** Longest sequence (default and cap: the model's context length). */
  maxContext?: number;
  /** Rows of logits per output matmul (default 64: one pass over the head for up to 64 decoding streams); the (rows, V) f32 scratch is its cost. */
  logitRows?: number;
}

export interface SequenceHandle {
  readonly id: number;
  /** Tokens whose K/V are cached (the next token goes at this position). */
  readonly length: number;
}

export interface StepEntry {
  seq: SequenceHandle;
  /** Tokens to append (≥ 1). */
  tokens: readonly number[];
  adapter?: LoraAdapter | null;
  /** 'last': logits (V) of the last token; 'all': (T, V); 'none': KV only. */
  logits: 'last' | 'all' | 'none';
  /** Also return the final-norm hidden states (T, C) of all tokens (embeddings). */
  hidden?: boolean;
  /** Write the logits here instead of a fresh array (length V for 'last', T·V for 'all'). */
  out?: Float32Array;
}

export interface StepResult {
  logits: Float32Array | null;
  hidden: Float32Array | null;
}

class Sequence implements SequenceHandle {
  freed = false;
  constructor(readonly id: number, readonly kv: SeqKv) {}
  get length(): number {
    return this.kv.length;
  }
}

export async function createEngine(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
  // The fast set (WASM SIMD on worker threads) with per-op and per-call reference fallback.
  const kernels = opts.kernels ?? selectKernels(model.heap);
  return new Engine(model, kernels, opts);
}

export class Engine {
  readonly model: LoadedModel;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly kernels: Kernels;
  readonly kv: KvCache;
  readonly runner: ModelRunner;
  readonly maxBatchTokens: number;
  readonly maxContext: number;
  private readonly logitRows: number;
  private readonly logitBuf: Float32Array;
  private nextSeq = 1;
  private nextAdapter = 1;
  private readonly adapters = new Set<LoraAdapter>();

  constructor(model: LoadedModel, kernels: Kernels, opts: EngineOptions = {}) {
    this.model = model;
    this.config = model.config;
    this.tokenizer = model.tokenizer;
    this.kernels = kernels;
    const cfg = model.config;
    this.maxContext = Math.min(opts.maxContext ?? cfg.contextLength, cfg.contextLength);
    for (const k of ['maxBatchTokens', 'kvTokens', 'blockSize', 'maxContext', 'logitRows'] as const) {
      const v = opts[k];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw configError(`engine option ${k} must be an integer ≥ 1, got ${v}`, { param: k });
    }
    this.maxBatchTokens = opts.maxBatchTokens ?? 256;
    const kvTokens = opts.kvTokens ?? Math.min(4 * this.maxContext, 8192);
    this.kv = new KvCache(model.heap, {
      nLayers: cfg.nLayers, kvDim: cfg.nKvHeads * cfg.headDim, blockSize: opts.blockSize ?? 16,
      maxTokens: kvTokens, maxSeqLen: this.maxContext,
    });
    this.runner = new ModelRunner(model, { kernels, kv: this.kv, maxTokens: this.maxBatchTokens });
    this.logitRows = Math.max(1, Math.min(opts.logitRows ?? 64, this.maxBatchTokens));
    this.logitBuf = model.heap.f32(this.logitRows * cfg.vocabSize);
  }

  createSequence(): SequenceHandle {
    return new Sequence(this.nextSeq++, this.kv.newSequence());
  }

  /** A new sequence sharing `seq`'s cached prefix (blocks are shared, copied on write). */
  forkSequence(seq: SequenceHandle): SequenceHandle {
    return new Sequence(this.nextSeq++, this.kv.fork(this.own(seq).kv));
  }

  /** Forget positions ≥ length. */
  truncateSequence(seq: SequenceHandle, length: number): void {
    this.kv.truncate(this.own(seq).kv, length);
  }

  freeSequence(seq: SequenceHandle): void {
    const s = this.own(seq);
    this.kv.free(s.kv);
    s.freed = true;
  }

  /**
   * Load a LoRA adapter (PEFT folder or GGUF LoRA file), checked strictly against this base model;
   * its factors go on the heap. Use the handle in step entries / generate requests.
   */
  async loadAdapter(path: string, opts: AdapterLoadOptions = {}): Promise<LoraAdapter> {
    return this.addAdapter(loadAdapterFile(path, this.model, opts));
  }

  /** An adapter from in-memory f32 factors keyed by canonical weight name (training, tests). */
  createAdapter(factors: Record<string, LoraFactors>, opts: { name?: string; scale?: number } = {}): LoraAdapter {
    return this.addAdapter(createAdapter(this.model, factors, opts));
  }

  /** Register an adapter built by lora/ (PEFT, GGUF or in memory); gives it an id. */
  addAdapter(a: Omit<LoraAdapter, 'id'>): LoraAdapter {
    const adapter: LoraAdapter = { ...a, id: this.nextAdapter++ };
    this.runner.ensureLoraRank(adapter.rank);
    this.adapters.add(adapter);
    return adapter;
  }

  /**
   * A merged adapter: the weighted sum of the deltas of `parts` (each loaded in this engine, none
   * itself merged), applied at request time (model/blocks/linear.ts) — no factors are copied, so
   * it costs no heap; its parts must stay loaded while it is used. Free it with unloadAdapter.
   */
  mixAdapters(parts: readonly LoraPart[], name = parts.map((p) => `${p.adapter.name}*${p.weight}`).join('+')): LoraAdapter {
    if (!parts.length) throw invalid('a merged adapter needs at least one part', { code: 'invalid_merge' });
    for (const p of parts) {
      if (!this.adapters.has(p.adapter)) throw invalid(`adapter ${p.adapter.name} is not loaded in this engine`, { code: 'adapter_not_loaded' });
      if (p.adapter.parts) throw invalid(`adapter ${p.adapter.name} is itself merged; merge its parts instead`, { code: 'invalid_merge' });
      if (!Number.isFinite(p.weight) || p.weight < 0) throw invalid(`merge weight ${p.weight} of ${p.adapter.name} must be a finite number ≥ 0`, { code: 'invalid_merge_weight' });
    }
    return this.addAdapter({
      name, source: { format: 'memory', path: null }, rank: Math.max(...parts.map((p) => p.adapter.rank)), alpha: 0,
      modules: new Map(), bytes: 0, heapViews: [], parts: parts.map((p) => ({ adapter: p.adapter, weight: p.weight })),
    });
  }

  /** Free an adapter's heap memory; it must not be used afterwards. */
  unloadAdapter(a: LoraAdapter): void {
    if (!this.adapters.delete(a)) return;
    for (const v of a.heapViews) this.model.heap.free(v);
  }

  get loadedAdapters(): LoraAdapter[] {
    return [...this.adapters];
  }

  /** Capacity numbers for schedulers and metrics. */
  stats(): { kvBlocks: number; kvBlocksFree: number; kvBlockSize: number; kvBytesPerToken: number; heapBytes: number; heapPeakBytes: number; adapters: number; adapterBytes: number } {
    let adapterBytes = 0;
    for (const a of this.adapters) adapterBytes += a.bytes;
    return {
      kvBlocks: this.kv.numBlocks, kvBlocksFree: this.kv.freeBlocks, kvBlockSize: this.kv.blockSize, kvBytesPerToken: this.kv.bytesPerToken,
      heapBytes: this.model.heap.allocatedBytes, heapPeakBytes: this.model.heap.peakBytes, adapters: this.adapters.size, adapterBytes,
    };
  }

  step(batch: readonly StepEntry[]): StepResult[] {
    const cfg = this.config, V = cfg.vocabSize, C = cfg.dModel;
    const seen = new Set<number>();
    let need = 0;
    for (const e of batch) {
      const s = this.own(e.seq);
      if (seen.has(s.id)) throw invalid(`sequence ${s.id} appears twice in one step`, { code: 'duplicate_sequence' });
      seen.add(s.id);
      if (e.tokens.length === 0) throw invalid('a step entry needs at least one token', { param: 'tokens' });
      for (const t of e.tokens) {
        if (!Number.isInteger(t) || t < 0 || t >= V) throw invalid(`token id ${t} is outside the vocabulary (${V})`, { code: 'invalid_token', param: 'tokens' });
      }
      const len = s.length + e.tokens.length;
      if (len > this.maxContext) {
        throw new OpenLedgerError(`${len} tokens exceed the context length of ${this.maxContext}`, {
          code: 'context_length_exceeded', param: 'prompt',
          hint: 'shorten the prompt or request fewer max_tokens', details: { tokens: len, context: this.maxContext },
        });
      }
      if (e.adapter && !this.adapters.has(e.adapter)) throw invalid(`adapter ${e.adapter.name} is not loaded in this engine`, { code: 'adapter_not_loaded' });
      for (const p of e.adapter?.parts ?? []) {
        if (!this.adapters.has(p.adapter)) throw invalid(`adapter ${p.adapter.name} (part of ${e.adapter!.name}) is not loaded in this engine`, { code: 'adapter_not_loaded' });
      }
      if (e.out && e.logits !== 'none' && e.out.length < (e.logits === 'all' ? e.tokens.length : 1) * V) throw invalid('step entry `out` is shorter than its logits', { param: 'out' });
      need += this.kv.blocksNeeded(s.kv, len);
    }
    if (need > this.kv.freeBlocks) {
      throw new OpenLedgerError(`KV cache full: this step needs ${need} blocks, ${this.kv.freeBlocks} are free`, {
        type: 'rate_limit_error', code: 'kv_cache_full',
        hint: 'retry when running sequences finish, or create the engine with a larger kvTokens budget',
      });
    }
    for (const e of batch) {
      const s = e.seq as Sequence;
      this.kv.reserve(s.kv, s.length + e.tokens.length);
    }

    const results: StepResult[] = batch.map((e) => ({
      logits: e.logits === 'none' ? null : e.out ? e.out.subarray(0, (e.logits === 'all' ? e.tokens.length : 1) * V) : new Float32Array((e.logits === 'all' ? e.tokens.length : 1) * V),
      hidden: e.hidden ? new Float32Array(e.tokens.length * C) : null,
    }));
    // Rows grouped by adapter (stable), so each adapter is one segment per forward call.
    const order = batch.map((_, i) => i).sort((a, b) => (batch[a].adapter?.id ?? 0) - (batch[b].adapter?.id ?? 0) || a - b);
    const start = batch.map((e) => e.seq.length);

    const M = this.maxBatchTokens;
    const tokens = new Int32Array(M);
    let rows = 0;
    let seqs: SeqSegment[] = [];
    let lora: LoraSegment[] = [];
    let outRows: number[] = [];
    let outMap: Array<{ entry: number; t: number; logits: boolean; hidden: boolean }> = [];
    const flush = () => {
      if (rows === 0) return;
      const hid = this.runner.forward({ M: rows, tokens, seqs, lora, outRows });
      this.collect(hid, outMap, batch, results);
      rows = 0; seqs = []; lora = []; outRows = []; outMap = [];
    };
    for (const i of order) {
      const e = batch[i];
      const s = e.seq as Sequence;
      const T = e.tokens.length;
      let t = 0;
      while (t < T) {
        if (rows === M) flush();
        const n = Math.min(T - t, M - rows);
        for (let j = 0; j < n; j++) tokens[rows + j] = e.tokens[t + j];
        seqs.push({ rowStart: rows, rows: n, pos0: start[i] + t, kv: s.kv });
        if (e.adapter) {
          const last = lora[lora.length - 1];
          if (last && last.adapter === e.adapter && last.rowStart + last.rows === rows) last.rows += n;
          else lora.push({ rowStart: rows, rows: n, adapter: e.adapter });
        }
        for (let j = 0; j < n; j++) {
          const tt = t + j;
          const wantL = e.logits === 'all' || (e.logits === 'last' && tt === T - 1);
          const wantH = !!e.hidden;
          if (wantL || wantH) {
            outRows.push(rows + j);
            outMap.push({ entry: i, t: tt, logits: wantL, hidden: wantH });
          }
        }
        rows += n;
        t += n;
      }
    }
    flush();
    return results;
  }

  /** Copy hidden rows out and project the rows that want logits, logitRows at a time. */
  private collect(hid: Float32Array, outMap: Array<{ entry: number; t: number; logits: boolean; hidden: boolean }>, batch: readonly StepEntry[], results: StepResult[]): void {
    const V = this.config.vocabSize, C = this.config.dModel;
    for (let i = 0; i < outMap.length; i++) {
      const m = outMap[i];
      if (m.hidden) results[m.entry].hidden!.set(hid.subarray(i * C, (i + 1) * C), m.t * C);
    }
    // Compact the rows that need logits to the front of a chunk, then one matmul per chunk.
    const want = outMap.map((m, i) => (m.logits ? i : -1)).filter((i) => i >= 0);
    for (let c = 0; c < want.length; c += this.logitRows) {
      const chunk = want.slice(c, c + this.logitRows);
      const R = chunk.length;
      // hid rows are moved down in place: chunk indices only increase, and row k ≤ chunk[k].
      for (let k = 0; k < R; k++) if (chunk[k] !== k) hid.copyWithin(k * C, chunk[k] * C, (chunk[k] + 1) * C);
      const out = this.logitBuf.subarray(0, R * V);
      this.runner.logits(out, hid.subarray(0, R * C), R);
      for (let k = 0; k < R; k++) {
        const m = outMap[chunk[k]];
        const e = batch[m.entry];
        const dst = results[m.entry].logits!;
        dst.set(out.subarray(k * V, (k + 1) * V), e.logits === 'all' ? m.t * V : 0);
      }
    }
  }

  /**
   * Release what the engine holds: adapters, KV pools and activations go back to the heap (the
   * model's weights stay: another engine may use them), and the kernels' worker threads stop
   * (they are unref'd, so this only frees them early). The engine must not be used afterwards.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of [...this.adapters]) this.unloadAdapter(a);
    this.runner.dispose();
    this.kv.dispose(this.model.heap);
    this.model.heap.free(this.logitBuf);
    if (this.kernels !== referenceKernels) (this.kernels as Kernels & { close?: () => void }).close?.();
  }
  private closed = false;

  private own(seq: SequenceHandle): Sequence {
    if (!(seq instanceof Sequence) || seq.freed) throw invalid(`sequence ${seq.id} is not live in this engine`, { code: 'sequence_freed' });
    return seq;
  }
}
