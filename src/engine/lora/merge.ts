/** W' = W + scale·B·A as f32 (N, K): merging for export and the property tests (never the forward pass). */
import type { WeightTensor } from '../kernels/types.ts';
import type { LoraPair } from './adapter.ts';
import { dequantize } from '../tensor/dequant.ts';

export function mergedWeight(w: WeightTensor, p: LoraPair): Float32Array {
  const W = dequantize(w), A = dequantize(p.a), B = dequantize(p.b);
  const N = w.rows, K = w.cols, R = p.a.rows;
  for (let n = 0; n < N; n++) {
    for (let r = 0; r < R; r++) {
      const s = p.scale * B[n * R + r];
      if (s === 0) continue;
      for (let k = 0; k < K; k++) W[n * K + k] += s * A[r * K + k];
    }
  }
  return W;
}
