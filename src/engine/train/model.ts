/**
 * The training forward and backward: the transformer of model/forward.ts over whole packed
 * sequences (no KV cache), recording a tape of saved activations per layer, then the backward
 * walking the same steps in reverse. Same weights (blocks/weights.ts), rope tables
 * (blocks/rope.ts) and Kernels ops as inference; the backward ops are train/ops.ts, and every
 * big product runs on Kernels.matmul (dx = dy·W through transposed weights, weight gradients
 * through transposed activations).
 *
 * A batch is M rows = several documents packed back to back. Attention is causal *within* a
 * document (masked at document boundaries) and positions restart at 0 in each, so a packed
 * batch computes exactly what each document alone would.
 *
 * Per layer, forward (M rows; C model, H/Hkv heads, D head dim, F ffn; saved on the tape: *):
 *   h* = norm(x*)                                  (M, C)
 *   q, k, v = lin(h)  [qPre*, kPre* = q, k before qkNorm]  ; q*, k* = rope(norm(q, k)) ; v*
 *   att* = attention per document                  (M, H·D)
 *   o = lin(att) [oPre* before postNorm]            (M, C)
 *   sequential: x2* = x + o ; hf* = norm(x2) ; x' = x2 + ffn(hf)
 *   parallel:   x' = x + o + ffn(h or h2*)
 *   ffn(z): g*, u* = lin(z) ; a* = act(g)·u (or act(u)) ; f = lin(a) [fPre* before postNorm]
 * and for each LoRA linear y = x·Wᵀ + s·(drop(x)·Aᵀ)·Bᵀ: uL* = drop(x)·Aᵀ (M, R) and the
 * dropout mask* (M, K) when dropout > 0.
 *
 * Loss: the final hidden states are projected to logits `logitRows` rows at a time, soft-capped,
 * and cross-entropy against `targets` (−1 = no loss) turns them into dlogits in place, so the
 * (M, V) logits never exist at once.
 */
import type { Heap } from '../heap.ts';
import type { AttentionParams, Kernels, WeightTensor } from '../kernels/types.ts';
import type { LoadedModel } from '../model/load.ts';
import type { ModelConfig } from '../model/config.ts';
import { resolveWeights, type ModelWeights, type Norm, type LayerWeights } from '../model/blocks/weights.ts';
import { type RopeTable } from '../model/blocks/rope.ts';
import { layerAttention } from '../model/blocks/attention.ts';
import { invalid, modelError, OpenLedgerError } from '../../util/errors.ts';
import type { LoraParam, TrainableLora } from './lora.ts';
import { LORA_MODULES, type LoraModuleKind } from './lora.ts';
import { transposeInto, transposeWeight, type TransposeDType } from './weights-t.ts';
import type { FullParams } from './full.ts';
import { AttentionBackward } from './attention.ts';
import { Xorshift } from './rng.ts';
import {
  crossEntropy, embeddingBackward, geluBackward, geluMulBackward, layernormBackward, matmulTN,
  rmsnormBackward, siluMulBackward, softcapBackward, sumRows, transpose,
} from './ops.ts';

/** A packed batch: documents back to back. */
export interface TrainBatch {
  /** (M) token ids. */
  tokens: ArrayLike<number>;
  /** (M) the token each row must predict (usually tokens[i + 1] of the same document), −1 = no loss. */
  targets: ArrayLike<number>;
  /** Optional (M) loss weight per row (default 1 where targets ≥ 0). */
  weights?: ArrayLike<number> | null;
  /** Documents in row order, covering [0, M): attention never crosses them, positions restart. */
  docs: ReadonlyArray<{ start: number; len: number }>;
}

export interface StepOptions {
  /** Run the backward (accumulating into the LoRA gradients). Default true. */
  backward?: boolean;
  /** dlogits are multiplied by this (1 / tokens of the whole optimizer step). Default 1. */
  gradScale?: number;
  /** Seed of this micro-batch's dropout masks. */
  dropoutSeed?: number;
  /** Apply LoRA dropout (default: when `backward`; evaluation runs without it). */
  dropout?: boolean;
  /** Also return, per document, the gradient of its own mean loss w.r.t. every LoRA A and B. */
  docGrads?: boolean;
}

export interface DocGradients {
  /** Per document of the batch (same order as batch.docs): weighted target count. */
  tokens: number[];
  /** Canonical weight name → per document dA (R·K) and dB (N·R), the gradient of that document's mean loss. */
  modules: Map<string, { dA: Float32Array[]; dB: Float32Array[] }>;
}

export interface StepResult {
  /** Σ weight·CE over rows with a target. */
  lossSum: number;
  /** Σ weight over rows with a target. */
  tokens: number;
  /** Per document: Σ weight·CE and Σ weight. */
  docLoss: Float64Array;
  docTokens: Float64Array;
  docGrads: DocGradients | null;
}

export interface TrainModelOptions {
  kernels: Kernels;
  /** Most rows per batch (tape buffers are sized for it). */
  maxTokens: number;
  lora: TrainableLora | null;
  /** Full fine-tuning: gradients for every tensor of the model (f32 weights; no LoRA). */
  full?: FullParams | null;
  /** Storage of the transposed base weights for the backward (default f32 for f32 bases, else f16). */
  transposeDtype?: TransposeDType;
  /** Rows of logits per output-head call (default 32). */
  logitRows?: number;
  /** Vocabulary rows per transposed output-head chunk (default 2048). */
  vocabChunk?: number;
  /** false: evaluation only — no transposed weights, no backward (default true). */
  backward?: boolean;
}

