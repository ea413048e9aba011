// @ts-nocheck — AssemblyScript.
// K-quants × int8 activations, row kernels (M = 1, and the batch kernel's leftover rows), SIMD128.
import { h2f } from '../f16';
import { hsum } from '../math';
import { put, hsum4 } from './common';

// ---- K-quants × int8 activations ----
// A K-quant sub-block j of 32 (q4_K/q5_K) or 16 (q6_K) values is w = a_j·q − b_j with small
// integer q; against an int8 activation block (scale dₓ, values xq, sum Σxq):
//   Σ w·x = dₓ·(a_j·Σ q·xq − b_j·Σxq)
// so the inner loop is integer dot products, and the float work is one vector op per 4 sub-blocks.

/** Sum of 32 u8 lanes (two v128: values 0..31) × an i16 activation block at x → i32x4 partials. */
// @ts-ignore: decorator
@inline export function dotU8x32(a: v128, b: v128, x: usize): v128 {
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

/** Σ of 16 signed i8 lanes × 16 i16 activations at x → i32x4 partials. */
// @ts-ignore: decorator
@inline export function dotS8x16(q: v128, x: usize): v128 {
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
