/**
 * The one place LoRA meets the base model:
 *
 *   y (M, N) = x (M, K) · Wᵀ + bias,   then for each segment of rows sharing an adapter:
 *   y[seg] += scale · (x[seg] · Aᵀ) · Bᵀ          (A (R, K), B (N, R))
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
    const p = seg.adapter.modules.get(name);
    if (!p) continue;
    const R = p.a.rows;
    const xs = x.subarray(seg.rowStart * Kd, (seg.rowStart + seg.rows) * Kd);
    const v = scratch.subarray(0, seg.rows * R); // (rows, R)
    K.matmul(v, xs, p.a, seg.rows);
    K.scale(v, p.scale, seg.rows * R);
    K.matmul(out.subarray(seg.rowStart * N, (seg.rowStart + seg.rows) * N), v, p.b, seg.rows, true);
  }
}
