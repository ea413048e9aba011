// @ts-nocheck — AssemblyScript.
// M ≥ 2 integer kernel on weights widened to i16 once per 4-row group (SIMD128): the K-quants'
// batch path, and q8_0/q4_0 groups of fewer than 8 rows (the tile's remainder).
import { h2f } from '../f16';
import { dotW16, hsum4, KIND_Q8_0, KIND_Q4_0, KIND_Q4_K, KIND_Q5_K, KIND_Q6_K } from './common';
import { matmulQ8_0Rows, matmulQ4_0Rows } from './q8-rows';
import { matmulQ45K, matmulQ6K } from './kquant-rows';

/**
 * q8_0 × int8 activations for M ≥ 2 (batched decode, prefill). Per 4-row group the weights are
 * widened to i16 once into `scratch` (block-interleaved: 4 rows × 32 i16 = 256 B per block, then
 * the 4 scales per block), instead of once per activation row; activation rows go in pairs so
 * each weight vector loaded serves two rows.
/**
 * Widen one K-quant super-block of one row into the batch kernel's layout: for each of its 8
 * blocks of 32, 32 i16 = q·(sub-block scale) at ws + block·256 + row·64; the block's f32 scale
 * (d) into sc and its min coefficient (dmin·m_j, 0 for q6_K) into mn, lane `row`. q·scale fits
 * i16 (q4_K ≤ 945, q5_K ≤ 1953, q6_K ≤ 4096) and its products with int8 activations fit i32 sums.
 */
export function widenKQuant(kind: i32, p: usize, row: i32, blk0: i32, ws: usize, sc: usize, mn: usize): void {
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

export function matmulQ8_0Batch(kind: i32, out: usize, xq: usize, xd: usize, xs: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
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
