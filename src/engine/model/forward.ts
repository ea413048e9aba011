/**
 * The forward pass: one transformer, configured by ModelConfig, over a batch of rows that belong
 * to several sequences at different positions (continuous batching). Every linear runs once over
 * all M rows (LoRA per adapter segment, see blocks/linear.ts); attention runs per sequence over
 * its paged KV cache. All activations are preallocated on the heap for `maxTokens` rows.
 *
 * Per layer (shapes for M rows; C model, H/Hkv heads, D head dim, F ffn):
 *
 *   h = norm(x)                                   (M, C)
 *   q, k, v = h·Wqᵀ(+b), h·Wkᵀ(+b), h·Wvᵀ(+b)      (M, H·D), (M, Hkv·D) ×2
 *   q, k = rmsnorm per head (qkNorm) ; rope(q, k) at each row's position
 *   cache[k, v] at each row's position ; a = attention(q, cache) per sequence   (M, H·D)
 *   o = a·Woᵀ(+b) ; o = postNorm(o) (gemma2/3)       (M, C)
 *   sequential:  x += o ; f = ffn(norm(x)) ; x += postNorm(f)
 *   parallel:    x += o + ffn(h or norm2(x))        (falcon)
 *   ffn(z) = down(act(gate(z)) ⊙ up(z)) gated, down(act(up(z))) otherwise
 *
 * then the rows asked for are gathered, normed (output_norm) and returned as hidden states;
 * `logits` projects them through output.weight (tied: token_embd) and soft-caps.
 *
 * Training (issue 4) will sit beside this: each step above is one Kernels op with the shapes
 * in its comment, so a backward pass can walk the same list in reverse over saved inputs. An
 * optional `ForwardTape` receives those inputs as they are produced (views into scratch that the
 * next layer overwrites: a tape copies what it keeps); without a tape nothing is recorded.
 */
import type { Heap } from '../heap.ts';
import type { AttentionParams, Kernels } from '../kernels/types.ts';
import type { KvCache, SeqKv } from '../kv-cache.ts';
import type { LoadedModel } from './load.ts';
import type { ModelConfig } from './config.ts';
import { resolveWeights, type ModelWeights, type Norm } from './blocks/weights.ts';
import { linear, type LoraSegment } from './blocks/linear.ts';
import { type RopeTable } from './blocks/rope.ts';
import { layerAttention } from './blocks/attention.ts';
import { modelError, invalid } from '../../util/errors.ts';

/** One sequence's contiguous run of rows in a batch. */
export interface SeqSegment {
  rowStart: number;
  rows: number;
  /** Position of the first row; rows take pos0, pos0+1, … */
  pos0: number;
  kv: SeqKv;
}

export interface ForwardBatch {
  M: number;
  /** (M) token ids. */
  tokens: ArrayLike<number>;
  /** Sequences in row order; together they cover rows [0, M). */
  seqs: readonly SeqSegment[];
  /** Adapter segments (rows with no adapter are in none). */
  lora: readonly LoraSegment[];
  /** Rows whose final hidden state is wanted, in output order. */
  outRows: ArrayLike<number>;
}

/**
 * Receives activations during a forward pass, per layer (−1 = embeddings / final norm):
 *   'x' (M, C) residual stream entering the layer · 'attn_in' (M, C) normed input of attention ·
 *   'q' (M, H·D), 'k' (M, Hkv·D) after qk-norm and rope · 'v' (M, Hkv·D) · 'attn' (M, H·D) attention
 *   output before attn_output · 'ffn_in' (M, C) · 'gate', 'up' (M, F) before the activation ·
 *   'act' (M, F) input of ffn_down · 'final' (R, C) gathered rows after output_norm (layer −1).
 */
export interface ForwardTape {
  record(layer: number, name: string, data: Float32Array, shape: readonly number[]): void;
}

export interface RunnerOptions {
  kernels: Kernels;
  kv: KvCache;
  /** Rows per forward call (prefill chunk + decode rows). */
  maxTokens: number;
  /** Initial LoRA rank the scratch is sized for (grown by ensureLoraRank). */
  maxLoraRank?: number;
}

