// @ts-nocheck — AssemblyScript.
// out (M, N) = x (M, K) · Wᵀ for the output features [n0, n1) (one thread's share).
//
// Two strategies:
//  • q8_0 / q4_0 weights: integer path, as llama.cpp's vec_dot_q8_0_q8_0. The caller first
//    quantizes each activation row into 32-wide blocks (quantizeRowsQ8, below): xq = int8 values
//    widened to i16 (M, K) and xd = per-block f32 scales (M, K/32). A weight block's 32 int8
//    values are sign-extended on load (v128.load8x8_s) and multiplied with i32x4.dot_i16x8_s;
//    the i32 partial sums are scaled by d_w·d_x once per block. Two weight rows per pass share
//    each activation load. Rows stream from memory once and stay in L1 for the remaining M−1 rows.
//  • everything else (and M ≥ 2 for the float types): dequantize up to 4 weight rows into the
//    thread's scratch (f32, 4·K), then a 2×4 register tile (2 activation rows × 4 weight rows,
//    8 f32x4 accumulators) runs dot products along K. f32 weights are read in place.
//    For M = 1 f16/bf16/f32 use fused 1×4 dots that convert on load.
import { h2f, h2f4k, f16Mask, f16Scale, bf2f4, F16_MASK, TWO112 } from './f16';
import { hsum } from './math';
import { deqF16, deqBF16, deqQ8_0, deqQ4_0, deqQ4_K, deqQ5_K, deqQ6_K } from './dequant';

// dtype codes shared with the JS wrapper (wasm-kernels.ts DTYPE_CODE).
export const DT_F32 = 0;
export const DT_F16 = 1;
export const DT_BF16 = 2;
export const DT_Q8_0 = 3;
export const DT_Q4_0 = 4;
export const DT_Q4_K = 5;
export const DT_Q5_K = 6;
export const DT_Q6_K = 7;

// @ts-ignore: decorator
@inline function put(out: usize, v: f32, acc: i32): void {
  store<f32>(out, acc ? load<f32>(out) + v : v);
}

// ---- activation quantization (for the integer path) ----

/**
 * x (M, K) f32 → xq (M, K) i16 holding int8 values, xd (M, K/32) f32 scales (ggml q8_0 math),
 * and when xs ≠ 0 xs (M, K/32) f32 block sums Σ xq (the K-quants' min term needs them).
 */
export function quantizeRowsQ8(x: usize, xq: usize, xd: usize, M: i32, K: i32, xs: usize): void {
  const nb = K >> 5;
  const signMask = i32x4.splat(0x7fffffff);
  for (let m = 0; m < M; m++) {
    for (let b = 0; b < nb; b++) {
      const p = x + ((<usize>m * K + (b << 5)) << 2);
      let amax = v128.and(v128.load(p), signMask);
      for (let j = 1; j < 8; j++) amax = f32x4.max(amax, v128.and(v128.load(p + (j << 4)), signMask));
      const a = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
      const d: f32 = a / 127.0;
      const id = f32x4.splat(d != 0 ? 1.0 / d : 0.0);
      store<f32>(xd + ((<usize>m * nb + b) << 2), d);
      const q = xq + ((<usize>m * K + (b << 5)) << 1);
      for (let j = 0; j < 4; j++) {
        const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p + (j << 5)), id)));
        const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(p + (j << 5) + 16), id)));
        v128.store(q + (j << 4), i16x8.narrow_i32x4_s(lo, hi));
      }
      if (xs) {
        let t = i32x4.extadd_pairwise_i16x8_s(v128.load(q));
        t = i32x4.add(t, i32x4.extadd_pairwise_i16x8_s(v128.load(q, 16)));
        t = i32x4.add(t, i32x4.extadd_pairwise_i16x8_s(v128.load(q, 32)));
        t = i32x4.add(t, i32x4.extadd_pairwise_i16x8_s(v128.load(q, 48)));
        const sum = i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 1) + i32x4.extract_lane(t, 2) + i32x4.extract_lane(t, 3);
        store<f32>(xs + ((<usize>m * nb + b) << 2), <f32>sum);
      }
    }
  }
}

// ---- integer path ----

/** Weight block of 32 values → 4 i16x8 (int8 range), for q8_0 and q4_0. */
// @ts-ignore: decorator
@inline function dotBlockQ8(w: usize, xq: usize): v128 {
  // w points at the 32 int8 values; xq at 32 i16.
  let s = i32x4.dot_i16x8_s(v128.load8x8_s(w), v128.load(xq));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 8), v128.load(xq + 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 16), v128.load(xq + 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 24), v128.load(xq + 48)));
}

/** Σ over one 32-value block of int8 weights (at w) × i16 activations (x0..x3, 8 lanes each) → i32x4 partials. */
// @ts-ignore: decorator
@inline function dotQ8(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let s = i32x4.dot_i16x8_s(v128.load8x8_s(w), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 8), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 16), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 24), x3));
}

/** Horizontal sums of four i32x4 → one i32x4 [Σa, Σb, Σc, Σd]. */
// @ts-ignore: decorator
@inline function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}

/**
 * q8_0 weights × int8 activations. Four weight rows per pass: their block scales are converted
 * once into `scratch` (interleaved, 4 f32 per block), each activation block is loaded once for
 * the four rows, and the four i32 block sums are reduced into one i32x4 so that conversion and
 * scaling cost one vector op per block, not four. Outputs of a 4-row group leave as one store.
 */
