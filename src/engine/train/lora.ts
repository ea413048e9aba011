/**
 * Trainable LoRA factors: for each targeted base weight W (N, K) (canonical GGUF name), A (R, K)
 * and B (N, R) in f32 on the engine heap, their gradients, and the scale α/R (rsLoRA: α/√R).
 * The forward is the engine's: y = W·x + scale·B·(A·dropout(x)) (PEFT applies dropout to the
 * input of the LoRA branch only). PEFT's initialisation: A ~ kaiming_uniform(a = √5), i.e.
 * U(−1/√K, 1/√K); B = 0, so a fresh adapter is exactly the base model.
 *
 * `toFactors()` hands the current values to lora/createAdapter, so a trained adapter is served by
 * the inference engine with no conversion.
 */
import type { Heap } from '../heap.ts';
import type { WeightTensor } from '../kernels/types.ts';
import type { LoadedModel } from '../model/load.ts';
import type { LoraFactors } from '../lora/memory.ts';
import { resolveWeights, type ModelWeights } from '../model/blocks/weights.ts';
import { invalid } from '../../util/errors.ts';
import { Xorshift } from './rng.ts';

export const LORA_MODULES = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraModuleKind = (typeof LORA_MODULES)[number];

export interface LoraTrainConfig {
  /** Which linears of every layer get an adapter; 'all-linear' = every one the model has. */
  targets: readonly LoraModuleKind[] | 'all-linear';
  /** R ≥ 1. */
  rank: number;
  /** α: scale = α/R (or α/√R with rsLora). Default 2·R (LLaMA-Factory's CLI default). */
  alpha?: number;
  /** Dropout on the LoRA branch's input, in [0, 1). Default 0. */
  dropout?: number;
  rsLora?: boolean;
  /** Only these layers (default all). */
  layers?: readonly number[];
}

export interface LoraParam {
  name: string;
  layer: number;
  kind: LoraModuleKind;
  N: number;
  K: number;
  R: number;
  scale: number;
  /** (R, K) and (N, R), on the heap. */
  a: Float32Array;
  b: Float32Array;
  /** Gradients, same shapes, on the heap. */
  ga: Float32Array;
  gb: Float32Array;
  /** Transposed copies refreshed before each forward for the kernel products: Aᵀ (K, R), Bᵀ (R, N). */
  aT: WeightTensor;
  bT: WeightTensor;
  /** A and B as weight tensors (views of a, b). */
  aW: WeightTensor;
  bW: WeightTensor;
}

const f32w = (v: Float32Array, rows: number, cols: number): WeightTensor => ({
  dtype: 'f32', rows, cols, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
});

export function checkLoraConfig(c: LoraTrainConfig): Required<Omit<LoraTrainConfig, 'layers'>> & { layers?: readonly number[] } {
  if (!Number.isInteger(c.rank) || c.rank < 1 || c.rank > 1024) {
    throw invalid(`LoRA rank must be an integer in 1…1024, got ${c.rank}`, { param: 'hyperparameters.lora_rank', code: 'invalid_hyperparameter', hint: 'use a rank such as 8 or 16' });
  }
  const alpha = c.alpha ?? 2 * c.rank;
  if (!(Number.isFinite(alpha) && alpha > 0)) throw invalid(`LoRA alpha must be > 0, got ${c.alpha}`, { param: 'hyperparameters.lora_alpha', code: 'invalid_hyperparameter', hint: 'use alpha = 2·rank' });
  const dropout = c.dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw invalid(`LoRA dropout must be in [0, 1), got ${c.dropout}`, { param: 'hyperparameters.lora_dropout', code: 'invalid_hyperparameter' });
  if (c.targets !== 'all-linear') {
    if (!c.targets.length) throw invalid('LoRA needs at least one target module', { param: 'hyperparameters.lora_target', code: 'invalid_hyperparameter', hint: `pick from ${LORA_MODULES.join(', ')} or all-linear` });
    for (const t of c.targets) if (!LORA_MODULES.includes(t)) throw invalid(`unknown LoRA target ${t}`, { param: 'hyperparameters.lora_target', code: 'invalid_hyperparameter', hint: `pick from ${LORA_MODULES.join(', ')} or all-linear` });
  }
  return { targets: c.targets, rank: c.rank, alpha, dropout, rsLora: !!c.rsLora, layers: c.layers };
}

export class TrainableLora {
  readonly config: ReturnType<typeof checkLoraConfig>;
  /** By canonical weight name, in layer then LORA_MODULES order (a stable parameter order). */
  readonly params = new Map<string, LoraParam>();
  readonly numParams: number;
  private readonly heap: Heap;

