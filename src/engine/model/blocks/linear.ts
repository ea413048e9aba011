/**
 * The one place LoRA meets the base model:
 *
 *   y (M, N) = x (M, K) · Wᵀ + bias,   then for each segment of rows sharing an adapter:
 *   y[seg] += scale · (x[seg] · Aᵀ) · Bᵀ          (A (R, K), B (N, R))
 *
 * A merged adapter (dynamic merge, Engine.mixAdapters) is a weighted sum of deltas, applied at
 * request time without touching any factors:  y[seg] += Σ_i w_i · scale_i · (x[seg] · A_iᵀ) · B_iᵀ
 *
 * The base matmul runs once over all M rows of the batch; the LoRA terms run per segment
 * (SGMV: "shrink" v = x·Aᵀ into scratch, scale, "expand" y += v·Bᵀ). Base weights are never
 * mutated. Rows are grouped by adapter by the caller (engine.step sorts them).
 */
import type { Kernels, WeightTensor } from '../../kernels/types.ts';
import type { LoraAdapter } from '../../lora/adapter.ts';

export interface LoraSegment {
  rowStart: number;
  rows: number;
  adapter: LoraAdapter;
}

export function linear(
  K: Kernels, out: Float32Array, x: Float32Array, M: number,
  w: WeightTensor, bias: Float32Array | null, name: string,
  lora: readonly LoraSegment[], scratch: Float32Array,
): void {
  K.matmul(out, x, w, M);
  if (bias) K.addBias(out, bias, M, w.rows);
  const Kd = w.cols, N = w.rows;
  for (const seg of lora) {
    const xs = x.subarray(seg.rowStart * Kd, (seg.rowStart + seg.rows) * Kd);
    const ys = out.subarray(seg.rowStart * N, (seg.rowStart + seg.rows) * N);
    if (!seg.adapter.parts) {
      delta(K, ys, xs, seg.rows, seg.adapter, 1, name, scratch);
      continue;
    }
    for (const part of seg.adapter.parts) delta(K, ys, xs, seg.rows, part.adapter, part.weight, name, scratch);
  }
}

/** ys (rows, N) += weight · scale · (xs · Aᵀ) · Bᵀ for one adapter's factors of weight `name`. */
function delta(K: Kernels, ys: Float32Array, xs: Float32Array, rows: number, adapter: LoraAdapter, weight: number, name: string, scratch: Float32Array): void {
  const p = adapter.modules.get(name);
  if (!p || weight === 0) return;
  const R = p.a.rows;
  const v = scratch.subarray(0, rows * R); // (rows, R)
  K.matmul(v, xs, p.a, rows);
  K.scale(v, weight * p.scale, rows * R);
  K.matmul(ys, v, p.b, rows, true);
}