function matmulQ8_0Rows(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nb = K >> 5;
  const rb = <usize>nb * 34;
  let n = n0;
  // Touch loads run one 4-row group ahead (two cache lines per block step), so the next group
  // is already on its way from DRAM: without them the out-of-order window alone keeps too few
  // misses in flight and a matvec streams at ≈5 GB/s instead of ≈13 (README). Clamped to memory.
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  for (; n + 4 <= n1; n += 4) {
    const w0 = w + <usize>n * rb, w1 = w0 + rb, w2 = w1 + rb, w3 = w2 + rb;
    const ahead = w0 + 4 * rb;
    for (let m = 0; m < M; m++) {
      const xm = xq + ((<usize>m * K) << 1);
      const dm = xd + ((<usize>m * nb) << 2);
      let a = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const pb = <usize>b * 34 + 2;
        const xb = xm + (<usize>b << 6);
        const t = ahead + <usize>b * 136;
        touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim));
        const x0 = v128.load(xb), x1 = v128.load(xb, 16), x2 = v128.load(xb, 32), x3 = v128.load(xb, 48);
        const s = hsum4(dotQ8(w0 + pb, x0, x1, x2, x3), dotQ8(w1 + pb, x0, x1, x2, x3), dotQ8(w2 + pb, x0, x1, x2, x3), dotQ8(w3 + pb, x0, x1, x2, x3));
        // the 4 rows' f16 block scales, gathered and converted as one vector (f16.ts trick)
        let g = i32x4.splat(<i32>load<i16>(w0 + pb - 2));
        g = i32x4.replace_lane(g, 1, <i32>load<i16>(w1 + pb - 2));
        g = i32x4.replace_lane(g, 2, <i32>load<i16>(w2 + pb - 2));
        g = i32x4.replace_lane(g, 3, <i32>load<i16>(w3 + pb - 2));
        const wd = f32x4.mul(v128.and(i32x4.shl(g, 13), i32x4.splat(F16_MASK)), f32x4.splat(TWO112));
        const sc = f32x4.mul(wd, f32x4.splat(load<f32>(dm + (<usize>b << 2))));
        a = f32x4.add(a, f32x4.mul(f32x4.convert_i32x4_s(s), sc));
      }
      const o = out + ((<usize>m * N + n) << 2);
      v128.store(o, acc ? f32x4.add(v128.load(o), a) : a);
    }
  }
  if (touched > 255) unreachable(); // never: keeps the touch loads alive through the optimizer
  for (; n < n1; n++) {
    const w0 = w + <usize>n * rb;
    for (let m = 0; m < M; m++) {
      const xm = xq + ((<usize>m * K) << 1);
      const dm = xd + ((<usize>m * nb) << 2);
      let a0 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const pb = <usize>b * 34;
        const s0 = dotBlockQ8(w0 + pb + 2, xm + (<usize>b << 6));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.splat(h2f(w0 + pb) * load<f32>(dm + (<usize>b << 2)))));
      }
      put(out + ((<usize>m * N + n) << 2), hsum(a0), acc);
    }
  }
}

/** Σ of one block: 4 i16x8 weight vectors (at w, already widened) × 4 i16x8 activations → i32x4. */
// @ts-ignore: decorator
@inline function dotW16(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let s = i32x4.dot_i16x8_s(v128.load(w), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 16), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 32), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 48), x3));
}

/**
 * q8_0 × int8 activations for M ≥ 2 (batched decode, prefill). Per 4-row group the weights are
 * widened to i16 once into `scratch` (block-interleaved: 4 rows × 32 i16 = 256 B per block, then
 * the 4 scales per block), instead of once per activation row; activation rows go in pairs so
 * each weight vector loaded serves two rows.
 */
// kinds of the widened-weights batch kernel
const KIND_Q8_0 = 0, KIND_Q4_0 = 1, KIND_Q4_K = 2, KIND_Q5_K = 3, KIND_Q6_K = 4;

/**
 * Widen one K-quant super-block of one row into the batch kernel's layout: for each of its 8
 * blocks of 32, 32 i16 = q·(sub-block scale) at ws + block·256 + row·64; the block's f32 scale
 * (d) into sc and its min coefficient (dmin·m_j, 0 for q6_K) into mn, lane `row`. q·scale fits
 * i16 (q4_K ≤ 945, q5_K ≤ 1953, q6_K ≤ 4096) and its products with int8 activations fit i32 sums.
 */
function widenKQuant(kind: i32, p: usize, row: i32, blk0: i32, ws: usize, sc: usize, mn: usize): void {
  const ro = <usize>row << 6;
  if (kind == KIND_Q6_K) {
    const d = h2f(p + 208);
    const m4 = i8x16.splat(15), m2 = i8x16.splat(3), off = i8x16.splat(32);
    for (let j = 0; j < 8; j++) {
      store<f32>(sc + (<usize>(blk0 + j) << 4) + (<usize>row << 2), d);
      store<f32>(mn + (<usize>(blk0 + j) << 4) + (<usize>row << 2), 0);
    }
    for (let half = 0; half < 2; half++) {
      const ql = p + (<usize>half << 6), qh = p + 128 + (<usize>half << 5), scp = p + 192 + (<usize>half << 3);
      const a0 = v128.load(ql), a1 = v128.load(ql, 16), c0 = v128.load(ql, 32), c1 = v128.load(ql, 48);
      const hA = v128.load(qh), hB = v128.load(qh, 16);
      // 16-value groups in element order: (q1 l0..15, q1 l16..31, q2 …, q3 …, q4 …) = sub-blocks 0..7 of this half
      for (let g = 0; g < 8; g++) {
        let q: v128;
        switch (g) {
          case 0: q = v128.or(v128.and(a0, m4), i8x16.shl(v128.and(hA, m2), 4)); break;
          case 1: q = v128.or(v128.and(a1, m4), i8x16.shl(v128.and(hB, m2), 4)); break;
          case 2: q = v128.or(v128.and(c0, m4), i8x16.shl(v128.and(i8x16.shr_u(hA, 2), m2), 4)); break;
          case 3: q = v128.or(v128.and(c1, m4), i8x16.shl(v128.and(i8x16.shr_u(hB, 2), m2), 4)); break;
          case 4: q = v128.or(i8x16.shr_u(a0, 4), i8x16.shl(v128.and(i8x16.shr_u(hA, 4), m2), 4)); break;
          case 5: q = v128.or(i8x16.shr_u(a1, 4), i8x16.shl(v128.and(i8x16.shr_u(hB, 4), m2), 4)); break;
          case 6: q = v128.or(i8x16.shr_u(c0, 4), i8x16.shl(i8x16.shr_u(hA, 6), 4)); break;
          default: q = v128.or(i8x16.shr_u(c1, 4), i8x16.shl(i8x16.shr_u(hB, 6), 4)); break;
        }
        q = i8x16.sub(q, off);
        const s = i16x8.splat(<i16>load<i8>(scp + g));
        const e = (half << 7) + (g << 4); // first element of the group in the super-block
        const dst = ws + (<usize>(blk0 + (e >> 5)) << 8) + ro + (<usize>(e & 31) << 1);
        v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_s(q), s));
        v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_s(q), s), 16);
      }
    }
    return;
  }
  // q4_K / q5_K
  const d = h2f(p), dmin = h2f(p + 2);
  const q6 = p + 4;
  const hasHigh = kind == KIND_Q5_K;
  const qs = p + (hasHigh ? 48 : 16);
  const mask = i8x16.splat(15), zero = i8x16.splat(0), sixteen = i8x16.splat(16);
  let h0 = zero, h1 = zero;
  if (hasHigh) { h0 = v128.load(p + 16); h1 = v128.load(p + 32); }
  for (let j = 0; j < 8; j++) {
    const scj = j < 4 ? <i32>load<u8>(q6 + j) & 63 : (<i32>load<u8>(q6 + j + 4) & 15) | ((<i32>load<u8>(q6 + j - 4) >> 6) << 4);
    const mj = j < 4 ? <i32>load<u8>(q6 + j + 4) & 63 : (<i32>load<u8>(q6 + j + 4) >> 4) | ((<i32>load<u8>(q6 + j) >> 6) << 4);
    store<f32>(sc + (<usize>(blk0 + j) << 4) + (<usize>row << 2), d);
    store<f32>(mn + (<usize>(blk0 + j) << 4) + (<usize>row << 2), dmin * <f32>mj);
    const g = j >> 1;
    const v0 = v128.load(qs + (<usize>g << 5)), v1 = v128.load(qs + (<usize>g << 5), 16);
    let l0: v128, l1: v128;
    if (j & 1) { l0 = i8x16.shr_u(v0, 4); l1 = i8x16.shr_u(v1, 4); } else { l0 = v128.and(v0, mask); l1 = v128.and(v1, mask); }
    if (hasHigh) {
      const bit = i8x16.splat(<i8>(<i32>1 << j));
      l0 = v128.or(l0, v128.and(v128.not(i8x16.eq(v128.and(h0, bit), zero)), sixteen));
      l1 = v128.or(l1, v128.and(v128.not(i8x16.eq(v128.and(h1, bit), zero)), sixteen));
    }
    const s = i16x8.splat(<i16>scj);
    const dst = ws + (<usize>(blk0 + j) << 8) + ro;
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_u(l0), s));
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_u(l0), s), 16);
    v128.store(dst, i16x8.mul(i16x8.extend_low_i8x16_u(l1), s), 32);
    v128.store(dst, i16x8.mul(i16x8.extend_high_i8x16_u(l1), s), 48);
  }
}