export class ModelRunner {
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly maxTokens: number;
  readonly kernels: Kernels;
  readonly kv: KvCache;
  private readonly heap: Heap;
  private readonly ropeGlobal: RopeTable | null;
  private readonly ropeLocal: RopeTable | null;
  private readonly attnParams: AttentionParams[];
  // Activations on the heap, T = maxTokens rows: tok, pos (T) · x residual, h normed, h2 (falcon
  // second norm), o attn_output, f ffn output, hid gathered final rows (T, C) · q, att (T, H·D) ·
  // k, v (T, Hkv·D) · g gate/act, u up (T, F) · loraScratch (T, R) for x·Aᵀ.
  private readonly tok: Int32Array;
  private readonly pos: Int32Array;
  private readonly x: Float32Array;
  private readonly h: Float32Array;
  private readonly h2: Float32Array | null;
  private readonly q: Float32Array;
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly att: Float32Array;
  private readonly o: Float32Array;
  private readonly g: Float32Array;
  private readonly u: Float32Array;
  private readonly f: Float32Array;
  private readonly hid: Float32Array;
  private loraScratch: Float32Array;
  private loraRank: number;

  constructor(model: Pick<LoadedModel, 'config' | 'tensors' | 'heap'> & { source?: { path: string } }, opts: RunnerOptions) {
    const cfg = model.config;
    this.config = cfg;
    this.heap = model.heap;
    this.kernels = opts.kernels;
    this.kv = opts.kv;
    this.maxTokens = opts.maxTokens;
    if (!cfg.gatedFfn && cfg.activation === 'silu') {
      throw modelError('ungated SiLU feed-forward is not supported', { code: 'unsupported_architecture' });
    }
    if (cfg.nHeads % cfg.nKvHeads !== 0) {
      throw modelError(`nHeads ${cfg.nHeads} is not a multiple of nKvHeads ${cfg.nKvHeads}`, { code: 'weights_mismatch' });
    }
    this.weights = resolveWeights(cfg, model.tensors, model.heap, model.source?.path);
    ({ params: this.attnParams, ropeGlobal: this.ropeGlobal, ropeLocal: this.ropeLocal } = layerAttention(cfg, this.weights.ropeFreqs));
    const T = opts.maxTokens, C = cfg.dModel, HD = cfg.nHeads * cfg.headDim, KD = cfg.nKvHeads * cfg.headDim, F = cfg.ffnDim;
    const hp = model.heap;
    this.tok = hp.i32(T);
    this.pos = hp.i32(T);
    this.x = hp.f32(T * C);
    this.h = hp.f32(T * C);
    this.h2 = cfg.parallelBlockTwoNorms ? hp.f32(T * C) : null;
    this.q = hp.f32(T * HD);
    this.k = hp.f32(T * KD);
    this.v = hp.f32(T * KD);
    this.att = hp.f32(T * HD);
    this.o = hp.f32(T * C);
    this.g = hp.f32(T * F);
    this.u = hp.f32(T * F);
    this.f = hp.f32(T * C);
    this.hid = hp.f32(T * C);
    this.loraRank = opts.maxLoraRank ?? 16;
    this.loraScratch = hp.f32(T * this.loraRank);
  }

  /** Free the activation buffers (the runner must not be used afterwards). */
  dispose(): void {
    for (const b of [this.tok, this.pos, this.x, this.h, this.h2, this.q, this.k, this.v, this.att, this.o, this.g, this.u, this.f, this.hid, this.loraScratch]) {
      if (b) this.heap.free(b);
    }
  }

  /** Grow the LoRA scratch for adapters of rank r (called when an adapter loads, not per step). */
  ensureLoraRank(r: number): void {
    if (r <= this.loraRank) return;
    this.heap.free(this.loraScratch);
    this.loraRank = r;
    this.loraScratch = this.heap.f32(this.maxTokens * r);
  }