interface LinTape {
  p: LoraParam;
  u: Float32Array; // (M, R) = drop(x)·Aᵀ, unscaled
  mask: Float32Array | null; // (M, K): 0 or 1/(1 − p)
}

interface LayerTape {
  xIn: Float32Array; h: Float32Array; h2: Float32Array | null;
  qPre: Float32Array | null; kPre: Float32Array | null;
  q: Float32Array; k: Float32Array; v: Float32Array; att: Float32Array;
  oPre: Float32Array | null; x2: Float32Array | null; hf: Float32Array | null;
  g: Float32Array | null; u: Float32Array; a: Float32Array; fPre: Float32Array | null;
  lin: Partial<Record<LoraModuleKind, LinTape>>;
}

type LayerT = Record<LoraModuleKind, WeightTensor | null>;

export class TrainModel {
  readonly config: ModelConfig;
  readonly weights: ModelWeights;
  readonly kernels: Kernels;
  readonly maxTokens: number;
  readonly lora: TrainableLora | null;
  readonly full: FullParams | null;
  private readonly heap: Heap;
  private readonly ropeGlobal: RopeTable | null;
  private readonly ropeLocal: RopeTable | null;
  private readonly attnParams: AttentionParams[];
  private readonly wT: LayerT[];
  private readonly outT: Array<{ v0: number; v1: number; w: WeightTensor }>;
  private readonly tape: LayerTape[];
  private readonly logitRows: number;
  // Activations and scratch, (maxTokens, ·) unless noted.
  private readonly tok: Int32Array;
  private readonly pos: Int32Array;
  private readonly negPos: Int32Array;
  private readonly x: Float32Array; // residual stream
  private readonly hid: Float32Array; // final normed hidden
  private readonly f: Float32Array;
  private readonly o: Float32Array;
  private readonly dx: Float32Array;
  private readonly dh: Float32Array;
  private readonly dC: Float32Array; // (M, C) scratch gradient
  private readonly dQ: Float32Array;
  private readonly dK: Float32Array;
  private readonly dV: Float32Array;
  private readonly dAtt: Float32Array;
  private readonly dG: Float32Array;
  private readonly dU: Float32Array;
  private readonly logits: Float32Array; // (logitRows, V)
  private readonly logitsY: Float32Array | null; // soft-capped copy (final softcap only)
  private readonly dlChunk: Float32Array; // (logitRows, vocabChunk)
  private readonly tmpMK: Float32Array; // (M, maxK)
  private readonly tT1: Float32Array; // (maxN·M) transposed dy
  private readonly tT2: Float32Array; // (maxK·M) transposed x
  private readonly tR1: Float32Array; // (M·R)
  private readonly tR2: Float32Array; // (R·M)
  private readonly blockTable = new Int32Array(1);
  /** Whether the last forward applied dropout masks (the backward must use the same). */
  private masked = false;
  private readonly canBackward: boolean;
  /** The activation whose transpose tT2 holds (q/k/v and gate/up share an input): skip re-transposing it. */
  private xTOf: Float32Array | null = null;
  private readonly attnB: AttentionBackward;
  // Full fine-tuning only: the embedding output before the embedding norm, dlogitsᵀ, hiddenᵀ.
  private readonly xEmb: Float32Array | null;
  private readonly dlT: Float32Array | null;
  private readonly hidT: Float32Array | null;