function matmulQ8_0Batch(kind: i32, out: usize, xq: usize, xd: usize, xs: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nb = K >> 5;
  const q4 = kind == KIND_Q4_0;
  const kq = kind >= KIND_Q4_K;
  const hasMin = kind == KIND_Q4_K || kind == KIND_Q5_K;
  // bytes per 32-value block (q8_0, q4_0) or per 256-value super-block (K-quants)
  const bb: usize = kind == KIND_Q8_0 ? 34 : kind == KIND_Q4_0 ? 18 : kind == KIND_Q4_K ? 144 : kind == KIND_Q5_K ? 176 : 210;
  const rb = kq ? <usize>(K >> 8) * bb : <usize>nb * bb;
  const ws = scratch, sc = scratch + (<usize>nb << 8), mnp = sc + (<usize>nb << 4);
  const mask = i8x16.splat(15), eight = i8x16.splat(8);
  let n = n0;
  for (; n + 4 <= n1; n += 4) {
    const w0 = w + <usize>n * rb;
    if (kq) {
      for (let r = 0; r < 4; r++) for (let sb = 0; sb < (K >> 8); sb++) widenKQuant(kind, w0 + <usize>r * rb + <usize>sb * bb, r, sb << 3, ws, sc, mnp);
    } else for (let b = 0; b < nb; b++) {
      const o = ws + (<usize>b << 8);
      for (let r = 0; r < 4; r++) {
        const p = w0 + <usize>r * rb + <usize>b * bb;
        const d = o + (<usize>r << 6);
        if (q4) {
          const v = v128.load(p + 2);
          const lo = i8x16.sub(v128.and(v, mask), eight), hi = i8x16.sub(i8x16.shr_u(v, 4), eight);
          v128.store(d, i16x8.extend_low_i8x16_s(lo));
          v128.store(d, i16x8.extend_high_i8x16_s(lo), 16);
          v128.store(d, i16x8.extend_low_i8x16_s(hi), 32);
          v128.store(d, i16x8.extend_high_i8x16_s(hi), 48);
        } else {
          v128.store(d, v128.load8x8_s(p + 2));
          v128.store(d, v128.load8x8_s(p + 10), 16);
          v128.store(d, v128.load8x8_s(p + 18), 32);
          v128.store(d, v128.load8x8_s(p + 26), 48);
        }
      }
      const p = w0 + <usize>b * bb;
      v128.store(sc + (<usize>b << 4), f32x4(h2f(p), h2f(p + rb), h2f(p + 2 * rb), h2f(p + 3 * rb)));
    }
    let m = 0;
    for (; m + 2 <= M; m += 2) {
      const xa = xq + ((<usize>m * K) << 1), xb = xa + (<usize>K << 1);
      const da = xd + ((<usize>m * nb) << 2), db = da + (<usize>nb << 2);
      const sa = xs + ((<usize>m * nb) << 2), sbb = sa + (<usize>nb << 2);
      let aa = f32x4.splat(0), ab = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 6;
        const x0 = v128.load(xa + xo), x1 = v128.load(xa + xo, 16), x2 = v128.load(xa + xo, 32), x3 = v128.load(xa + xo, 48);
        const y0 = v128.load(xb + xo), y1 = v128.load(xb + xo, 16), y2 = v128.load(xb + xo, 32), y3 = v128.load(xb + xo, 48);
        const s = hsum4(dotW16(o, x0, x1, x2, x3), dotW16(o + 64, x0, x1, x2, x3), dotW16(o + 128, x0, x1, x2, x3), dotW16(o + 192, x0, x1, x2, x3));
        const t = hsum4(dotW16(o, y0, y1, y2, y3), dotW16(o + 64, y0, y1, y2, y3), dotW16(o + 128, y0, y1, y2, y3), dotW16(o + 192, y0, y1, y2, y3));
        const scw = v128.load(sc + (<usize>b << 4));
        let fs = f32x4.mul(f32x4.convert_i32x4_s(s), scw), ft = f32x4.mul(f32x4.convert_i32x4_s(t), scw);
        if (hasMin) { // − dmin·m_j·Σxq (K-quant mins)
          const mnw = v128.load(mnp + (<usize>b << 4));
          fs = f32x4.sub(fs, f32x4.mul(mnw, f32x4.splat(load<f32>(sa + (<usize>b << 2)))));
          ft = f32x4.sub(ft, f32x4.mul(mnw, f32x4.splat(load<f32>(sbb + (<usize>b << 2)))));
        }
        aa = f32x4.add(aa, f32x4.mul(fs, f32x4.splat(load<f32>(da + (<usize>b << 2)))));
        ab = f32x4.add(ab, f32x4.mul(ft, f32x4.splat(load<f32>(db + (<usize>b << 2)))));
      }
      const oa = out + ((<usize>m * N + n) << 2), ob = oa + (<usize>N << 2);
      v128.store(oa, acc ? f32x4.add(v128.load(oa), aa) : aa);
      v128.store(ob, acc ? f32x4.add(v128.load(ob), ab) : ab);
    }
    if (m < M) {
      const xa = xq + ((<usize>m * K) << 1);
      const da = xd + ((<usize>m * nb) << 2);
      let aa = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 6;
        const x0 = v128.load(xa + xo), x1 = v128.load(xa + xo, 16), x2 = v128.load(xa + xo, 32), x3 = v128.load(xa + xo, 48);
        const s = hsum4(dotW16(o, x0, x1, x2, x3), dotW16(o + 64, x0, x1, x2, x3), dotW16(o + 128, x0, x1, x2, x3), dotW16(o + 192, x0, x1, x2, x3));
        let fs = f32x4.mul(f32x4.convert_i32x4_s(s), v128.load(sc + (<usize>b << 4)));
        if (hasMin) fs = f32x4.sub(fs, f32x4.mul(v128.load(mnp + (<usize>b << 4)), f32x4.splat(load<f32>(xs + ((<usize>m * nb + b) << 2)))));
        aa = f32x4.add(aa, f32x4.mul(fs, f32x4.splat(load<f32>(da + (<usize>b << 2)))));
      }
      const oa = out + ((<usize>m * N + n) << 2);
      v128.store(oa, acc ? f32x4.add(v128.load(oa), aa) : aa);
    }
  }
  if (n < n1) { // < 4 leftover rows
    if (q4) matmulQ4_0Rows(out, xq, xd, w, M, K, N, n, n1, acc);
    else if (kind == KIND_Q8_0) matmulQ8_0Rows(out, xq, xd, w, M, K, N, n, n1, acc, scratch);
    else if (kind == KIND_Q6_K) matmulQ6K(out, xq, xd, w, M, K, N, n, n1, acc);
    else matmulQ45K(kind == KIND_Q5_K ? 1 : 0, out, xq, xd, xs, w, M, K, N, n, n1, acc, scratch);
  }
}