  /** Run the batch; writes K/V into the cache and returns the final hidden states (outRows.length, C), a view valid until the next call. */
  forward(b: ForwardBatch, tape: ForwardTape | null = null): Float32Array {
    const cfg = this.config, K = this.kernels, W = this.weights;
    const M = b.M, C = cfg.dModel, H = cfg.nHeads, Hkv = cfg.nKvHeads, D = cfg.headDim, F = cfg.ffnDim;
    const HD = H * D, KD = Hkv * D, eps = cfg.normEps;
    if (M < 1 || M > this.maxTokens) throw invalid(`forward: ${M} rows, the runner holds 1…${this.maxTokens}`);
    const tok = this.tok.subarray(0, M), pos = this.pos.subarray(0, M);
    for (let i = 0; i < M; i++) tok[i] = b.tokens[i];
    for (const s of b.seqs) for (let t = 0; t < s.rows; t++) pos[s.rowStart + t] = s.pos0 + t;
    for (let i = 0; i < M; i++) {
      if (tok[i] < 0 || tok[i] >= cfg.vocabSize) throw invalid(`token id ${tok[i]} is outside the vocabulary (${cfg.vocabSize})`, { code: 'invalid_token' });
    }
    const x = this.x.subarray(0, M * C), h = this.h.subarray(0, M * C);
    const q = this.q.subarray(0, M * HD), k = this.k.subarray(0, M * KD), v = this.v.subarray(0, M * KD);
    const att = this.att.subarray(0, M * HD), o = this.o.subarray(0, M * C), f = this.f.subarray(0, M * C);
    const lora = b.lora, ls = this.loraScratch;

    // Embeddings.
    K.getRows(x, W.tokEmbd, tok, M);
    if (cfg.embedScale !== null) K.scale(x, cfg.embedScale, M * C);
    if (W.posEmbd) {
      for (let i = 0; i < M; i++) {
        if (pos[i] >= W.posEmbd.rows) throw invalid(`position ${pos[i]} beyond the model's ${W.posEmbd.rows} learned positions`, { code: 'context_length_exceeded' });
      }
      K.getRows(h, W.posEmbd, pos, M);
      K.add(x, x, h, M * C);
    }
    if (W.embdNorm) this.norm(x, x, W.embdNorm, M);

    const bs = this.kv.blockSize;
    for (let il = 0; il < cfg.nLayers; il++) {
      const L = W.layers[il];
      const n = L.names;
      tape?.record(il, 'x', x, [M, C]);
      // Falcon-40B (two norms): attention reads attn_norm_2 (HF ln_attn), the mlp attn_norm (ln_mlp).
      this.norm(h, x, L.attnNorm2 ?? L.attnNorm, M);
      tape?.record(il, 'attn_in', h, [M, C]);
      linear(K, q, h, M, L.q, L.qb, n.q, lora, ls);
      linear(K, k, h, M, L.k, L.kb, n.k, lora, ls);
      linear(K, v, h, M, L.v, L.vb, n.v, lora, ls);
      if (L.qNorm) K.rmsnorm(q, q, L.qNorm, M * H, D, eps);
      if (L.kNorm) K.rmsnorm(k, k, L.kNorm, M * Hkv, D, eps);
      const p = this.attnParams[il];
      const rt = p.slidingWindow !== null ? this.ropeLocal : this.ropeGlobal;
      if (rt) {
        K.rope(q, M, H, D, pos, rt.invFreq, rt.neox, rt.mscale);
        K.rope(k, M, Hkv, D, pos, rt.invFreq, rt.neox, rt.mscale);
      }
      if (tape) { tape.record(il, 'q', q, [M, H, D]); tape.record(il, 'k', k, [M, Hkv, D]); tape.record(il, 'v', v, [M, Hkv, D]); }
      const kPool = this.kv.k[il], vPool = this.kv.v[il];
      for (const s of b.seqs) {
        for (let t = 0; t < s.rows; t++) {
          const pp = s.pos0 + t, r = s.rowStart + t;
          const off = (s.kv.blockTable[Math.floor(pp / bs)] * bs + (pp % bs)) * KD;
          kPool.set(k.subarray(r * KD, (r + 1) * KD), off);
          vPool.set(v.subarray(r * KD, (r + 1) * KD), off);
        }
      }
      for (const s of b.seqs) {
        K.attention(
          att.subarray(s.rowStart * HD, (s.rowStart + s.rows) * HD), q.subarray(s.rowStart * HD, (s.rowStart + s.rows) * HD),
          { k: kPool, v: vPool, blockTable: s.kv.blockTable, blockSize: bs }, s.rows, s.pos0, p,
        );
      }
      tape?.record(il, 'attn', att, [M, H * D]);
      linear(K, o, att, M, L.o, L.ob, n.o, lora, ls);
      if (L.postAttnNorm) K.rmsnorm(o, o, L.postAttnNorm, M, C, eps);
      if (cfg.parallelBlock) {
        let ffnIn = h;
        if (L.attnNorm2) {
          ffnIn = this.h2!.subarray(0, M * C);
          this.norm(ffnIn, x, L.attnNorm, M);
        }
        this.ffn(f, ffnIn, M, il, lora, tape);
        K.add(x, x, o, M * C);
        K.add(x, x, f, M * C);
      } else {
        K.add(x, x, o, M * C);
        this.norm(h, x, L.ffnNorm!, M);
        this.ffn(f, h, M, il, lora, tape);
        if (L.postFfnNorm) K.rmsnorm(f, f, L.postFfnNorm, M, C, eps);
        K.add(x, x, f, M * C);
      }
    }
    for (const s of b.seqs) if (s.pos0 + s.rows > s.kv.length) s.kv.length = s.pos0 + s.rows;

    // Gather the rows asked for, then the final norm.
    const R = b.outRows.length;
    const hid = this.hid.subarray(0, R * C);
    for (let i = 0; i < R; i++) {
      const r = b.outRows[i];
      hid.set(x.subarray(r * C, (r + 1) * C), i * C);
    }
    if (R > 0) this.norm(hid, hid, W.outNorm, R);
    tape?.record(-1, 'final', hid, [R, C]);
    return hid;
  }

