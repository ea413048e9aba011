// @ts-nocheck — AssemblyScript.
// M ≥ 2 (batched decode, prefill), SIMD128: the 8 × 4 register tile for q8_0 / q4_0 weights ×
// int8 activations, i16 pair dots (i32x4.dot_i16x8_s). Variant 1 of the tile; the spec is the
// reference matmul (kernels/reference.ts), the test conformance.test.ts.
import { F16_MASK, TWO112 } from '../f16';
import { blockI8, touchGroupBlock, KIND_Q4_0 } from './common';
import { matmulQ8_0Batch } from './q8-batch';

/**
 * Transpose one half-block (16 int8 values = pairs 8h … 8h+7) of 4 rows a, b, c, d into the tile
 * layout: pair p of the 4 rows is 8 contiguous bytes [a_p b_p c_p d_p] (2 bytes each) at
 * dst + p·16 (dst already offset by the quad, 0 or 8). i16 then i32 interleaves, no widening here:
 * the inner loop widens with v128.load8x8_s, which costs what a plain load costs.
 */
// @ts-ignore: decorator
@inline export function storePairsT8(dst: usize, a: v128, b: v128, c: v128, d: v128): void {
  const abLo = v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), abHi = v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
  const cdLo = v128.shuffle<i16>(c, d, 0, 8, 1, 9, 2, 10, 3, 11), cdHi = v128.shuffle<i16>(c, d, 4, 12, 5, 13, 6, 14, 7, 15);
  const t0 = v128.shuffle<i32>(abLo, cdLo, 0, 4, 1, 5), t1 = v128.shuffle<i32>(abLo, cdLo, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(abHi, cdHi, 0, 4, 1, 5), t3 = v128.shuffle<i32>(abHi, cdHi, 2, 6, 3, 7);
  v128.store64_lane(dst, t0, 0); v128.store64_lane(dst, t0, 1, 16);
  v128.store64_lane(dst, t1, 0, 32); v128.store64_lane(dst, t1, 1, 48);
  v128.store64_lane(dst, t2, 0, 64); v128.store64_lane(dst, t2, 1, 80);
  v128.store64_lane(dst, t3, 0, 96); v128.store64_lane(dst, t3, 1, 112);
}


/**
 * q8_0 / q4_0 × int8 activations for M ≥ 2, as an 8 × 4 register tile (8 weight rows × 4
 * activation rows). Per group of 8 weight rows the int8 weights are transposed once into scratch
 * so that 8 bytes hold the same pair (k, k+1) of 4 rows: ws + b·256 + p·16 + q·8 = rows 4q…4q+3,
 * pair p of block b; the 8 block scales at sc + b·32. The inner loop widens a row quad with
 * v128.load8x8_s (one i16 pair per i32 lane), broadcasts one activation pair (v128.load32_splat) and
 * multiplies them (i32x4.dot_i16x8_s), so each i32 lane is one (activation row, weight row) output: no horizontal
 * sums (the 4-row kernel above spends ≈ 20% of its ops on them) and every load feeds 2–4 dots.
 * Float accumulators (4 rows × 8 outputs) live in scratch at fa; per block each lane gets
 * (f32(Σ) · d_w) · d_x in the same order as matmulQ8_0Batch, so both kernels give bit-identical
 * outputs and the chunking (multiples of 4 rows) never changes a result.
 * Rows past the last full group of 8 go to matmulQ8_0Batch.
 */
