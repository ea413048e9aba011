// @ts-nocheck — AssemblyScript.
// Float path for every dtype: fused f32/f16/bf16 matvec (M = 1) and dequantize + 2×4 f32 tile.
import { h2f, h2f4k, f16Mask, f16Scale, bf2f4, F16_MASK, TWO112 } from '../f16';
import { hsum } from '../math';
import { deqF16, deqBF16, deqQ8_0, deqQ4_0, deqQ4_K, deqQ5_K, deqQ6_K } from '../dequant';
import { put, DT_F32, DT_F16, DT_BF16, DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_Q5_K } from './common';

/** 2 activation rows × 4 f32 weight rows; writes out[m..m+1][n..n+nr). */
export function tile2x4(out: usize, x0: usize, x1: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, N: i32, nr: i32, acc: i32): void {
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
export function tile1x4(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
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
export function dot1x4F16(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
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

/**
 * M = 1, f16 weights, variant 2: the f16 → f32 rebias (× 2^112, see f16.ts) is folded into the
 * activation row once per call (xs = x·2^112, written by the caller into scratch; only when
 * max|x| < 2^15, so xs stays finite), so a weight costs load-extend, shift, mask and one
 * multiply-add: (w·2^−112)·(x·2^112) is the same product as w·x, both factors exact. 8
 * accumulators (2 per row) keep the add chains short. In the relaxed build the multiply-add is
 * f32x4.relaxed_madd (FMA on x64 with FMA3: one instruction; products then round once less).
 */
export function dot1x4F16Scaled(out: usize, xs: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
  let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  const K8 = K & ~7;
  let touched: u32 = 0;
  const mask = f16Mask();
  for (let k = 0; k < K8; k += 8) {
    touched |= <u32>load<u8>(min(ahead + (<usize>k << 3), lim));
    const v0 = v128.load(xs + (<usize>k << 2)), v1 = v128.load(xs + (<usize>k << 2), 16);
    const o = <usize>k << 1;
    if (ASC_FEATURE_RELAXED_SIMD) {
      a0 = f32x4.relaxed_madd(v0, v128.and(i32x4.shl(v128.load16x4_s(r0 + o), 13), mask), a0);
      b0 = f32x4.relaxed_madd(v1, v128.and(i32x4.shl(v128.load16x4_s(r0 + o + 8), 13), mask), b0);
      a1 = f32x4.relaxed_madd(v0, v128.and(i32x4.shl(v128.load16x4_s(r1 + o), 13), mask), a1);
      b1 = f32x4.relaxed_madd(v1, v128.and(i32x4.shl(v128.load16x4_s(r1 + o + 8), 13), mask), b1);
      a2 = f32x4.relaxed_madd(v0, v128.and(i32x4.shl(v128.load16x4_s(r2 + o), 13), mask), a2);
      b2 = f32x4.relaxed_madd(v1, v128.and(i32x4.shl(v128.load16x4_s(r2 + o + 8), 13), mask), b2);
      a3 = f32x4.relaxed_madd(v0, v128.and(i32x4.shl(v128.load16x4_s(r3 + o), 13), mask), a3);
      b3 = f32x4.relaxed_madd(v1, v128.and(i32x4.shl(v128.load16x4_s(r3 + o + 8), 13), mask), b3);
    } else {
      a0 = f32x4.add(a0, f32x4.mul(v0, v128.and(i32x4.shl(v128.load16x4_s(r0 + o), 13), mask)));
      b0 = f32x4.add(b0, f32x4.mul(v1, v128.and(i32x4.shl(v128.load16x4_s(r0 + o + 8), 13), mask)));
      a1 = f32x4.add(a1, f32x4.mul(v0, v128.and(i32x4.shl(v128.load16x4_s(r1 + o), 13), mask)));
      b1 = f32x4.add(b1, f32x4.mul(v1, v128.and(i32x4.shl(v128.load16x4_s(r1 + o + 8), 13), mask)));
      a2 = f32x4.add(a2, f32x4.mul(v0, v128.and(i32x4.shl(v128.load16x4_s(r2 + o), 13), mask)));
      b2 = f32x4.add(b2, f32x4.mul(v1, v128.and(i32x4.shl(v128.load16x4_s(r2 + o + 8), 13), mask)));
      a3 = f32x4.add(a3, f32x4.mul(v0, v128.and(i32x4.shl(v128.load16x4_s(r3 + o), 13), mask)));
      b3 = f32x4.add(b3, f32x4.mul(v1, v128.and(i32x4.shl(v128.load16x4_s(r3 + o + 8), 13), mask)));
    }
  }
  if (touched > 255) unreachable();
  let s0 = hsum(f32x4.add(a0, b0)), s1 = hsum(f32x4.add(a1, b1)), s2 = hsum(f32x4.add(a2, b2)), s3 = hsum(f32x4.add(a3, b3));
  for (let k = K8; k < K; k++) {
    const v0 = load<f32>(xs + (<usize>k << 2));
    const o = <usize>k << 1;
    s0 += v0 * reinterpret<f32>((<i32>load<i16>(r0 + o) << 13) & F16_MASK); s1 += v0 * reinterpret<f32>((<i32>load<i16>(r1 + o) << 13) & F16_MASK);
    s2 += v0 * reinterpret<f32>((<i32>load<i16>(r2 + o) << 13) & F16_MASK); s3 += v0 * reinterpret<f32>((<i32>load<i16>(r3 + o) << 13) & F16_MASK);
  }
  put(out, s0, acc);
  if (nr > 1) put(out + 4, s1, acc);
  if (nr > 2) put(out + 8, s2, acc);
  if (nr > 3) put(out + 12, s3, acc);
}

/** xs = x·2^112 (K values) when max|x| < 2^15 (then 1 is returned), else 0 and nothing written. */
function scaleActivations(x: usize, xs: usize, K: i32): i32 {
  const signMask = i32x4.splat(0x7fffffff);
  let amax = f32x4.splat(0);
  const K4 = K & ~3;
  for (let k = 0; k < K4; k += 4) amax = f32x4.max(amax, v128.and(v128.load(x + (<usize>k << 2)), signMask));
  let a = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
  for (let k = K4; k < K; k++) a = max(a, abs(load<f32>(x + (<usize>k << 2))));
  if (!(a < 32768)) return 0; // also NaN: the plain kernel then propagates it as before
  const t = f32x4.splat(TWO112);
  for (let k = 0; k < K4; k += 4) v128.store(xs + (<usize>k << 2), f32x4.mul(v128.load(x + (<usize>k << 2)), t));
  for (let k = K4; k < K; k++) store<f32>(xs + (<usize>k << 2), load<f32>(x + (<usize>k << 2)) * TWO112);
  return 1;
}

/** M = 1, bf16 weights converted on load; `ahead`/`lim` as in dot1x4F16. */
export function dot1x4BF16(out: usize, x0: usize, r0: usize, r1: usize, r2: usize, r3: usize, K: i32, nr: i32, acc: i32, ahead: usize, lim: usize): void {
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

export function rowBytes(dtype: i32, K: i32): usize {
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

export function dequantRow(dtype: i32, src: usize, dst: usize, K: i32): void {
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
  // f16 matvec: fold the rebias into the activations (scratch is free for M = 1 f16)
  const scaled = M == 1 && dtype == DT_F16 && K >= 8 ? scaleActivations(x, scratch, K) : 0;
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
    if (scaled) { dot1x4F16Scaled(out + (<usize>n << 2), scratch, r0, r1, r2, r3, K, nr, acc, ahead, lim); continue; }
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

