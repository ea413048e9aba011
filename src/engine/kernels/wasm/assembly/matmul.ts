// @ts-nocheck — AssemblyScript.
// out (M, N) = x (M, K) · Wᵀ for the output features [n0, n1) (one thread's share): the matmul
// exports of kernels.wasm, each choosing among the kernel variants in ./matmul/ (one file each):
//
//   quantize.ts             activations → 32-wide int8 blocks (ggml q8_0 math), or 7-bit + zero point
//   q8-rows.ts              M = 1, q8_0 / q4_0: 4 weight rows × 1 activation row, i16 dots (SIMD128)
//   q8-tile.ts              M ≥ 2, q8_0 / q4_0: 8 × 4 register tile, i16 pair dots (SIMD128)
//   q8-tile-relaxed.ts      M ≥ 2, q8_0 and q4_0: 8 × 4 tile, 8-bit dots (relaxed SIMD; kernels-relaxed.wasm only)
//   q8-batch.ts             M ≥ 2 on weights widened to i16 per 4 rows (K-quants; the tile's remainder)
//   kquant-rows.ts          q4_K / q5_K / q6_K row kernels
//   float.ts                every dtype in f32 math (fused f16/bf16/f32 matvec, dequantize + 2×4 tile)
//
// The spec for all of them is the reference matmul (kernels/reference.ts); conformance.test.ts
// runs one suite over every variant. The module is built twice (scripts/build-wasm.mjs):
// kernels.wasm with SIMD128 only, kernels-relaxed.wasm with relaxed SIMD as well, where the
// compile-time constant ASC_FEATURE_RELAXED_SIMD picks the relaxed variants below.
import { KIND_Q8_0, KIND_Q4_0 } from './matmul/common';
import { matmulQ8_0Rows, matmulQ4_0Rows } from './matmul/q8-rows';
import { matmulQ8_0Tile } from './matmul/q8-tile';
import { matmulQ8_0TileRelaxed, matmulQ4_0TileRelaxed } from './matmul/q8-tile-relaxed';
import { matmulQ8_0Batch } from './matmul/q8-batch';
export { quantizeRowsQ8, quantizeRowsU7, quantizeRowsI8 } from './matmul/quantize';
export { matmulQ45K, matmulQ6K } from './matmul/kquant-rows';
export { matmulFloat } from './matmul/float';

/** 1 when this build has the relaxed-SIMD variants (kernels-relaxed.wasm), else 0. */
export function relaxedBuild(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}

/**
 * q8_0 weights × activations. M = 1: the matvec on int8 activations (xq i16, xd scales). M ≥ 2:
 * the SIMD128 tile on the same activations, or in the relaxed build the relaxed tile, whose
 * activations are 7-bit with zero point 64 (quantizeRowsU7: xq u8, xd scales).
 */
export function matmulQ8_0(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M < 2) matmulQ8_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else if (ASC_FEATURE_RELAXED_SIMD) matmulQ8_0TileRelaxed(out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else matmulQ8_0Tile(KIND_Q8_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
}

/** q8_0 weights × int8 activations on the SIMD128 kernels in either build (exact-int8 tests, comparisons). */
export function matmulQ8_0Simd(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M < 2) matmulQ8_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else matmulQ8_0Tile(KIND_Q8_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
}

/**
 * q4_0 weights × int8 activations: one row at a time for M = 1, the tile for M ≥ 2. In the relaxed
 * build M ≥ 2 takes the relaxed tile (exact: same values as the SIMD128 tile), whose activations
 * come from quantizeRowsI8 as bytes with i32 block sums at xd + align64(M·K/32·4) (the JS wrapper's
 * layout: xq, then xd, then the sums).
 */
export function matmulQ4_0(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M < 2) matmulQ4_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc);
  else if (ASC_FEATURE_RELAXED_SIMD) matmulQ4_0TileRelaxed(out, xq, xd, xd + ((<usize>M * (K >> 5) * 4 + 63) & ~63), w, M, K, N, n0, n1, acc, scratch);
  else matmulQ8_0Tile(KIND_Q4_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
}

/** q4_0 × int8 activations on the SIMD128 kernels in either build (comparisons). */
export function matmulQ4_0Simd(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M >= 2) matmulQ8_0Tile(KIND_Q4_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else matmulQ4_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc);
}

/**
 * K-quants × int8 activations for M ≥ 2 (kind: 2 q4_K, 3 q5_K, 4 q6_K): weights widened once per
 * 4-row group as q·(sub-block scale) in i16, then q8_0's batch kernel, plus the min term.
 * xs: block sums Σxq (needed for q4_K/q5_K). Scratch: 9·K bytes.
 */
export function matmulKQuantBatch(kind: i32, out: usize, xq: usize, xd: usize, xs: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  matmulQ8_0Batch(kind, out, xq, xd, xs, w, M, K, N, n0, n1, acc, scratch);
}