/**
 * Transpose one half-block (16 int8 values = pairs 8h … 8h+7) of 4 rows a, b, c, d into the tile
 * layout: pair p of the 4 rows is 8 contiguous bytes [a_p b_p c_p d_p] (2 bytes each) at
 * dst + p·16 (dst already offset by the quad, 0 or 8). i16 then i32 interleaves, no widening here:
 * the inner loop widens with v128.load8x8_s, which costs what a plain load costs.
 */
// @ts-ignore: decorator
@inline function storePairsT8(dst: usize, a: v128, b: v128, c: v128, d: v128): void {
  const abLo = v128.shuffle<i16>(a, b, 0, 8, 1, 9, 2, 10, 3, 11), abHi = v128.shuffle<i16>(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
  const cdLo = v128.shuffle<i16>(c, d, 0, 8, 1, 9, 2, 10, 3, 11), cdHi = v128.shuffle<i16>(c, d, 4, 12, 5, 13, 6, 14, 7, 15);
  const t0 = v128.shuffle<i32>(abLo, cdLo, 0, 4, 1, 5), t1 = v128.shuffle<i32>(abLo, cdLo, 2, 6, 3, 7);
  const t2 = v128.shuffle<i32>(abHi, cdHi, 0, 4, 1, 5), t3 = v128.shuffle<i32>(abHi, cdHi, 2, 6, 3, 7);
  v128.store64_lane(dst, t0, 0); v128.store64_lane(dst, t0, 1, 16);
  v128.store64_lane(dst, t1, 0, 32); v128.store64_lane(dst, t1, 1, 48);
  v128.store64_lane(dst, t2, 0, 64); v128.store64_lane(dst, t2, 1, 80);
  v128.store64_lane(dst, t3, 0, 96); v128.store64_lane(dst, t3, 1, 112);
}

/** int8 values 16·h … 16·h+15 of a 32-value q8_0 (q4 = false) or q4_0 (q4 = true) block whose quants start at p. */
// @ts-ignore: decorator
@inline function blockI8(p: usize, h: i32, q4: bool): v128 {
  if (!q4) return v128.load(p + (<usize>h << 4));
  const v = v128.load(p);
  return i8x16.sub(h ? i8x16.shr_u(v, 4) : v128.and(v, i8x16.splat(15)), i8x16.splat(8));
}

/** One 1-byte load per 64 bytes of a group-block (8 rows × 34 or 18 bytes) at t, clamped to memory. */
// @ts-ignore: decorator
@inline function touchGroupBlock(t: usize, q4: bool, lim: usize): u32 {
  let r = <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim));
  if (!q4) r |= <u32>load<u8>(min(t + 192, lim)) | <u32>load<u8>(min(t + 256, lim));
  return r;
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
function matmulQ8_0Tile(kind: i32, out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
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

/** q8_0 weights × int8 activations: the matvec kernel for M = 1, the widened-weights kernel above. */
export function matmulQ8_0(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M >= 2) matmulQ8_0Tile(KIND_Q8_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else matmulQ8_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
}

// ---- K-quants × int8 activations ----
// A K-quant sub-block j of 32 (q4_K/q5_K) or 16 (q6_K) values is w = a_j·q − b_j with small
// integer q; against an int8 activation block (scale dₓ, values xq, sum Σxq):
//   Σ w·x = dₓ·(a_j·Σ q·xq − b_j·Σxq)
// so the inner loop is integer dot products, and the float work is one vector op per 4 sub-blocks.

/** Sum of 32 u8 lanes (two v128: values 0..31) × an i16 activation block at x → i32x4 partials. */
// @ts-ignore: decorator
@inline function dotU8x32(a: v128, b: v128, x: usize): v128 {
  let s = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(a), v128.load(x));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(a), v128.load(x, 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_u(b), v128.load(x, 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_u(b), v128.load(x, 48)));
}

/**
 * q4_K (hasHigh = 0) and q5_K (hasHigh = 1). Per row, the super-blocks' 8 scales d·sc_j and 8 mins
 * dmin·m_j are unpacked once into scratch (64 B per super-block), then reused for every activation row.
 */
