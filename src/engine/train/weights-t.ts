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
  const rb = rowBytes(w.dtype, K);
  const rowsPer = Math.max(1, Math.min(n, Math.floor((4 << 20) / (4 * K)))); // ~4 MiB of f32 at a time
  const tile = new Float32Array(rowsPer * K);
  if (dtype === 'f32') {
    const out = heap.f32(K * n);
    for (let i0 = 0; i0 < n; i0 += rowsPer) {
      const i1 = Math.min(n, i0 + rowsPer);
      for (let i = i0; i < i1; i++) dequantizeRow(w.dtype, w.data, (r0 + i) * rb, tile, (i - i0) * K, K);
      for (let k = 0; k < K; k++) {
        const o = k * n;
        for (let i = i0; i < i1; i++) out[o + i] = tile[(i - i0) * K + k];
      }
    }
    return { dtype: 'f32', rows: K, cols: n, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
  }
  const out = heap.u16(K * n);
  for (let i0 = 0; i0 < n; i0 += rowsPer) {
    const i1 = Math.min(n, i0 + rowsPer);
    for (let i = i0; i < i1; i++) dequantizeRow(w.dtype, w.data, (r0 + i) * rb, tile, (i - i0) * K, K);
    for (let k = 0; k < K; k++) {
      const o = k * n;
      for (let i = i0; i < i1; i++) out[o + i] = f32ToF16(tile[(i - i0) * K + k]);
    }
  }
  return { dtype: 'f16', rows: K, cols: n, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}
