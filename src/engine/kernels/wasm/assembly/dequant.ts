// @ts-nocheck — AssemblyScript.
// Row dequantizers: K values of one weight row (GGUF block layout, byte-for-byte as ggml's
// ggml-common.h) → K f32 at dst. Used by the tiled path (M ≥ 2 and the K-quants), which
// dequantizes a few rows into per-thread scratch and reuses them across every activation row.
import { h2f, h2f4k, f16Mask, f16Scale, bf2f4 } from './f16';

export function deqF16(src: usize, dst: usize, K: i32): void {
  let k = 0;
  const mask = f16Mask(), scale = f16Scale();
  for (; k + 4 <= K; k += 4) v128.store(dst + (<usize>k << 2), h2f4k(src + (<usize>k << 1), mask, scale));
  for (; k < K; k++) store<f32>(dst + (<usize>k << 2), h2f(src + (<usize>k << 1)));
}

export function deqBF16(src: usize, dst: usize, K: i32): void {
  let k = 0;
  for (; k + 4 <= K; k += 4) v128.store(dst + (<usize>k << 2), bf2f4(src + (<usize>k << 1)));
  for (; k < K; k++) store<f32>(dst + (<usize>k << 2), reinterpret<f32>(<i32>load<u16>(src + (<usize>k << 1)) << 16));
}

/** q8_0: 34-byte blocks {f16 d; i8 qs[32]}, x = d·q. */
export function deqQ8_0(src: usize, dst: usize, K: i32): void {
  const nb = K >> 5;
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 34;
    const d = f32x4.splat(h2f(p));
    const o = dst + (<usize>b << 7);
    for (let j = 0; j < 4; j++) {
      const q = v128.load8x8_s(p + 2 + (<usize>j << 3)); // i16x8
      v128.store(o + (<usize>j << 5), f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q)), d));
      v128.store(o + (<usize>j << 5) + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q)), d));
    }
  }
}

/** Store 16 u8 lanes (already small integers) as f32·d − m at o[0..16). */
// @ts-ignore: decorator
@inline function store16(o: usize, v: v128, d: v128, m: v128): void {
  const lo = i16x8.extend_low_i8x16_u(v);
  const hi = i16x8.extend_high_i8x16_u(v);
  v128.store(o, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), d), m));
  v128.store(o + 16, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), d), m));
  v128.store(o + 32, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), d), m));
  v128.store(o + 48, f32x4.sub(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), d), m));
}

/** q4_0: 18-byte blocks {f16 d; u8 qs[16]}, x[j] = d·((qs[j]&15) − 8), x[j+16] = d·((qs[j]>>4) − 8). */
export function deqQ4_0(src: usize, dst: usize, K: i32): void {
  const nb = K >> 5;
  const mask = i8x16.splat(15);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 18;
    const dd = h2f(p);
    const d = f32x4.splat(dd);
    const m = f32x4.splat(8 * dd);
    const v = v128.load(p + 2);
    const o = dst + (<usize>b << 7);
    store16(o, v128.and(v, mask), d, m);
    store16(o + 64, i8x16.shr_u(v, 4), d, m);
  }
}

/** q4_K/q5_K 6-bit scale and min of sub-block j (ggml get_scale_min_k4). */
// @ts-ignore: decorator
@inline function scaleK4(q: usize, j: i32): i32 {
  return j < 4 ? <i32>load<u8>(q + j) & 63 : (<i32>load<u8>(q + j + 4) & 15) | ((<i32>load<u8>(q + j - 4) >> 6) << 4);
}
// @ts-ignore: decorator
@inline function minK4(q: usize, j: i32): i32 {
  return j < 4 ? <i32>load<u8>(q + j + 4) & 63 : (<i32>load<u8>(q + j + 4) >> 4) | ((<i32>load<u8>(q + j) >> 6) << 4);
}

/** q4_K: 144-byte super-blocks {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]} of 256 values. */
export function deqQ4_K(src: usize, dst: usize, K: i32): void {
  const nb = K >> 8;
  const mask = i8x16.splat(15);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 144;
    const d = h2f(p), dmin = h2f(p + 2);
    const sc = p + 4;
    let q = p + 16;
    let o = dst + (<usize>b << 10);
    for (let j = 0; j < 8; j += 2) {
      const d1 = f32x4.splat(d * <f32>scaleK4(sc, j)), m1 = f32x4.splat(dmin * <f32>minK4(sc, j));
      const d2 = f32x4.splat(d * <f32>scaleK4(sc, j + 1)), m2 = f32x4.splat(dmin * <f32>minK4(sc, j + 1));
      const v0 = v128.load(q), v1 = v128.load(q + 16);
      store16(o, v128.and(v0, mask), d1, m1);
      store16(o + 64, v128.and(v1, mask), d1, m1);
      store16(o + 128, i8x16.shr_u(v0, 4), d2, m2);
      store16(o + 192, i8x16.shr_u(v1, 4), d2, m2);
      q += 32;
      o += 256;
    }
  }
}