export function matmulQ45K(hasHigh: i32, out: usize, xq: usize, xd: usize, xs: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nsb = K >> 8, nb = K >> 5;
  const bb: usize = hasHigh ? 176 : 144;
  const rb = <usize>nsb * bb;
  const qoff: usize = hasHigh ? 48 : 16;
  const mask = i8x16.splat(15), zero = i8x16.splat(0), sixteen = i8x16.splat(16);
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  for (let n = n0; n < n1; n++) {
    const wr = w + <usize>n * rb;
    for (let sb = 0; sb < nsb; sb++) {
      const p = wr + <usize>sb * bb;
      const d = h2f(p), dmin = h2f(p + 2);
      const q = p + 4;
      const o = scratch + (<usize>sb << 6);
      for (let j = 0; j < 8; j++) {
        const sc = j < 4 ? <i32>load<u8>(q + j) & 63 : (<i32>load<u8>(q + j + 4) & 15) | ((<i32>load<u8>(q + j - 4) >> 6) << 4);
        const mn = j < 4 ? <i32>load<u8>(q + j + 4) & 63 : (<i32>load<u8>(q + j + 4) >> 4) | ((<i32>load<u8>(q + j) >> 6) << 4);
        store<f32>(o + (<usize>j << 2), d * <f32>sc);
        store<f32>(o + 32 + (<usize>j << 2), dmin * <f32>mn);
      }
    }
    const ahead = wr + rb;
    for (let m = 0; m < M; m++) {
      const xm = xq + ((<usize>m * K) << 1);
      const dm = xd + ((<usize>m * nb) << 2), sm = xs + ((<usize>m * nb) << 2);
      let a = f32x4.splat(0);
      for (let sb = 0; sb < nsb; sb++) {
        const p = wr + <usize>sb * bb;
        const t = ahead + <usize>sb * bb;
        touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim));
        const qs = p + qoff;
        const xb = xm + (<usize>sb << 9);
        let h0 = zero, h1 = zero;
        if (hasHigh) { h0 = v128.load(p + 16); h1 = v128.load(p + 32); }
        // sub-blocks 2i (low nibbles) and 2i+1 (high nibbles) of the 32-byte group i
        let s0: v128, s1: v128, s2: v128, s3: v128, s4: v128, s5: v128, s6: v128, s7: v128;
        {
          const v0 = v128.load(qs), v1 = v128.load(qs, 16);
          let l0 = v128.and(v0, mask), l1 = v128.and(v1, mask), u0 = i8x16.shr_u(v0, 4), u1 = i8x16.shr_u(v1, 4);
          if (hasHigh) {
            l0 = v128.or(l0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(1)), zero)), sixteen));
            l1 = v128.or(l1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(1)), zero)), sixteen));
            u0 = v128.or(u0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(2)), zero)), sixteen));
            u1 = v128.or(u1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(2)), zero)), sixteen));
          }
          s0 = dotU8x32(l0, l1, xb); s1 = dotU8x32(u0, u1, xb + 64);
        }
        {
          const v0 = v128.load(qs, 32), v1 = v128.load(qs, 48);
          let l0 = v128.and(v0, mask), l1 = v128.and(v1, mask), u0 = i8x16.shr_u(v0, 4), u1 = i8x16.shr_u(v1, 4);
          if (hasHigh) {
            l0 = v128.or(l0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(4)), zero)), sixteen));
            l1 = v128.or(l1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(4)), zero)), sixteen));
            u0 = v128.or(u0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(8)), zero)), sixteen));
            u1 = v128.or(u1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(8)), zero)), sixteen));
          }
          s2 = dotU8x32(l0, l1, xb + 128); s3 = dotU8x32(u0, u1, xb + 192);
        }
        {
          const v0 = v128.load(qs, 64), v1 = v128.load(qs, 80);
          let l0 = v128.and(v0, mask), l1 = v128.and(v1, mask), u0 = i8x16.shr_u(v0, 4), u1 = i8x16.shr_u(v1, 4);
          if (hasHigh) {
            l0 = v128.or(l0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(16)), zero)), sixteen));
            l1 = v128.or(l1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(16)), zero)), sixteen));
            u0 = v128.or(u0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(32)), zero)), sixteen));
            u1 = v128.or(u1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(32)), zero)), sixteen));
          }
          s4 = dotU8x32(l0, l1, xb + 256); s5 = dotU8x32(u0, u1, xb + 320);
        }
        {
          const v0 = v128.load(qs, 96), v1 = v128.load(qs, 112);
          let l0 = v128.and(v0, mask), l1 = v128.and(v1, mask), u0 = i8x16.shr_u(v0, 4), u1 = i8x16.shr_u(v1, 4);
          if (hasHigh) {
            l0 = v128.or(l0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(64)), zero)), sixteen));
            l1 = v128.or(l1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(64)), zero)), sixteen));
            u0 = v128.or(u0, v128.and(v128.not(i8x16.eq(v128.and(h0, i8x16.splat(-128)), zero)), sixteen));
            u1 = v128.or(u1, v128.and(v128.not(i8x16.eq(v128.and(h1, i8x16.splat(-128)), zero)), sixteen));
          }
          s6 = dotU8x32(l0, l1, xb + 384); s7 = dotU8x32(u0, u1, xb + 448);
        }
        const S0 = f32x4.convert_i32x4_s(hsum4(s0, s1, s2, s3)), S1 = f32x4.convert_i32x4_s(hsum4(s4, s5, s6, s7));
        const o = scratch + (<usize>sb << 6);
        const bo = <usize>(sb << 3) << 2;
        // (a_j·Σq·xq − b_j·Σxq)·dₓ for sub-blocks 0..3 and 4..7
        const t0 = f32x4.mul(f32x4.sub(f32x4.mul(S0, v128.load(o)), f32x4.mul(v128.load(o, 32), v128.load(sm + bo))), v128.load(dm + bo));
        const t1 = f32x4.mul(f32x4.sub(f32x4.mul(S1, v128.load(o, 16)), f32x4.mul(v128.load(o, 48), v128.load(sm + bo, 16))), v128.load(dm + bo, 16));
        a = f32x4.add(a, f32x4.add(t0, t1));
      }
      put(out + ((<usize>m * N + n) << 2), hsum(a), acc);
    }
  }
  if (touched > 255) unreachable();
}

/**
 * K-quants × int8 activations for M ≥ 2 (kind: 2 q4_K, 3 q5_K, 4 q6_K): weights widened once per
 * 4-row group as q·(sub-block scale) in i16, then q8_0's batch kernel, plus the min term.
 * xs: block sums Σxq (needed for q4_K/q5_K). Scratch: 9·K bytes.
 */
export function matmulKQuantBatch(kind: i32, out: usize, xq: usize, xd: usize, xs: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  matmulQ8_0Batch(kind, out, xq, xd, xs, w, M, K, N, n0, n1, acc, scratch);
}

/** Σ of 16 signed i8 lanes × 16 i16 activations at x → i32x4 partials. */
// @ts-ignore: decorator
@inline function dotS8x16(q: v128, x: usize): v128 {
  return i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(q), v128.load(x)), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(q), v128.load(x, 16)));
}

