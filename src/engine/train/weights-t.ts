/**
 * Transposed copies of the frozen base weights, for the input gradient of every linear:
 *
 *   y (M, N) = x (M, K) · Wᵀ   ⇒   dx (M, K) = dy (M, N) · W = dy · (Wᵀ)ᵀ
 *
 * so with Wᵀ stored as a weight tensor of K rows and N columns, dx is one call of the same
 * Kernels.matmul (WASM SIMD, threads) the forward uses — no second matmul kernel is needed.
 * The cost is memory: one more copy of every layer matrix (f32 for f32 bases, else f16), and of
 * the output head in vocabulary chunks of `vocabChunk` rows (dh = dlogits · E runs chunk by
 * chunk, so each kernel call has a short K).
 */
import type { Heap } from '../heap.ts';
import { rowBytes, type WeightTensor } from '../kernels/types.ts';
import { dequantizeRow } from '../tensor/dequant.ts';
import { f32ToF16 } from '../tensor/half.ts';

export type TransposeDType = 'f32' | 'f16';

/** Rows [r0, r1) of W (N, K), transposed: a (K, r1 − r0) weight tensor on the heap. */
export function transposeWeight(heap: Heap, w: WeightTensor, dtype: TransposeDType, r0 = 0, r1 = w.rows): WeightTensor {
  const K = w.cols, n = r1 - r0;
  const data = dtype === 'f32' ? heap.u8(K * n * 4) : heap.u8(K * n * 2);
  const out: WeightTensor = { dtype, rows: K, cols: n, data };
  transposeInto(out, w, r0);
  return out;
}

/** Rewrite `out` (K, n) with rows [r0, r0 + n) of W transposed (after W changed: full fine-tuning). */
export function transposeInto(out: WeightTensor, w: WeightTensor, r0 = 0): void {
  const K = w.cols, n = out.cols;
  const rb = rowBytes(w.dtype, K);
  const rowsPer = Math.max(1, Math.min(n, Math.floor((4 << 20) / (4 * K)))); // ~4 MiB of f32 at a time
  const tile = new Float32Array(rowsPer * K);
  const f32 = out.dtype === 'f32' ? new Float32Array(out.data.buffer, out.data.byteOffset, K * n) : null;
  const u16 = out.dtype === 'f16' ? new Uint16Array(out.data.buffer, out.data.byteOffset, K * n) : null;
  for (let i0 = 0; i0 < n; i0 += rowsPer) {
    const i1 = Math.min(n, i0 + rowsPer);
    for (let i = i0; i < i1; i++) dequantizeRow(w.dtype, w.data, (r0 + i) * rb, tile, (i - i0) * K, K);
    for (let k = 0; k < K; k++) {
      const o = k * n;
      if (f32) for (let i = i0; i < i1; i++) f32[o + i] = tile[(i - i0) * K + k];
      else for (let i = i0; i < i1; i++) u16![o + i] = f32ToF16(tile[(i - i0) * K + k]);
    }
  }
}