/** q5_K: 176-byte super-blocks {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}. */
export function deqQ5_K(src: usize, dst: usize, K: i32): void {
  const nb = K >> 8;
  const mask = i8x16.splat(15);
  const zero = i8x16.splat(0);
  const sixteen = i8x16.splat(16);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 176;
    const d = h2f(p), dmin = h2f(p + 2);
    const sc = p + 4;
    const qh0 = v128.load(p + 16), qh1 = v128.load(p + 32);
    let q = p + 48;
    let o = dst + (<usize>b << 10);
    let u1 = 1, u2 = 2;
    for (let j = 0; j < 8; j += 2) {
      const d1 = f32x4.splat(d * <f32>scaleK4(sc, j)), m1 = f32x4.splat(dmin * <f32>minK4(sc, j));
      const d2 = f32x4.splat(d * <f32>scaleK4(sc, j + 1)), m2 = f32x4.splat(dmin * <f32>minK4(sc, j + 1));
      const v0 = v128.load(q), v1 = v128.load(q + 16);
      const b1 = i8x16.splat(<i8>u1), b2 = i8x16.splat(<i8>u2);
      // (qh & u) != 0 → 0xFF lanes → & 16
      const h10 = v128.and(v128.not(i8x16.eq(v128.and(qh0, b1), zero)), sixteen);
      const h11 = v128.and(v128.not(i8x16.eq(v128.and(qh1, b1), zero)), sixteen);
      const h20 = v128.and(v128.not(i8x16.eq(v128.and(qh0, b2), zero)), sixteen);
      const h21 = v128.and(v128.not(i8x16.eq(v128.and(qh1, b2), zero)), sixteen);
      store16(o, v128.or(v128.and(v0, mask), h10), d1, m1);
      store16(o + 64, v128.or(v128.and(v1, mask), h11), d1, m1);
      store16(o + 128, v128.or(i8x16.shr_u(v0, 4), h20), d2, m2);
      store16(o + 192, v128.or(i8x16.shr_u(v1, 4), h21), d2, m2);
      q += 32;
      o += 256;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

/** Store 16 signed i8 lanes as f32·d at o[0..16). */
// @ts-ignore: decorator
@inline function store16s(o: usize, v: v128, d: v128): void {
  const lo = i16x8.extend_low_i8x16_s(v);
  const hi = i16x8.extend_high_i8x16_s(v);
  v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), d));
  v128.store(o + 16, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), d));
  v128.store(o + 32, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), d));
  v128.store(o + 48, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), d));
}

/** q6_K: 210-byte super-blocks {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}. */
export function deqQ6_K(src: usize, dst: usize, K: i32): void {
  const nb = K >> 8;
  const m4 = i8x16.splat(15);
  const m2 = i8x16.splat(3);
  const off = i8x16.splat(32);
  for (let b = 0; b < nb; b++) {
    const p = src + <usize>b * 210;
    const d = h2f(p + 208);
    let ql = p, qh = p + 128, sc = p + 192;
    let o = dst + (<usize>b << 10);
    for (let half = 0; half < 2; half++) {
      for (let l = 0; l < 32; l += 16) {
        const is = l >> 4;
        const a = v128.load(ql + l), c = v128.load(ql + l + 32), h = v128.load(qh + l);
        const q1 = i8x16.sub(v128.or(v128.and(a, m4), i8x16.shl(v128.and(h, m2), 4)), off);
        const q2 = i8x16.sub(v128.or(v128.and(c, m4), i8x16.shl(v128.and(i8x16.shr_u(h, 2), m2), 4)), off);
        const q3 = i8x16.sub(v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), m2), 4)), off);
        const q4 = i8x16.sub(v128.or(i8x16.shr_u(c, 4), i8x16.shl(i8x16.shr_u(h, 6), 4)), off);
        store16s(o + (<usize>l << 2), q1, f32x4.splat(d * <f32>load<i8>(sc + is)));
        store16s(o + (<usize>(l + 32) << 2), q2, f32x4.splat(d * <f32>load<i8>(sc + is + 2)));
        store16s(o + (<usize>(l + 64) << 2), q3, f32x4.splat(d * <f32>load<i8>(sc + is + 4)));
        store16s(o + (<usize>(l + 96) << 2), q4, f32x4.splat(d * <f32>load<i8>(sc + is + 6)));
      }
      ql += 64;
      qh += 32;
      sc += 8;
      o += 512;
    }
  }
}