  /** logits (R, V) = hidden (R, C) · outputᵀ, soft-capped (gemma2). */
  logits(out: Float32Array, hidden: Float32Array, R: number): void {
    const V = this.config.vocabSize;
    this.kernels.matmul(out, hidden, this.weights.output, R);
    if (this.config.finalLogitSoftcap) this.kernels.softcap(out, R * V, this.config.finalLogitSoftcap);
  }

  private norm(out: Float32Array, x: Float32Array, n: Norm, M: number): void {
    const C = this.config.dModel;
    if (this.config.norm === 'rms') {
      this.kernels.rmsnorm(out, x, n.w, M, C, this.config.normEps);
      if (n.b) this.kernels.addBias(out, n.b, M, C);
    } else this.kernels.layernorm(out, x, n.w, n.b, M, C, this.config.normEps);
  }

  private ffn(out: Float32Array, z: Float32Array, M: number, il: number, lora: readonly LoraSegment[], tape: ForwardTape | null): void {
    const cfg = this.config, K = this.kernels, L = this.weights.layers[il], F = cfg.ffnDim;
    const g = this.g.subarray(0, M * F), u = this.u.subarray(0, M * F);
    const ls = this.loraScratch;
    tape?.record(il, 'ffn_in', z, [M, cfg.dModel]);
    linear(K, u, z, M, L.up, L.upB, L.names.up, lora, ls);
    tape?.record(il, 'up', u, [M, F]);
    if (L.gate) {
      linear(K, g, z, M, L.gate, L.gateB, L.names.gate, lora, ls);
      tape?.record(il, 'gate', g, [M, F]);
      if (cfg.activation === 'silu') K.siluMul(g, g, u, M * F);
      else K.geluMul(g, g, u, M * F);
      tape?.record(il, 'act', g, [M, F]);
      linear(K, out, g, M, L.down, L.downB, L.names.down, lora, ls);
    } else {
      K.gelu(u, M * F);
      tape?.record(il, 'act', u, [M, F]);
      linear(K, out, u, M, L.down, L.downB, L.names.down, lora, ls);
    }
  }
}