export function matmulQ8_0Tile(kind: i32, out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nb = K >> 5;
  const q4 = kind == KIND_Q4_0;
  const bb: usize = q4 ? 18 : 34;
  const rb = <usize>nb * bb;
  const ws = scratch, sc = scratch + (<usize>nb << 8), fa = sc + (<usize>nb << 5);
  const xrow = <usize>K << 1, drow = <usize>nb << 2;
  // Touch-ahead (see matmulQ8_0Rows): the next group of 8 rows is 8·rb contiguous bytes, touched
  // 8·bb bytes per block during the first activation tile's pass over this group (spread over the
  // compute, not bunched into the widening, whose loads would then queue behind the misses).
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  let n = n0;
  for (; n + 8 <= n1; n += 8) {
    const w0 = w + <usize>n * rb;
    const ahead = w0 + 8 * rb;
    for (let b = 0; b < nb; b++) {
      const o = ws + (<usize>b << 8);
      for (let q = 0; q < 2; q++) {
        const pa = w0 + <usize>(q << 2) * rb + <usize>b * bb + 2;
        const pb = pa + rb, pc = pb + rb, pd = pc + rb;
        for (let h = 0; h < 2; h++) {
          storePairsT8(o + (<usize>h << 7) + (<usize>q << 3), blockI8(pa, h, q4), blockI8(pb, h, q4), blockI8(pc, h, q4), blockI8(pd, h, q4));
        }
      }
      // the 8 rows' f16 block scales, converted 4 at a time (h2f's bit trick, vectorized: same values)
      const p = w0 + <usize>b * bb;
      let g = i32x4.splat(<i32>load<i16>(p));
      g = i32x4.replace_lane(g, 1, <i32>load<i16>(p + rb));
      g = i32x4.replace_lane(g, 2, <i32>load<i16>(p + 2 * rb));
      g = i32x4.replace_lane(g, 3, <i32>load<i16>(p + 3 * rb));
      let h = i32x4.splat(<i32>load<i16>(p + 4 * rb));
      h = i32x4.replace_lane(h, 1, <i32>load<i16>(p + 5 * rb));
      h = i32x4.replace_lane(h, 2, <i32>load<i16>(p + 6 * rb));
      h = i32x4.replace_lane(h, 3, <i32>load<i16>(p + 7 * rb));
      v128.store(sc + (<usize>b << 5), f32x4.mul(v128.and(i32x4.shl(g, 13), i32x4.splat(F16_MASK)), f32x4.splat(TWO112)));
      v128.store(sc + (<usize>b << 5), f32x4.mul(v128.and(i32x4.shl(h, 13), i32x4.splat(F16_MASK)), f32x4.splat(TWO112)), 16);
    }
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const x0 = xq + <usize>m * xrow, x1 = x0 + xrow, x2 = x1 + xrow, x3 = x2 + xrow;
      const d0 = xd + <usize>m * drow, d1 = d0 + drow, d2 = d1 + drow, d3 = d2 + drow;
      const z = f32x4.splat(0);
      for (let i = 0; i < 8; i++) v128.store(fa + (<usize>i << 4), z);
      for (let b = 0; b < nb; b++) {
        if (m == 0) touched |= touchGroupBlock(ahead + <usize>b * (bb << 3), q4, lim);
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 6;
        let s0 = i32x4.splat(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (let pp = 0; pp < 16; pp++) {
          const wa = v128.load8x8_s(o + (<usize>pp << 4)), wb = v128.load8x8_s(o + (<usize>pp << 4), 8);
          const xo2 = xo + (<usize>pp << 2);
          const v0 = v128.load32_splat(x0 + xo2);
          s0 = i32x4.add(s0, i32x4.dot_i16x8_s(wa, v0)); s1 = i32x4.add(s1, i32x4.dot_i16x8_s(wb, v0));
          const v1 = v128.load32_splat(x1 + xo2);
          s2 = i32x4.add(s2, i32x4.dot_i16x8_s(wa, v1)); s3 = i32x4.add(s3, i32x4.dot_i16x8_s(wb, v1));
          const v2 = v128.load32_splat(x2 + xo2);
          s4 = i32x4.add(s4, i32x4.dot_i16x8_s(wa, v2)); s5 = i32x4.add(s5, i32x4.dot_i16x8_s(wb, v2));
          const v3 = v128.load32_splat(x3 + xo2);
          s6 = i32x4.add(s6, i32x4.dot_i16x8_s(wa, v3)); s7 = i32x4.add(s7, i32x4.dot_i16x8_s(wb, v3));
        }
        const sa = v128.load(sc + (<usize>b << 5)), sb = v128.load(sc + (<usize>b << 5), 16);
        const bo = <usize>b << 2;
        const e0 = v128.load32_splat(d0 + bo), e1 = v128.load32_splat(d1 + bo), e2 = v128.load32_splat(d2 + bo), e3 = v128.load32_splat(d3 + bo);
        v128.store(fa, f32x4.add(v128.load(fa), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s0), sa), e0)));
        v128.store(fa, f32x4.add(v128.load(fa, 16), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s1), sb), e0)), 16);
        v128.store(fa, f32x4.add(v128.load(fa, 32), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s2), sa), e1)), 32);
        v128.store(fa, f32x4.add(v128.load(fa, 48), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s3), sb), e1)), 48);
        v128.store(fa, f32x4.add(v128.load(fa, 64), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s4), sa), e2)), 64);
        v128.store(fa, f32x4.add(v128.load(fa, 80), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s5), sb), e2)), 80);
        v128.store(fa, f32x4.add(v128.load(fa, 96), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s6), sa), e3)), 96);
        v128.store(fa, f32x4.add(v128.load(fa, 112), f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s7), sb), e3)), 112);
      }
      for (let i = 0; i < 4; i++) {
        const oa = out + ((<usize>(m + i) * N + n) << 2);
        const fa0 = v128.load(fa + (<usize>i << 5)), fa1 = v128.load(fa + (<usize>i << 5), 16);
        v128.store(oa, acc ? f32x4.add(v128.load(oa), fa0) : fa0);
        v128.store(oa, acc ? f32x4.add(v128.load(oa, 16), fa1) : fa1, 16);
      }
    }
    for (; m < M; m++) { // 1–3 leftover activation rows
      const x0 = xq + <usize>m * xrow, d0 = xd + <usize>m * drow;
      let fa0 = f32x4.splat(0), fa1 = fa0;
      for (let b = 0; b < nb; b++) {
        if (M < 4 && m == 0) touched |= touchGroupBlock(ahead + <usize>b * (bb << 3), q4, lim);
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 6;
        let s0 = i32x4.splat(0), s1 = s0;
        for (let pp = 0; pp < 16; pp++) {
          const v0 = v128.load32_splat(x0 + xo + (<usize>pp << 2));
          s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.load8x8_s(o + (<usize>pp << 4)), v0));
          s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.load8x8_s(o + (<usize>pp << 4), 8), v0));
        }
        const e0 = v128.load32_splat(d0 + (<usize>b << 2));
        fa0 = f32x4.add(fa0, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s0), v128.load(sc + (<usize>b << 5))), e0));
        fa1 = f32x4.add(fa1, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s1), v128.load(sc + (<usize>b << 5), 16)), e0));
      }
      const oa = out + ((<usize>m * N + n) << 2);
      v128.store(oa, acc ? f32x4.add(v128.load(oa), fa0) : fa0);
      v128.store(oa, acc ? f32x4.add(v128.load(oa, 16), fa1) : fa1, 16);
    }
  }
  if (touched > 255) unreachable();
  if (n < n1) matmulQ8_0Batch(kind, out, xq, xd, 0, w, M, K, N, n, n1, acc, scratch);
}