/** q6_K: 16 sub-blocks of 16, q − 32 signed, int8 scales: Σ w·x = d·Σ_j sc_j·dₓ(j/2)·Σ (q−32)·xq. */
export function matmulQ6K(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32): void {
  const nsb = K >> 8, nb = K >> 5;
  const rb = <usize>nsb * 210;
  const m4 = i8x16.splat(15), m2 = i8x16.splat(3), off = i8x16.splat(32);
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  for (let n = n0; n < n1; n++) {
    const wr = w + <usize>n * rb;
    const ahead = wr + rb;
    for (let m = 0; m < M; m++) {
      const xm = xq + ((<usize>m * K) << 1);
      const dm = xd + ((<usize>m * nb) << 2);
      let a = f32x4.splat(0);
      for (let sb = 0; sb < nsb; sb++) {
        const p = wr + <usize>sb * 210;
        const t = ahead + <usize>sb * 210;
        touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim)) | <u32>load<u8>(min(t + 192, lim));
        const xb = xm + (<usize>sb << 9);
        // sub-block sums, 16 of them, in order: s[half*8 + k]
        let r0 = i32x4.splat(0), r1 = i32x4.splat(0), r2 = i32x4.splat(0), r3 = i32x4.splat(0);
        for (let half = 0; half < 2; half++) {
          const ql = p + (<usize>half << 6), qh = p + 128 + (<usize>half << 5);
          const xh = xb + (<usize>half << 8); // 128 i16 = 256 B per half
          const a0 = v128.load(ql), a1 = v128.load(ql, 16), c0 = v128.load(ql, 32), c1 = v128.load(ql, 48);
          const hA = v128.load(qh), hB = v128.load(qh, 16);
          // l-group 0 (l = 0..15) → subs 0,2,4,6 ; l-group 1 (l = 16..31) → subs 1,3,5,7
          const q10 = i8x16.sub(v128.or(v128.and(a0, m4), i8x16.shl(v128.and(hA, m2), 4)), off);
          const q11 = i8x16.sub(v128.or(v128.and(a1, m4), i8x16.shl(v128.and(hB, m2), 4)), off);
          const q20 = i8x16.sub(v128.or(v128.and(c0, m4), i8x16.shl(v128.and(i8x16.shr_u(hA, 2), m2), 4)), off);
          const q21 = i8x16.sub(v128.or(v128.and(c1, m4), i8x16.shl(v128.and(i8x16.shr_u(hB, 2), m2), 4)), off);
          const q30 = i8x16.sub(v128.or(i8x16.shr_u(a0, 4), i8x16.shl(v128.and(i8x16.shr_u(hA, 4), m2), 4)), off);
          const q31 = i8x16.sub(v128.or(i8x16.shr_u(a1, 4), i8x16.shl(v128.and(i8x16.shr_u(hB, 4), m2), 4)), off);
          const q40 = i8x16.sub(v128.or(i8x16.shr_u(c0, 4), i8x16.shl(i8x16.shr_u(hA, 6), 4)), off);
          const q41 = i8x16.sub(v128.or(i8x16.shr_u(c1, 4), i8x16.shl(i8x16.shr_u(hB, 6), 4)), off);
          const lo = hsum4(dotS8x16(q10, xh), dotS8x16(q11, xh + 32), dotS8x16(q20, xh + 64), dotS8x16(q21, xh + 96));
          const hi = hsum4(dotS8x16(q30, xh + 128), dotS8x16(q31, xh + 160), dotS8x16(q40, xh + 192), dotS8x16(q41, xh + 224));
          if (half == 0) { r0 = lo; r1 = hi; } else { r2 = lo; r3 = hi; }
        }
        // scales: int8 sc[16] → 4 f32x4; dₓ per sub-block pair
        const scv = v128.load(p + 192);
        const sl = i16x8.extend_low_i8x16_s(scv), sh = i16x8.extend_high_i8x16_s(scv);
        const sc0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(sl)), sc1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(sl));
        const sc2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(sh)), sc3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(sh));
        const bo = <usize>(sb << 3) << 2;
        const dA = v128.load(dm + bo), dB = v128.load(dm + bo, 16); // x blocks 0..3, 4..7 of this super-block
        const d01 = v128.shuffle<f32>(dA, dA, 0, 0, 1, 1), d23 = v128.shuffle<f32>(dA, dA, 2, 2, 3, 3);
        const d45 = v128.shuffle<f32>(dB, dB, 0, 0, 1, 1), d67 = v128.shuffle<f32>(dB, dB, 2, 2, 3, 3);
        let y = f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(r0), sc0), d01);
        y = f32x4.add(y, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(r1), sc1), d23));
        y = f32x4.add(y, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(r2), sc2), d45));
        y = f32x4.add(y, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(r3), sc3), d67));
        a = f32x4.add(a, f32x4.mul(y, f32x4.splat(h2f(p + 208))));
      }
      put(out + ((<usize>m * N + n) << 2), hsum(a), acc);
    }
  }
  if (touched > 255) unreachable();
}

/** q4_0 block (16 nibble bytes) · 32 activations. Nibbles − 8 give int8 values; low nibbles are elements 0..15. */
// @ts-ignore: decorator
@inline function dotBlockQ4(w: usize, xq: usize): v128 {
  const v = v128.load(w);
  const eight = i8x16.splat(8);
  const lo = i8x16.sub(v128.and(v, i8x16.splat(15)), eight);
  const hi = i8x16.sub(i8x16.shr_u(v, 4), eight);
  let s = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), v128.load(xq));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), v128.load(xq + 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), v128.load(xq + 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), v128.load(xq + 48)));
}

/** q4_0 weights × int8 activations: one row at a time for M = 1, the widened-weights kernel for M ≥ 2. */
export function matmulQ4_0(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  if (M >= 2) matmulQ8_0Tile(KIND_Q4_0, out, xq, xd, w, M, K, N, n0, n1, acc, scratch);
  else matmulQ4_0Rows(out, xq, xd, w, M, K, N, n0, n1, acc);
}