  constructor(model: Pick<LoadedModel, 'config' | 'tensors' | 'heap'> & { source?: { path: string } }, opts: TrainModelOptions) {
    const cfg = model.config;
    this.config = cfg;
    this.heap = model.heap;
    this.kernels = opts.kernels;
    this.maxTokens = opts.maxTokens;
    this.lora = opts.lora;
    this.full = opts.full ?? null;
    if (this.full && this.lora) throw invalid('train either a LoRA adapter or the full model, not both', { code: 'invalid_training_method' });
    if (!cfg.gatedFfn && cfg.activation === 'silu') throw modelError('ungated SiLU feed-forward is not supported', { code: 'unsupported_architecture' });
    this.weights = resolveWeights(cfg, model.tensors, model.heap, model.source?.path);
    ({ params: this.attnParams, ropeGlobal: this.ropeGlobal, ropeLocal: this.ropeLocal } = layerAttention(cfg, this.weights.ropeFreqs));

    const hp = model.heap;
    const firstW = this.weights.layers[0]?.q;
    const tdt: TransposeDType = opts.transposeDtype ?? (firstW && firstW.dtype === 'f32' ? 'f32' : 'f16');
    this.canBackward = opts.backward ?? true;
    this.wT = this.weights.layers.map((L) => {
      const t = {} as LayerT;
      for (const kind of LORA_MODULES) t[kind] = L[kind] && this.canBackward ? transposeWeight(hp, L[kind]!, tdt) : null;
      return t;
    });
    const V = cfg.vocabSize, vc = Math.max(1, opts.vocabChunk ?? 2048);
    this.outT = [];
    if (this.canBackward) for (let v0 = 0; v0 < V; v0 += vc) this.outT.push({ v0, v1: Math.min(V, v0 + vc), w: transposeWeight(hp, this.weights.output, tdt, v0, Math.min(V, v0 + vc)) });

    const T = opts.maxTokens, C = cfg.dModel, HD = cfg.nHeads * cfg.headDim, KD = cfg.nKvHeads * cfg.headDim, F = cfg.ffnDim;
    const R = opts.lora?.config.rank ?? 0, drop = (opts.lora?.config.dropout ?? 0) > 0;
    this.tape = this.weights.layers.map((L, il) => {
      const lin: Partial<Record<LoraModuleKind, LinTape>> = {};
      if (opts.lora) {
        for (const kind of LORA_MODULES) {
          const p = opts.lora.params.get(L.names[kind]);
          if (p) lin[kind] = { p, u: hp.f32(T * R), mask: drop ? hp.f32(T * p.K) : null };
        }
      }
      void il;
      return {
        xIn: hp.f32(T * C), h: hp.f32(T * C), h2: L.attnNorm2 ? hp.f32(T * C) : null,
        qPre: cfg.qkNorm ? hp.f32(T * HD) : null, kPre: cfg.qkNorm ? hp.f32(T * KD) : null,
        q: hp.f32(T * HD), k: hp.f32(T * KD), v: hp.f32(T * KD), att: hp.f32(T * HD),
        oPre: L.postAttnNorm ? hp.f32(T * C) : null,
        x2: cfg.parallelBlock ? null : hp.f32(T * C), hf: cfg.parallelBlock ? null : hp.f32(T * C),
        g: L.gate ? hp.f32(T * F) : null, u: hp.f32(T * F), a: hp.f32(T * F), fPre: L.postFfnNorm ? hp.f32(T * C) : null,
        lin,
      };
    });
    this.logitRows = Math.max(1, Math.min(opts.logitRows ?? 32, T));
    this.tok = hp.i32(T); this.pos = hp.i32(T); this.negPos = hp.i32(T);
    this.x = hp.f32(T * C); this.hid = hp.f32(T * C); this.f = hp.f32(T * C); this.o = hp.f32(T * C);
    this.dx = hp.f32(T * C); this.dh = hp.f32(T * C); this.dC = hp.f32(T * C);
    this.dQ = hp.f32(T * HD); this.dK = hp.f32(T * KD); this.dV = hp.f32(T * KD); this.dAtt = hp.f32(T * HD);
    this.dG = hp.f32(T * F); this.dU = hp.f32(T * F);
    this.logits = hp.f32(this.logitRows * V);
    this.logitsY = cfg.finalLogitSoftcap ? hp.f32(this.logitRows * V) : null;
    this.dlChunk = hp.f32(this.logitRows * Math.min(V, vc));
    const maxK = Math.max(C, HD, F);
    this.tmpMK = hp.f32(T * maxK);
    this.tT1 = hp.f32(T * Math.max(C, HD, F));
    this.tT2 = hp.f32(T * maxK);
    this.tR1 = hp.f32(Math.max(1, T * R));
    this.tR2 = hp.f32(Math.max(1, T * R));
    this.attnB = new AttentionBackward(hp, opts.kernels);
    this.xEmb = this.full && this.weights.embdNorm ? hp.f32(T * C) : null;
    this.dlT = this.full ? hp.f32(this.logitRows * V) : null;
    this.hidT = this.full ? hp.f32(this.logitRows * C) : null;
  }

  /** Full fine-tuning: re-transpose the backward copies after the optimizer changed the weights. */
  refreshWeights(): void {
    this.weights.layers.forEach((L, il) => {
      for (const kind of LORA_MODULES) if (L[kind]) transposeInto(this.wT[il][kind]!, L[kind]!);
    });
    for (const c of this.outT) transposeInto(c.w, this.weights.output, c.v0);
  }

  /**
   * Forward over a packed batch, loss, and (by default) backward, accumulating the LoRA
   * gradients scaled by `gradScale`. The LoRA factors must not change between the forward and
   * the backward (the optimizer steps between calls).
   */
  step(b: TrainBatch, opts: StepOptions = {}): StepResult {
    const M = b.tokens.length;
    this.checkBatch(b, M);
    const docLoss = new Float64Array(b.docs.length), docTokens = new Float64Array(b.docs.length);
    this.lora?.syncTransposes();
    const backward = opts.backward ?? true;
    const dropout = opts.dropout ?? backward;
    if (backward && !this.canBackward) throw invalid('this TrainModel was built for evaluation only (backward: false)', { code: 'invalid_training_method' });
    this.forward(b, M, opts.dropoutSeed ?? 0, dropout);
    this.masked = dropout;
    const gradScale = opts.gradScale ?? 1;
    const { lossSum, tokens } = this.lossAndHeadBackward(b, M, backward, gradScale, docLoss, docTokens);
    let docGrads: DocGradients | null = null;
    if (backward) {
      if (opts.docGrads && this.lora) {
        docGrads = { tokens: Array.from(docTokens), modules: new Map() };
        for (const p of this.lora.params.values()) docGrads.modules.set(p.name, { dA: b.docs.map(() => new Float32Array(p.R * p.K)), dB: b.docs.map(() => new Float32Array(p.N * p.R)) });
      }
      this.backward(b, M, docGrads, gradScale);
    }
    return { lossSum, tokens, docLoss, docTokens, docGrads };
  }

