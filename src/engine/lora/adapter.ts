/**
 * A LoRA adapter as the forward pass sees it: for each base weight it touches (by canonical GGUF
 * name, e.g. `blk.3.attn_q.weight`), factors A (R, K) and B (N, R) and the scale, so that
 *
 *   y = W·x + scale · B·(A·x)        (applied in exactly one place: model/blocks/linear.ts)
 *
 * The base weights are never modified. Factors live on the engine heap (f32 from PEFT; GGUF
 * LoRA files keep their dtype, e.g. f16 or q8_0, and the kernels dequantize on the fly).
 */
import type { WeightTensor } from '../kernels/types.ts';

export interface LoraPair {
  /** A (R, K): rows = rank, cols = input features of the base weight. */
  a: WeightTensor;
  /** B (N, R): rows = output features of the base weight. */
  b: WeightTensor;
  /** α/R (rsLoRA: α/√R), times any user scale. */
  scale: number;
}

export interface LoraAdapter {
  /** Unique per engine; 0 is never used (it means "no adapter"). */
  readonly id: number;
  readonly name: string;
  readonly source: { format: 'peft' | 'gguf' | 'memory'; path: string | null };
  /** Largest rank over its modules (sizes the forward pass's scratch). */
  readonly rank: number;
  readonly alpha: number;
  /** Canonical base weight name → factors. */
  readonly modules: Map<string, LoraPair>;
  /** Heap bytes held (freed by unloadAdapter). */
  readonly bytes: number;
  /** Heap views to free on unload. */
  readonly heapViews: ArrayBufferView[];
  /**
   * A merged adapter (Engine.mixAdapters): no factors of its own (`modules` empty, `bytes` 0); the
   * forward pass applies each part's delta times its weight, y = W·x + Σ_i w_i·s_i·B_i·(A_i·x).
   */
  readonly parts?: readonly LoraPart[];
}

/** One adapter of a merged set and its weight (finite, ≥ 0). */
export interface LoraPart {
  adapter: LoraAdapter;
  weight: number;
}