  constructor(model: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, config: LoraTrainConfig, opts: { weights?: ModelWeights; seed?: number } = {}) {
    this.config = checkLoraConfig(config);
    this.heap = model.heap;
    const W = opts.weights ?? resolveWeights(model.config, model.tensors, model.heap);
    const R = this.config.rank;
    const scale = this.config.rsLora ? this.config.alpha / Math.sqrt(R) : this.config.alpha / R;
    const kinds = this.config.targets === 'all-linear' ? LORA_MODULES : this.config.targets;
    let n = 0;
    for (let il = 0; il < W.layers.length; il++) {
      if (this.config.layers && !this.config.layers.includes(il)) continue;
      const L = W.layers[il];
      for (const kind of LORA_MODULES) {
        if (!kinds.includes(kind)) continue;
        const w = L[kind];
        if (!w) {
          if (this.config.targets !== 'all-linear') throw invalid(`the model has no ${kind} projection (layer ${il})`, { param: 'hyperparameters.lora_target', code: 'invalid_hyperparameter', hint: 'ungated feed-forwards (GPT-2, Falcon, BLOOM) have only up and down' });
          continue;
        }
        const N = w.rows, K = w.cols;
        const a = this.heap.f32(R * K), b = this.heap.f32(N * R);
        const ga = this.heap.f32(R * K), gb = this.heap.f32(N * R);
        const aTv = this.heap.f32(K * R), bTv = this.heap.f32(R * N);
        this.params.set(L.names[kind], {
          name: L.names[kind], layer: il, kind, N, K, R, scale, a, b, ga, gb,
          aT: f32w(aTv, K, R), bT: f32w(bTv, R, N), aW: f32w(a, R, K), bW: f32w(b, N, R),
        });
        n += R * K + N * R;
      }
    }
    if (!this.params.size) throw invalid('no LoRA modules selected', { param: 'hyperparameters.lora_target', code: 'invalid_hyperparameter' });
    this.numParams = n;
    this.init(opts.seed ?? 0);
  }

  /** PEFT init: A ~ U(−1/√K, 1/√K), B = 0. Deterministic in `seed`. */
  init(seed: number): void {
    const r = new Xorshift(seed ^ 0x10ea);
    for (const p of this.params.values()) {
      const bound = 1 / Math.sqrt(p.K);
      for (let i = 0; i < p.a.length; i++) p.a[i] = (r.next() * 2 - 1) * bound;
      p.b.fill(0);
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) { p.ga.fill(0); p.gb.fill(0); }
  }

  /** Every parameter tensor and its gradient, in a fixed order (optimizer, checkpoints). */
  tensors(): Array<{ name: string; value: Float32Array; grad: Float32Array }> {
    const out: Array<{ name: string; value: Float32Array; grad: Float32Array }> = [];
    for (const p of this.params.values()) {
      out.push({ name: `${p.name}.lora_a`, value: p.a, grad: p.ga });
      out.push({ name: `${p.name}.lora_b`, value: p.b, grad: p.gb });
    }
    return out;
  }

  /** Refresh Aᵀ and Bᵀ (called once per forward, after an optimizer step changed A and B). */
  syncTransposes(): void {
    for (const p of this.params.values()) {
      const aT = new Float32Array(p.aT.data.buffer, p.aT.data.byteOffset, p.K * p.R);
      const bT = new Float32Array(p.bT.data.buffer, p.bT.data.byteOffset, p.R * p.N);
      for (let r = 0; r < p.R; r++) for (let k = 0; k < p.K; k++) aT[k * p.R + r] = p.a[r * p.K + k];
      for (let n = 0; n < p.N; n++) for (let r = 0; r < p.R; r++) bT[r * p.N + n] = p.b[n * p.R + r];
    }
  }

  /** Copies of the factors keyed by canonical weight name, for engine.createAdapter / lora.createAdapter. */
  toFactors(): Record<string, LoraFactors> {
    const out: Record<string, LoraFactors> = {};
    for (const p of this.params.values()) {
      out[p.name] = { a: Float32Array.from(p.a), b: Float32Array.from(p.b), rank: p.R, alpha: this.config.alpha, rsLora: this.config.rsLora };
    }
    return out;
  }

  /**
   * Trainable factors holding an existing adapter's values (evaluation, continued training):
   * the modules of `factors` (canonical names, one rank) and B = 0 for any other module of the
   * same layers and kinds, which leaves them inert.
   */
  static fromFactors(model: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, factors: Record<string, LoraFactors>, opts: { weights?: ModelWeights } = {}): TrainableLora {
    const kinds = new Set<LoraModuleKind>(), layers = new Set<number>();
    const KIND: Record<string, LoraModuleKind> = { attn_q: 'q', attn_k: 'k', attn_v: 'v', attn_output: 'o', ffn_gate: 'gate', ffn_up: 'up', ffn_down: 'down' };
    let first: LoraFactors | null = null;
    for (const [name, f] of Object.entries(factors)) {
      const m = /^blk\.(\d+)\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.exec(name);
      if (!m) throw invalid(`adapter module ${name} is not a linear of a layer`, { param: 'adapter', code: 'invalid_adapter' });
      layers.add(Number(m[1]));
      kinds.add(KIND[m[2]]);
      if (first && (f.rank !== first.rank || f.alpha !== first.alpha || !!f.rsLora !== !!first.rsLora)) {
        throw invalid('adapters with different ranks or alphas per module are not supported here', { param: 'adapter', code: 'unsupported_adapter' });
      }
      first ??= f;
    }
    if (!first) throw invalid('the adapter has no modules', { param: 'adapter', code: 'invalid_adapter' });
    const lora = new TrainableLora(model, { targets: [...kinds], rank: first.rank, alpha: first.alpha, rsLora: first.rsLora, layers: [...layers] }, opts);
    for (const p of lora.params.values()) {
      const f = factors[p.name];
      if (!f) { p.b.fill(0); continue; }
      if (f.a.length !== p.a.length || f.b.length !== p.b.length) throw invalid(`adapter module ${p.name} has the wrong shape for this model`, { param: 'adapter', code: 'adapter_mismatch', hint: 'maybe wrong base model?' });
      p.a.set(f.a);
      p.b.set(f.b);
    }
    return lora;
  }

  /** Free the heap memory; the object must not be used afterwards. */
  free(): void {
    for (const p of this.params.values()) {
      for (const v of [p.a, p.b, p.ga, p.gb]) this.heap.free(v);
      this.heap.free(p.aT.data);
      this.heap.free(p.bT.data);
    }
    this.params.clear();
  }
}