  private checkBatch(b: TrainBatch, M: number): void {
    const cfg = this.config;
    if (M < 1 || M > this.maxTokens) throw invalid(`a batch of ${M} rows; this trainer holds 1…${this.maxTokens}`, { code: 'batch_too_large', hint: 'pack fewer tokens per micro-batch' });
    if (b.targets.length !== M) throw invalid(`targets has ${b.targets.length} rows, tokens ${M}`);
    let next = 0;
    for (const d of b.docs) {
      if (d.start !== next || d.len < 1) throw invalid('batch documents must cover the rows in order without gaps', { code: 'invalid_batch' });
      if (d.len > cfg.contextLength || (this.weights.posEmbd && d.len > this.weights.posEmbd.rows)) {
        throw new OpenLedgerError(`a training row of ${d.len} tokens exceeds the model's context of ${cfg.contextLength}`, {
          code: 'context_length_exceeded', param: 'training_file', hint: 'truncate or split long rows (max_seq_length) before training',
        });
      }
      next += d.len;
    }
    if (next !== M) throw invalid(`documents cover ${next} rows, the batch has ${M}`, { code: 'invalid_batch' });
    for (let i = 0; i < M; i++) {
      const t = b.tokens[i], y = b.targets[i];
      if (!Number.isInteger(t) || t < 0 || t >= cfg.vocabSize) throw invalid(`token id ${t} is outside the vocabulary (${cfg.vocabSize})`, { code: 'invalid_token' });
      if (!Number.isInteger(y) || y < -1 || y >= cfg.vocabSize) throw invalid(`target id ${y} is outside the vocabulary (${cfg.vocabSize})`, { code: 'invalid_token' });
    }
  }

  private norm(out: Float32Array, x: Float32Array, n: Norm, M: number): void {
    const C = this.config.dModel, K = this.kernels;
    if (this.config.norm === 'rms') {
      K.rmsnorm(out, x, n.w, M, C, this.config.normEps);
      if (n.b) K.addBias(out, n.b, M, C);
    } else K.layernorm(out, x, n.w, n.b, M, C, this.config.normEps);
  }

