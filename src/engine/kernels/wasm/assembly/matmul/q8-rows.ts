// @ts-nocheck — AssemblyScript.
// M = 1 (decode) integer kernels, SIMD128: q8_0 and q4_0 weights × int8 activations.
import { h2f, F16_MASK, TWO112 } from '../f16';
import { hsum } from '../math';
import { put, dotBlockQ8, dotQ8, hsum4 } from './common';

/**
 * q8_0 weights × int8 activations. Four weight rows per pass: their block scales are converted
 * once into `scratch` (interleaved, 4 f32 per block), each activation block is loaded once for
 * the four rows, and the four i32 block sums are reduced into one i32x4 so that conversion and
 * scaling cost one vector op per block, not four. Outputs of a 4-row group leave as one store.
 */
export function matmulQ8_0Rows(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
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

/** q4_0 block (16 nibble bytes) · 32 activations. Nibbles − 8 give int8 values; low nibbles are elements 0..15. */
// @ts-ignore: decorator
@inline export function dotBlockQ4(w: usize, xq: usize): v128 {
  const v = v128.load(w);
  const eight = i8x16.splat(8);
  const lo = i8x16.sub(v128.and(v, i8x16.splat(15)), eight);
  const hi = i8x16.sub(i8x16.shr_u(v, 4), eight);
  let s = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), v128.load(xq));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), v128.load(xq + 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), v128.load(xq + 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), v128.load(xq + 48)));
}

export function matmulQ4_0Rows(out: usize, xq: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32): void {
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