function matmulQ4_0Rows(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32): void {
  const nb = K >> 5;
  const rb = <usize>nb * 18;
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  for (let n = n0; n < n1; n++) {
    const w0 = w + <usize>n * rb;
    const ahead = w0 + 4 * rb; // touch-ahead as in matmulQ8_0, 4 rows ahead
    for (let m = 0; m < M; m++) {
      const xm = xq + ((<usize>m * K) << 1);
      const dm = xd + ((<usize>m * nb) << 2);
      let a0 = f32x4.splat(0);
      for (let b = 0; b < nb; b++) {
        const pb = <usize>b * 18;
        touched |= <u32>load<u8>(min(ahead + pb, lim));
        const s0 = dotBlockQ4(w0 + pb + 2, xm + (<usize>b << 6));
        a0 = f32x4.add(a0, f32x4.mul(f32x4.convert_i32x4_s(s0), f32x4.splat(h2f(w0 + pb) * load<f32>(dm + (<usize>b << 2)))));
      }
      put(out + ((<usize>m * N + n) << 2), hsum(a0), acc);
    }
  }
  if (touched > 255) unreachable();
}

// ---- float path ----

/** 2 activation rows × 4 f32 weight rows; writes out[m..m+1][n..n+nr). */
function tile2x4(out: usize, x0: usize, x1: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, N: i32, nr: i32, acc: i32): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0), a02 = f32x4.splat(0), a03 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0), a12 = f32x4.splat(0), a13 = f32x4.splat(0);
  const K4 = K & ~3;
  for (let k = 0; k < K4; k += 4) {
    const o = <usize>k << 2;
    const v0 = v128.load(x0 + o), v1 = v128.load(x1 + o);
    const w0 = v128.load(r0 + o), w1 = v128.load(r1 + o), w2 = v128.load(r2 + o), w3 = v128.load(r3 + o);
    a00 = f32x4.add(a00, f32x4.mul(v0, w0));
    a01 = f32x4.add(a01, f32x4.mul(v0, w1));
    a02 = f32x4.add(a02, f32x4.mul(v0, w2));
    a03 = f32x4.add(a03, f32x4.mul(v0, w3));
    a10 = f32x4.add(a10, f32x4.mul(v1, w0));
    a11 = f32x4.add(a11, f32x4.mul(v1, w1));
    a12 = f32x4.add(a12, f32x4.mul(v1, w2));
    a13 = f32x4.add(a13, f32x4.mul(v1, w3));
  }
  let s00 = hsum(a00), s01 = hsum(a01), s02 = hsum(a02), s03 = hsum(a03);
  let s10 = hsum(a10), s11 = hsum(a11), s12 = hsum(a12), s13 = hsum(a13);
  for (let k = K4; k < K; k++) {
    const o = <usize>k << 2;
    const v0 = load<f32>(x0 + o), v1 = load<f32>(x1 + o);
    s00 += v0 * load<f32>(r0 + o); s01 += v0 * load<f32>(r1 + o); s02 += v0 * load<f32>(r2 + o); s03 += v0 * load<f32>(r3 + o);
    s10 += v1 * load<f32>(r0 + o); s11 += v1 * load<f32>(r1 + o); s12 += v1 * load<f32>(r2 + o); s13 += v1 * load<f32>(r3 + o);
  }
  const o1 = out + (<usize>N << 2);
  put(out, s00, acc); put(o1, s10, acc);
  if (nr > 1) { put(out + 4, s01, acc); put(o1 + 4, s11, acc); }
  if (nr > 2) { put(out + 8, s02, acc); put(o1 + 8, s12, acc); }
  if (nr > 3) { put(out + 12, s03, acc); put(o1 + 12, s13, acc); }
}