  /** dx (+)= ∂norm(x)/∂x ᵀ dy. */
  private normBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, n: Norm, M: number, accumulate: boolean): void {
    const C = this.config.dModel, eps = this.config.normEps;
    const dw = this.full?.grad(n.w) ?? null, db = this.full?.grad(n.b) ?? null;
    if (this.config.norm === 'rms') {
      if (db) sumRows(db, dy, M, C); // (rms norm + bias: y = rmsnorm(x)·w + b)
      rmsnormBackward(dx, dy, x, n.w, M, C, eps, { accumulate, dw });
    } else layernormBackward(dx, dy, x, n.w, M, C, eps, { accumulate, dw, db });
  }

  /** Backward of an in-place rmsnorm with weight w over rows of `C` (qk and post norms). */
  private rmsB(dx: Float32Array, dy: Float32Array, x: Float32Array, w: Float32Array, M: number, C: number): void {
    rmsnormBackward(dx, dy, x, w, M, C, this.config.normEps, { dw: this.full?.grad(w) ?? null });
  }

  // ------------------------------------------------------------------ linear with LoRA

  private linF(out: Float32Array, x: Float32Array, M: number, w: WeightTensor, bias: Float32Array | null, t: LinTape | undefined, rng: Xorshift | null): void {
    const K = this.kernels;
    K.matmul(out, x, w, M);
    if (bias) K.addBias(out, bias, M, w.rows);
    if (!t) return;
    const p = t.p, Kd = p.K;
    let xin = x;
    if (t.mask && rng) {
      const keep = 1 - this.lora!.config.dropout, inv = 1 / keep;
      const mask = t.mask, xd = this.tmpMK.subarray(0, M * Kd);
      for (let i = 0; i < M * Kd; i++) {
        mask[i] = rng!.next() < keep ? inv : 0;
        xd[i] = x[i] * mask[i];
      }
      xin = xd;
    }
    const u = t.u.subarray(0, M * p.R), su = this.tR1.subarray(0, M * p.R);
    K.matmul(u, xin, p.aW, M);
    su.set(u);
    K.scale(su, p.scale, M * p.R);
    K.matmul(out, su, p.bW, M, true);
  }

  /**
   * Backward of linF: dx (+)= dy·W (+ the LoRA branch), and the LoRA gradients
   * dB += s·dyᵀ·u, dA += (s·dy·B)ᵀ·drop(x). `xT` is xᵀ (K, M) when the caller already has it.
   */
  private linB(
    dx: Float32Array | null, dy: Float32Array, x: Float32Array, M: number, wT: WeightTensor, t: LinTape | undefined,
    accumulate: boolean, docs: TrainBatch['docs'], docGrads: DocGradients | null, docScale: number[],
    w?: WeightTensor, bias?: Float32Array | null,
  ): void {
    const K = this.kernels;
    if (dx) K.matmul(dx, dy, wT, M, accumulate);
    if (this.full && w) {
      // dW (N, K) += dyᵀ·x: out (N, K) = dyᵀ (N, M) · (xᵀ as a (K, M) weight)ᵀ ; db += Σ dy
      const N = w.rows, Kd = w.cols;
      const gW = this.full.grad(w), gB = this.full.grad(bias ?? null);
      if (gW) {
        const dyT = this.tT1.subarray(0, N * M), xT = this.tT2.subarray(0, Kd * M);
        transpose(dyT, dy, M, N);
        if (this.xTOf !== x) { transpose(xT, x, M, Kd); this.xTOf = x; }
        K.matmul(gW, dyT, f32w(xT, Kd, M), N, true);
      }
      if (gB) sumRows(gB, dy, M, N);
    }
    if (!t) return;
    const p = t.p, R = p.R, N = p.N, Kd = p.K;
    const u = t.u.subarray(0, M * R);
    // du (M, R) = s·dy·B
    const du = this.tR1.subarray(0, M * R);
    K.matmul(du, dy, p.bT, M);
    K.scale(du, p.scale, M * R);
    // drop(x), the LoRA branch's input
    const mask = this.masked ? t.mask : null;
    let xin = x;
    if (mask) {
      const xd = this.tmpMK.subarray(0, M * Kd);
      for (let i = 0; i < M * Kd; i++) xd[i] = x[i] * mask[i];
      xin = xd;
    }
    // dB (N, R) += (s·dy)ᵀ·u: as a kernel product, out (N, R) = dyᵀ (N, M) · (s·uᵀ as a (R, M) weight)ᵀ
    const dyT = this.tT1.subarray(0, N * M), suT = this.tR2.subarray(0, R * M);
    transpose(dyT, dy, M, N);
    transpose(suT, u, M, R);
    K.scale(suT, p.scale, R * M);
    K.matmul(p.gb, dyT, f32w(suT, R, M), N, true);
    // dA (R, K) += duᵀ (R, M) · drop(x) (M, K): out (R, K) = duᵀ · (xᵀ as a (K, M) weight)ᵀ
    const xT = this.tT2.subarray(0, Kd * M), duT = this.tR2.subarray(0, R * M);
    if (xin !== x) { transpose(xT, xin, M, Kd); this.xTOf = null; } // dropout: a fresh input per module
    else if (this.xTOf !== x) { transpose(xT, x, M, Kd); this.xTOf = x; }
    transpose(duT, du, M, R);
    K.matmul(p.ga, duT, f32w(xT, Kd, M), R, true);
    if (docGrads) {
      const g = docGrads.modules.get(p.name)!;
      for (let d = 0; d < docs.length; d++) {
        const { start, len } = docs[d];
        const sc = docScale[d];
        if (sc === 0) continue;
        const dB = g.dB[d], dA = g.dA[d];
        // dB_d = s·dy[d]ᵀ·u[d] ; dA_d = du[d]ᵀ·drop(x)[d], both times 1/(gradScale·tokens_d)
        matmulTN(dB, dy.subarray(start * N, (start + len) * N), u.subarray(start * R, (start + len) * R), len, N, R, true);
        matmulTN(dA, du.subarray(start * R, (start + len) * R), xin.subarray(start * Kd, (start + len) * Kd), len, R, Kd, true);
        for (let i = 0; i < dB.length; i++) dB[i] *= sc * p.scale;
        for (let i = 0; i < dA.length; i++) dA[i] *= sc;
      }
    }
    if (dx) {
      // dx += (du·A) ⊙ mask
      const tmp = this.tmpMK.subarray(0, M * Kd);
      K.matmul(tmp, du, p.aT, M);
      if (mask) for (let i = 0; i < M * Kd; i++) tmp[i] *= mask[i];
      K.add(dx, dx, tmp, M * Kd);
    }
  }

  // ------------------------------------------------------------------ forward

  private forward(b: TrainBatch, M: number, dropoutSeed: number, dropout: boolean): void {
    const cfg = this.config, K = this.kernels, W = this.weights;
    const C = cfg.dModel, H = cfg.nHeads, Hkv = cfg.nKvHeads, D = cfg.headDim, F = cfg.ffnDim, HD = H * D, KD = Hkv * D, eps = cfg.normEps;
    const tok = this.tok.subarray(0, M), pos = this.pos.subarray(0, M), neg = this.negPos.subarray(0, M);
    for (let i = 0; i < M; i++) tok[i] = b.tokens[i];
    for (const d of b.docs) for (let t = 0; t < d.len; t++) { pos[d.start + t] = t; neg[d.start + t] = -t; }
    const rng = dropout && this.lora && this.lora.config.dropout > 0 ? new Xorshift(dropoutSeed) : null;
    const x = this.x.subarray(0, M * C);
    K.getRows(x, W.tokEmbd, tok, M);
    if (cfg.embedScale !== null) K.scale(x, cfg.embedScale, M * C);
    if (W.posEmbd) {
      const pe = this.f.subarray(0, M * C);
      K.getRows(pe, W.posEmbd, pos, M);
      K.add(x, x, pe, M * C);
    }
    if (W.embdNorm) {
      if (this.xEmb) this.xEmb.set(x);
      this.norm(x, x, W.embdNorm, M);
    }

    for (let il = 0; il < cfg.nLayers; il++) {
      const L = W.layers[il], T = this.tape[il], lt = T.lin;
      const xIn = T.xIn.subarray(0, M * C), h = T.h.subarray(0, M * C);
      xIn.set(x);
      // Falcon-40B (two norms): attention reads attn_norm_2, the mlp attn_norm (as llama.cpp and forward.ts).
      this.norm(h, x, L.attnNorm2 ?? L.attnNorm, M);
      const q = T.q.subarray(0, M * HD), k = T.k.subarray(0, M * KD), v = T.v.subarray(0, M * KD);
      this.linF(q, h, M, L.q, L.qb, lt.q, rng);
      this.linF(k, h, M, L.k, L.kb, lt.k, rng);
      this.linF(v, h, M, L.v, L.vb, lt.v, rng);
      if (L.qNorm) { T.qPre!.set(q); K.rmsnorm(q, q, L.qNorm, M * H, D, eps); }
      if (L.kNorm) { T.kPre!.set(k); K.rmsnorm(k, k, L.kNorm, M * Hkv, D, eps); }
      const p = this.attnParams[il];
      const rt = p.slidingWindow !== null ? this.ropeLocal : this.ropeGlobal;
      if (rt) {
        K.rope(q, M, H, D, pos, rt.invFreq, rt.neox, rt.mscale);
        K.rope(k, M, Hkv, D, pos, rt.invFreq, rt.neox, rt.mscale);
      }
      const att = T.att.subarray(0, M * HD);
      for (const d of b.docs) {
        this.blockTable[0] = 0;
        K.attention(
          att.subarray(d.start * HD, (d.start + d.len) * HD), q.subarray(d.start * HD, (d.start + d.len) * HD),
          { k: k.subarray(d.start * KD, (d.start + d.len) * KD), v: v.subarray(d.start * KD, (d.start + d.len) * KD), blockTable: this.blockTable, blockSize: d.len },
          d.len, 0, p,
        );
      }
      const o = this.o.subarray(0, M * C), f = this.f.subarray(0, M * C);
      this.linF(o, att, M, L.o, L.ob, lt.o, rng);
      if (L.postAttnNorm) { T.oPre!.set(o); K.rmsnorm(o, o, L.postAttnNorm, M, C, eps); }
      if (cfg.parallelBlock) {
        let ffnIn = h;
        if (L.attnNorm2) { ffnIn = T.h2!.subarray(0, M * C); this.norm(ffnIn, x, L.attnNorm, M); }
        this.ffnF(f, ffnIn, M, L, T, rng);
        K.add(x, x, o, M * C);
        K.add(x, x, f, M * C);
      } else {
        K.add(x, x, o, M * C);
        T.x2!.set(x.subarray(0, M * C));
        const hf = T.hf!.subarray(0, M * C);
        this.norm(hf, x, L.ffnNorm!, M);
        this.ffnF(f, hf, M, L, T, rng);
        if (L.postFfnNorm) { T.fPre!.set(f); K.rmsnorm(f, f, L.postFfnNorm, M, C, eps); }
        K.add(x, x, f, M * C);
      }
    }
    // x now holds the final residual stream (kept for the output norm's backward); hid = norm(x).
    this.norm(this.hid.subarray(0, M * C), x, W.outNorm, M);
    void F;
  }

  private ffnF(out: Float32Array, z: Float32Array, M: number, L: LayerWeights, T: LayerTape, rng: Xorshift | null): void {
    const cfg = this.config, K = this.kernels, F = cfg.ffnDim;
    const u = T.u.subarray(0, M * F), a = T.a.subarray(0, M * F);
    this.linF(u, z, M, L.up, L.upB, T.lin.up, rng);
    if (L.gate) {
      const g = T.g!.subarray(0, M * F);
      this.linF(g, z, M, L.gate, L.gateB, T.lin.gate, rng);
      if (cfg.activation === 'silu') K.siluMul(a, g, u, M * F);
      else K.geluMul(a, g, u, M * F);
    } else {
      a.set(u);
      K.gelu(a, M * F);
    }
    this.linF(out, a, M, L.down, L.downB, T.lin.down, rng);
  }

  // ------------------------------------------------------------------ loss and output head

  private lossAndHeadBackward(b: TrainBatch, M: number, backward: boolean, gradScale: number, docLoss: Float64Array, docTokens: Float64Array): { lossSum: number; tokens: number } {
    const cfg = this.config, K = this.kernels, V = cfg.vocabSize, C = cfg.dModel;
    const hid = this.hid.subarray(0, M * C), dh = this.dh.subarray(0, M * C);
    const docOf = new Int32Array(M);
    b.docs.forEach((d, i) => docOf.fill(i, d.start, d.start + d.len));
    let lossSum = 0, tokens = 0;
    const rowLoss = new Float64Array(this.logitRows);
    for (let r0 = 0; r0 < M; r0 += this.logitRows) {
      const R = Math.min(this.logitRows, M - r0);
      let any = false;
      for (let r = r0; r < r0 + R; r++) if (b.targets[r] >= 0) any = true;
      if (!any) { if (backward) dh.fill(0, r0 * C, (r0 + R) * C); continue; }
      const lg = this.logits.subarray(0, R * V);
      K.matmul(lg, hid.subarray(r0 * C, (r0 + R) * C), this.weights.output, R);
      const cap = cfg.finalLogitSoftcap;
      if (cap) { K.softcap(lg, R * V, cap); this.logitsY!.set(lg.subarray(0, R * V)); }
      const tg = Array.from({ length: R }, (_, i) => b.targets[r0 + i]);
      const wt = b.weights ? Array.from({ length: R }, (_, i) => b.weights![r0 + i]) : null;
      lossSum += crossEntropy(lg, tg, wt, R, V, gradScale, rowLoss);
      for (let i = 0; i < R; i++) {
        if (tg[i] < 0) continue;
        const w = wt ? wt[i] : 1, d = docOf[r0 + i];
        tokens += w;
        docLoss[d] += w * rowLoss[i];
        docTokens[d] += w;
      }
      if (!backward) continue;
      if (cap) softcapBackward(lg, lg, this.logitsY!, R * V, cap);
      // dh (R, C) = dlogits (R, V) · E (V, C), vocabulary chunk by chunk through Eᵀ.
      const dhr = dh.subarray(r0 * C, (r0 + R) * C);
      const gOut = this.full?.grad(this.weights.output) ?? null;
      if (gOut) {
        // dE (V, C) += dlogitsᵀ (V, R) · h (R, C): out = dlᵀ · (hᵀ as a (C, R) weight)ᵀ
        const dlT = this.dlT!.subarray(0, V * R), hT = this.hidT!.subarray(0, C * R);
        transpose(dlT, lg, R, V);
        transpose(hT, hid.subarray(r0 * C, (r0 + R) * C), R, C);
        K.matmul(gOut, dlT, f32w(hT, C, R), V, true);
      }
      let first = true;
      for (const ch of this.outT) {
        const n = ch.v1 - ch.v0;
        const dl = this.dlChunk.subarray(0, R * n);
        for (let i = 0; i < R; i++) dl.set(lg.subarray(i * V + ch.v0, i * V + ch.v1), i * n);
        K.matmul(dhr, dl, ch.w, R, !first);
        first = false;
      }
    }
    return { lossSum, tokens };
  }

  // ------------------------------------------------------------------ backward

  private backward(b: TrainBatch, M: number, docGrads: DocGradients | null, gradScale: number): void {
    const cfg = this.config, K = this.kernels, W = this.weights;
    const C = cfg.dModel, H = cfg.nHeads, Hkv = cfg.nKvHeads, D = cfg.headDim, F = cfg.ffnDim, HD = H * D, KD = Hkv * D, eps = cfg.normEps;
    const docs = b.docs;
    this.xTOf = null;
    const docScale = docGrads ? docGrads.tokens.map((t) => (t > 0 ? 1 / (gradScale * t) : 0)) : [];
    const dx = this.dx.subarray(0, M * C), dh = this.dh.subarray(0, M * C), dC = this.dC.subarray(0, M * C);
    // Output norm: dx = norm'(x_final)ᵀ dh.
    this.normBackward(dx, dh, this.x.subarray(0, M * C), W.outNorm, M, false);
    const neg = this.negPos.subarray(0, M);
    // Layers below the lowest LoRA layer need no gradient at all (frozen base, LoRA only).
    let lowest = this.full ? 0 : cfg.nLayers;
    if (this.lora) for (const p of this.lora.params.values()) lowest = Math.min(lowest, p.layer);
    for (let il = cfg.nLayers - 1; il >= lowest; il--) {
      const L = W.layers[il], T = this.tape[il], lt = T.lin, wT = this.wT[il];
      const needIn = il > lowest || !!this.full; // does anything below need dx of this layer's input?
      const lb = (dxo: Float32Array | null, dy: Float32Array, xin: Float32Array, w: WeightTensor, t: LinTape | undefined, acc: boolean, fw?: WeightTensor, fb?: Float32Array | null) =>
        this.linB(dxo, dy, xin, M, w, t, acc, docs, docGrads, docScale, fw, fb);
      const xIn = T.xIn.subarray(0, M * C), h = T.h.subarray(0, M * C);
      // ---- ffn branch: df = dx (through post norm)
      let df = dx;
      if (L.postFfnNorm) { this.rmsB(dC, dx, T.fPre!.subarray(0, M * C), L.postFfnNorm, M, C); df = dC; }
      const ffnIn = cfg.parallelBlock ? (L.attnNorm2 ? T.h2!.subarray(0, M * C) : h) : T.hf!.subarray(0, M * C);
      const dz = this.dh.subarray(0, M * C); // gradient of the ffn input
      const da = this.dU.subarray(0, M * F), dg = this.dG.subarray(0, M * F);
      lb(da, df, T.a.subarray(0, M * F), wT.down!, lt.down, false, L.down, L.downB);
      const u = T.u.subarray(0, M * F);
      if (L.gate) {
        const g = T.g!.subarray(0, M * F);
        if (cfg.activation === 'silu') siluMulBackward(dg, da, da, g, u, M * F);
        else geluMulBackward(dg, da, da, g, u, M * F);
        // da now holds d(up output), dg d(gate output)
        lb(dz, da, ffnIn, wT.up!, lt.up, false, L.up, L.upB);
        lb(dz, dg, ffnIn, wT.gate!, lt.gate, true, L.gate, L.gateB);
      } else {
        geluBackward(da, da, u, M * F);
        lb(dz, da, ffnIn, wT.up!, lt.up, false, L.up, L.upB);
      }
      // ---- residual: sequential x' = x2 + f(x2): dx2 = dx + norm'(x2)ᵀ dz
      let dres: Float32Array; // gradient flowing into the attention branch's output
      if (!cfg.parallelBlock) {
        this.normBackward(dx, dz, T.x2!.subarray(0, M * C), L.ffnNorm!, M, true);
        dres = dx;
      } else dres = dx;
      // ---- attention branch: do = dres (through post norm)
      let dout = dres;
      if (L.postAttnNorm) { this.rmsB(dC, dres, T.oPre!.subarray(0, M * C), L.postAttnNorm, M, C); dout = dC; }
      const att = T.att.subarray(0, M * HD), dAtt = this.dAtt.subarray(0, M * HD);
      lb(dAtt, dout, att, wT.o!, lt.o, false, L.o, L.ob);
      const q = T.q.subarray(0, M * HD), k = T.k.subarray(0, M * KD), v = T.v.subarray(0, M * KD);
      const dq = this.dQ.subarray(0, M * HD), dk = this.dK.subarray(0, M * KD), dv = this.dV.subarray(0, M * KD);
      dk.fill(0); dv.fill(0);
      const ap = this.attnParams[il];
      const shape = { H, Hkv, D, scale: ap.scale, softcap: ap.softcap, window: ap.slidingWindow, alibi: ap.alibiSlopes };
      for (const d of docs) {
        const s = d.start, e = d.start + d.len;
        this.attnB.run(dq.subarray(s * HD, e * HD), dk.subarray(s * KD, e * KD), dv.subarray(s * KD, e * KD), dAtt.subarray(s * HD, e * HD),
          q.subarray(s * HD, e * HD), k.subarray(s * KD, e * KD), v.subarray(s * KD, e * KD), d.len, shape);
      }
      const rt = ap.slidingWindow !== null ? this.ropeLocal : this.ropeGlobal;
      if (rt) {
        K.rope(dq, M, H, D, neg, rt.invFreq, rt.neox, rt.mscale);
        K.rope(dk, M, Hkv, D, neg, rt.invFreq, rt.neox, rt.mscale);
      }
      if (L.qNorm) this.rmsB(dq, dq, T.qPre!.subarray(0, M * HD), L.qNorm, M * H, D);
      if (L.kNorm) this.rmsB(dk, dk, T.kPre!.subarray(0, M * KD), L.kNorm, M * Hkv, D);
      // dh = dq·Wq + dk·Wk + dv·Wv (skipped where nothing below is trainable; LoRA grads still taken)
      const dhq = needIn ? this.dC.subarray(0, M * C) : null;
      lb(dhq, dq, h, wT.q!, lt.q, false, L.q, L.qb);
      lb(dhq, dk, h, wT.k!, lt.k, true, L.k, L.kb);
      lb(dhq, dv, h, wT.v!, lt.v, true, L.v, L.vb);
      if (!needIn) continue;
      // ---- into the layer input
      if (cfg.parallelBlock) {
        // x' = x + o(normA(x)) + f(normF(x)) — two norms: normA = attn_norm_2, normF = attn_norm; one: both attn_norm
        if (L.attnNorm2) this.normBackward(dx, dz, xIn, L.attnNorm, M, true);
        else K.add(dhq!, dhq!, dz, M * C);
      }
      this.normBackward(dx, dhq!, xIn, L.attnNorm2 ?? L.attnNorm, M, true);
    }
    if (this.full) this.embeddingBackward(dx, M);
  }

  /** Full fine-tuning: dx at the bottom of the stack → embedding norm, position and token embedding gradients. */
  private embeddingBackward(dx: Float32Array, M: number): void {
    const cfg = this.config, W = this.weights, C = cfg.dModel, full = this.full!;
    if (W.embdNorm) {
      const d = this.dC.subarray(0, M * C);
      this.normBackward(d, dx, this.xEmb!.subarray(0, M * C), W.embdNorm, M, false);
      dx.set(d);
    }
    const gPos = full.grad(W.posEmbd);
    if (gPos) embeddingBackward(gPos, dx, this.pos, M, C);
    if (cfg.embedScale !== null) this.kernels.scale(dx, cfg.embedScale, M * C);
    const gTok = full.grad(W.tokEmbd);
    if (gTok) embeddingBackward(gTok, dx, this.tok, M, C);
  }

  /** Free the tape, transposed weights and scratch. */
  free(): void {
    const hp = this.heap;
    for (const T of this.tape) {
      for (const v of [T.xIn, T.h, T.h2, T.qPre, T.kPre, T.q, T.k, T.v, T.att, T.oPre, T.x2, T.hf, T.g, T.u, T.a, T.fPre]) if (v) hp.free(v);
      for (const l of Object.values(T.lin)) { hp.free(l!.u); if (l!.mask) hp.free(l!.mask); }
    }
    for (const t of this.wT) for (const w of Object.values(t)) if (w) hp.free(w.data);
    for (const c of this.outT) hp.free(c.w.data);
    this.attnB.free();
    for (const v of [this.xEmb, this.dlT, this.hidT]) if (v) hp.free(v);
    for (const v of [this.tok, this.pos, this.negPos, this.x, this.hid, this.f, this.o, this.dx, this.dh, this.dC, this.dQ, this.dK, this.dV, this.dAtt, this.dG, this.dU,
      this.logits, this.logitsY, this.dlChunk, this.tmpMK, this.tT1, this.tT2, this.tR1, this.tR2]) if (v) hp.free(v);
  }
}

function f32w(v: Float32Array, rows: number, cols: number): WeightTensor {
  return { dtype: 'f32', rows, cols, data: new Uint8Array(v.buffer, v.byteOffset, rows * cols * 4) };
}