/** 1 activation row × 4 f32 weight rows; `ahead`/`lim` as in dot1x4F16 (lim = 0: no touches). */
function tile1x4(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const K4 = K & ~3;
  let touched: u32 = 0;
  for (let k = 0; k < K4; k += 4) {
    const o = <usize>k << 2;
    if (lim) touched |= <u32>load<u8>(min(ahead + (o << 2), lim));
    const v0 = v128.load(x0 + o);
    a0 = f32x4.add(a0, f32x4.mul(v0, v128.load(r0 + o)));
    a1 = f32x4.add(a1, f32x4.mul(v0, v128.load(r1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(v0, v128.load(r2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(v0, v128.load(r3 + o)));
  }
  if (touched > 255) unreachable();
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let k = K4; k < K; k++) {
    const o = <usize>k << 2;
    const v0 = load<f32>(x0 + o);
    s0 += v0 * load<f32>(r0 + o); s1 += v0 * load<f32>(r1 + o); s2 += v0 * load<f32>(r2 + o); s3 += v0 * load<f32>(r3 + o);
  }
  put(out, s0, acc);
  if (nr > 1) put(out + 4, s1, acc);
  if (nr > 2) put(out + 8, s2, acc);
  if (nr > 3) put(out + 12, s3, acc);
}

/**
 * M = 1, f16 weights converted on load: 1 activation row × 4 weight rows (rows are 2K bytes).
 * `ahead` is the next 4-row group: one touch load per 64 bytes consumed keeps it streaming in
 * (see matmulQ8_0); `lim` clamps the touches to memory.
 */
function dot1x4F16(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const K8 = K & ~7, K4 = K & ~3;
  let touched: u32 = 0;
  const mask = f16Mask(), scale = f16Scale();
  for (let k = 0; k < K8; k += 8) {
    touched |= <u32>load<u8>(min(ahead + (<usize>k << 3), lim));
    const v0 = v128.load(x0 + (<usize>k << 2)), v1 = v128.load(x0 + (<usize>k << 2), 16);
    const o = <usize>k << 1;
    a0 = f32x4.add(a0, f32x4.add(f32x4.mul(v0, h2f4k(r0 + o, mask, scale)), f32x4.mul(v1, h2f4k(r0 + o + 8, mask, scale))));
    a1 = f32x4.add(a1, f32x4.add(f32x4.mul(v0, h2f4k(r1 + o, mask, scale)), f32x4.mul(v1, h2f4k(r1 + o + 8, mask, scale))));
    a2 = f32x4.add(a2, f32x4.add(f32x4.mul(v0, h2f4k(r2 + o, mask, scale)), f32x4.mul(v1, h2f4k(r2 + o + 8, mask, scale))));
    a3 = f32x4.add(a3, f32x4.add(f32x4.mul(v0, h2f4k(r3 + o, mask, scale)), f32x4.mul(v1, h2f4k(r3 + o + 8, mask, scale))));
  }
  if (touched > 255) unreachable();
  for (let k = K8; k < K4; k += 4) {
    const v0 = v128.load(x0 + (<usize>k << 2));
    const o = <usize>k << 1;
    a0 = f32x4.add(a0, f32x4.mul(v0, h2f4k(r0 + o, mask, scale)));
    a1 = f32x4.add(a1, f32x4.mul(v0, h2f4k(r1 + o, mask, scale)));
    a2 = f32x4.add(a2, f32x4.mul(v0, h2f4k(r2 + o, mask, scale)));
    a3 = f32x4.add(a3, f32x4.mul(v0, h2f4k(r3 + o, mask, scale)));
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let k = K4; k < K; k++) {
    const v0 = load<f32>(x0 + (<usize>k << 2));
    const o = <usize>k << 1;
    s0 += v0 * h2f(r0 + o); s1 += v0 * h2f(r1 + o); s2 += v0 * h2f(r2 + o); s3 += v0 * h2f(r3 + o);
  }
  put(out, s0, acc);
  if (nr > 1) put(out + 4, s1, acc);
  if (nr > 2) put(out + 8, s2, acc);
  if (nr > 3) put(out + 12, s3, acc);
}

/** M = 1, bf16 weights converted on load; `ahead`/`lim` as in dot1x4F16. */
function dot1x4BF16(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  const K8 = K & ~7, K4 = K & ~3;
  let touched: u32 = 0;
  for (let k = 0; k < K8; k += 8) {
    touched |= <u32>load<u8>(min(ahead + (<usize>k << 3), lim));
    const v0 = v128.load(x0 + (<usize>k << 2)), v1 = v128.load(x0 + (<usize>k << 2), 16);
    const o = <usize>k << 1;
    a0 = f32x4.add(a0, f32x4.add(f32x4.mul(v0, bf2f4(r0 + o)), f32x4.mul(v1, bf2f4(r0 + o + 8))));
    a1 = f32x4.add(a1, f32x4.add(f32x4.mul(v0, bf2f4(r1 + o)), f32x4.mul(v1, bf2f4(r1 + o + 8))));
    a2 = f32x4.add(a2, f32x4.add(f32x4.mul(v0, bf2f4(r2 + o)), f32x4.mul(v1, bf2f4(r2 + o + 8))));
    a3 = f32x4.add(a3, f32x4.add(f32x4.mul(v0, bf2f4(r3 + o)), f32x4.mul(v1, bf2f4(r3 + o + 8))));
  }
  if (touched > 255) unreachable();
  for (let k = K8; k < K4; k += 4) {
    const v0 = v128.load(x0 + (<usize>k << 2));
    const o = <usize>k << 1;
    a0 = f32x4.add(a0, f32x4.mul(v0, bf2f4(r0 + o)));
    a1 = f32x4.add(a1, f32x4.mul(v0, bf2f4(r1 + o)));
    a2 = f32x4.add(a2, f32x4.mul(v0, bf2f4(r2 + o)));
    a3 = f32x4.add(a3, f32x4.mul(v0, bf2f4(r3 + o)));
  }
  let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
  for (let k = K4; k < K; k++) {
    const v0 = load<f32>(x0 + (<usize>k << 2));
    const o = <usize>k << 1;
    s0 += v0 * reinterpret<f32>(<i32>load<u16>(r0 + o) << 16); s1 += v0 * reinterpret<f32>(<i32>load<u16>(r1 + o) << 16);
    s2 += v0 * reinterpret<f32>(<i32>load<u16>(r2 + o) << 16); s3 += v0 * reinterpret<f32>(<i32>load<u16>(r3 + o) << 16);
  }
  put(out, s0, acc);
  if (nr > 1) put(out + 4, s1, acc);
  if (nr > 2) put(out + 8, s2, acc);
  if (nr > 3) put(out + 12, s3, acc);
}

function rowBytes(dtype: i32, K: i32): usize {
  switch (dtype) {
    case DT_F32: return <usize>K << 2;
    case DT_F16: case DT_BF16: return <usize>K << 1;
    case DT_Q8_0: return <usize>(K >> 5) * 34;
    case DT_Q4_0: return <usize>(K >> 5) * 18;
    case DT_Q4_K: return <usize>(K >> 8) * 144;
    case DT_Q5_K: return <usize>(K >> 8) * 176;
    default: return <usize>(K >> 8) * 210; // q6_K
  }
}

function dequantRow(dtype: i32, src: usize, dst: usize, K: i32): void {
  switch (dtype) {
    case DT_F16: deqF16(src, dst, K); break;
    case DT_BF16: deqBF16(src, dst, K); break;
    case DT_Q8_0: deqQ8_0(src, dst, K); break;
    case DT_Q4_0: deqQ4_0(src, dst, K); break;
    case DT_Q4_K: deqQ4_K(src, dst, K); break;
    case DT_Q5_K: deqQ5_K(src, dst, K); break;
    default: deqQ6_K(src, dst, K); break;
  }
}

/**
 * Float path for any dtype. scratch: 4·K f32 private to this thread (unused for f32 weights and
 * for M = 1 f16/bf16). Missing rows of a short last group alias row 0 and are not stored.
 */
export function matmulFloat(dtype: i32, out: usize, x: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const rb = rowBytes(dtype, K);
  const fused = dtype == DT_F32 || (M == 1 && (dtype == DT_F16 || dtype == DT_BF16));
  const xs = <usize>K << 2;
  const lim: usize = (<usize>memory.size() << 16) - 64;
  for (let n = n0; n < n1; n += 4) {
    const nr = min(4, n1 - n);
    let r0: usize, r1: usize, r2: usize, r3: usize;
    if (fused) {
      r0 = w + <usize>n * rb;
      r1 = nr > 1 ? r0 + rb : r0;
      r2 = nr > 2 ? r0 + 2 * rb : r0;
      r3 = nr > 3 ? r0 + 3 * rb : r0;
    } else {
      for (let i = 0; i < nr; i++) dequantRow(dtype, w + <usize>(n + i) * rb, scratch + <usize>i * xs, K);
      r0 = scratch;
      r1 = nr > 1 ? r0 + xs : r0;
      r2 = nr > 2 ? r0 + 2 * xs : r0;
      r3 = nr > 3 ? r0 + 3 * xs : r0;
    }
    const ahead = r0 + 4 * rb;
    if (M == 1 && dtype == DT_F16) { dot1x4F16(out + (<usize>n << 2), x, r0, r1, r2, r3, K, nr, acc, ahead, lim); continue; }
    if (M == 1 && dtype == DT_BF16) { dot1x4BF16(out + (<usize>n << 2), x, r0, r1, r2, r3, K, nr, acc, ahead, lim); continue; }
    let m = 0;
    for (; m + 2 <= M; m += 2) {
      const x0 = x + <usize>m * xs;
      tile2x4(out + ((<usize>m * N + n) << 2), x0, x0 + xs, r0, r1, r2, r3, K, N, nr, acc);
    }
    if (m < M) tile1x4(out + ((<usize>m * N + n) << 2), x + <usize>m * xs, r0, r1, r2, r3, K, nr, acc, ahead, M == 1 && dtype == DT_F32 ? lim : 0);
  }
}
