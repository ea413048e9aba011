// @ts-nocheck — AssemblyScript, built only into kernels-relaxed.wasm (--enable relaxed-simd).
// M ≥ 2 (batched decode, prefill), q8_0 weights: the 8 × 4 register tile of q8-tile.ts with
// 8-bit dots. Variant 2 of the tile; spec: the reference matmul; test: conformance.test.ts.
//
// i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c) adds to each i32 lane of c the dot of 4 signed
// bytes of a with 4 bytes of b; it is exact only while b is in 0..127 (x64 without VNNI lowers
// it to pmaddubsw, which reads b as unsigned and saturates pair sums; ARM's sdot reads b as
// signed — both agree on 0..127). So b is the activation, 7-bit with zero point 64
// (quantizeRowsU7: xu = q + 64 in 1..127, exact by construction), a the int8 weight, and
//   Σ w·q = Σ w·xu − 64·Σ w
// with Σw per weight row and block computed once per 8-row group. Each instruction does 16
// multiply-adds (i32x4.dot_i16x8_s: 8), and the weights need no widening.
//
// Layout per 8-row group in scratch: ws + b·256 + k4·32 + q·16 = rows 4q…4q+3, values
// 4·k4 … 4·k4+3 of block b (4 bytes per row); zc + b·32: −64·Σw of the 8 rows (i32); sc + b·32:
// the 8 f16 block scales as f32; fa: the 4 × 8 f32 accumulators. 10·K + 128 bytes.
// A short last group (n1 − n < 8) aliases its missing rows to row n and stores only real rows.
import { F16_MASK, TWO112, splatOpaque } from '../f16';
import { hsum4 } from './common';

/** 4×4 transpose of i32 lanes: rows a..d (4 values each of 4 bytes) → quad j of the 4 rows at dst + j·32. */
// @ts-ignore: decorator
@inline function storeQuadsT(dst: usize, a: v128, b: v128, c: v128, d: v128): void {
  const ab0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5), ab1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const cd0 = v128.shuffle<i32>(c, d, 0, 4, 1, 5), cd1 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<i32>(ab0, cd0, 0, 1, 4, 5));
  v128.store(dst, v128.shuffle<i32>(ab0, cd0, 2, 3, 6, 7), 32);
  v128.store(dst, v128.shuffle<i32>(ab1, cd1, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<i32>(ab1, cd1, 2, 3, 6, 7), 96);
}

/**
 * acc + 8-bit dot of 4-byte groups: i32x4.relaxed_dot_i8x16_i7x16_add_s(w, x, acc), written as its
 * parts (pmaddubsw; pmaddwd with ones; add) because V8 13 lowers the fused op with a fresh
 * materialization of the ones vector at every use (2 extra instructions); `ones` is hoisted.
 */
// @ts-ignore: decorator
@inline function dot8(w: v128, x: v128, acc: v128, ones: v128): v128 {
  return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(w, x), ones));
}

/** Σ of the 32 int8 weights of a block at p → i32x4 partial sums (4 lanes, to be added). */
// @ts-ignore: decorator
@inline function blockSum(p: usize): v128 {
  const s = i16x8.add(i16x8.extadd_pairwise_i8x16_s(v128.load(p)), i16x8.extadd_pairwise_i8x16_s(v128.load(p, 16)));
  return i32x4.extadd_pairwise_i16x8_s(s);
}

export function matmulQ8_0TileRelaxed(out: usize, xu: usize, xd: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nb = K >> 5;
  const rb = <usize>nb * 34;
  const ws = scratch, zc = scratch + (<usize>nb << 8), sc = zc + (<usize>nb << 5), fa = sc + (<usize>nb << 5);
  const xrow = <usize>K, drow = <usize>nb << 2;
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  const ones = splatOpaque(0x00010001); // i16x8 of 1
  for (let n = n0; n < n1; n += 8) {
    const nr = min(8, n1 - n);
    const w0 = w + <usize>n * rb;
    const ahead = w0 + 8 * rb;
    for (let b = 0; b < nb; b++) {
      const o = ws + (<usize>b << 8);
      let sums = i32x4.splat(0), sums2 = sums;
      for (let q = 0; q < 2; q++) {
        const r0 = q << 2;
        const pa = w0 + <usize>(r0 < nr ? r0 : 0) * rb + <usize>b * 34 + 2;
        const pb = w0 + <usize>(r0 + 1 < nr ? r0 + 1 : 0) * rb + <usize>b * 34 + 2;
        const pc = w0 + <usize>(r0 + 2 < nr ? r0 + 2 : 0) * rb + <usize>b * 34 + 2;
        const pd = w0 + <usize>(r0 + 3 < nr ? r0 + 3 : 0) * rb + <usize>b * 34 + 2;
        storeQuadsT(o + (<usize>q << 4), v128.load(pa), v128.load(pb), v128.load(pc), v128.load(pd));
        storeQuadsT(o + 128 + (<usize>q << 4), v128.load(pa, 16), v128.load(pb, 16), v128.load(pc, 16), v128.load(pd, 16));
        const s = hsum4(blockSum(pa), blockSum(pb), blockSum(pc), blockSum(pd));
        if (q == 0) sums = s; else sums2 = s;
        const g0 = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(<i32>load<i16>(pa - 2)), 1, <i32>load<i16>(pb - 2)), 2, <i32>load<i16>(pc - 2)), 3, <i32>load<i16>(pd - 2));
        v128.store(sc + (<usize>b << 5) + (<usize>q << 4), f32x4.mul(v128.and(i32x4.shl(g0, 13), i32x4.splat(F16_MASK)), f32x4.splat(TWO112)));
      }
      v128.store(zc + (<usize>b << 5), i32x4.mul(sums, i32x4.splat(-64)));
      v128.store(zc + (<usize>b << 5), i32x4.mul(sums2, i32x4.splat(-64)), 16);
    }
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const x0 = xu + <usize>m * xrow, x1 = x0 + xrow, x2 = x1 + xrow, x3 = x2 + xrow;
      const d0 = xd + <usize>m * drow, d1 = d0 + drow, d2 = d1 + drow, d3 = d2 + drow;
      const z = f32x4.splat(0);
      for (let i = 0; i < 8; i++) v128.store(fa + (<usize>i << 4), z);
      for (let b = 0; b < nb; b++) {
        if (m == 0) {
          const t = ahead + <usize>b * 272;
          touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim)) | <u32>load<u8>(min(t + 192, lim)) | <u32>load<u8>(min(t + 256, lim));
        }
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 5;
        const za = v128.load(zc + (<usize>b << 5)), zb = v128.load(zc + (<usize>b << 5), 16);
        let s0 = za, s1 = zb, s2 = za, s3 = zb, s4 = za, s5 = zb, s6 = za, s7 = zb;
        for (let k4 = 0; k4 < 8; k4++) {
          const wa = v128.load(o + (<usize>k4 << 5)), wb = v128.load(o + (<usize>k4 << 5), 16);
          const xo2 = xo + (<usize>k4 << 2);
          const v0 = v128.load32_splat(x0 + xo2);
          s0 = dot8(wa, v0, s0, ones); s1 = dot8(wb, v0, s1, ones);
          const v1 = v128.load32_splat(x1 + xo2);
          s2 = dot8(wa, v1, s2, ones); s3 = dot8(wb, v1, s3, ones);
          const v2 = v128.load32_splat(x2 + xo2);
          s4 = dot8(wa, v2, s4, ones); s5 = dot8(wb, v2, s5, ones);
          const v3 = v128.load32_splat(x3 + xo2);
          s6 = dot8(wa, v3, s6, ones); s7 = dot8(wb, v3, s7, ones);
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
      for (let i = 0; i < 4; i++) storeOut(out + ((<usize>(m + i) * N + n) << 2), v128.load(fa + (<usize>i << 5)), v128.load(fa + (<usize>i << 5), 16), nr, acc);
    }
    for (; m < M; m++) { // 1–3 leftover activation rows
      const x0 = xu + <usize>m * xrow, d0 = xd + <usize>m * drow;
      let fa0 = f32x4.splat(0), fa1 = fa0;
      for (let b = 0; b < nb; b++) {
        if (M < 4 && m == 0) {
          const t = ahead + <usize>b * 272;
          touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim)) | <u32>load<u8>(min(t + 192, lim)) | <u32>load<u8>(min(t + 256, lim));
        }
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 5;
        let s0 = v128.load(zc + (<usize>b << 5)), s1 = v128.load(zc + (<usize>b << 5), 16);
        for (let k4 = 0; k4 < 8; k4++) {
          const v0 = v128.load32_splat(x0 + xo + (<usize>k4 << 2));
          s0 = dot8(v128.load(o + (<usize>k4 << 5)), v0, s0, ones);
          s1 = dot8(v128.load(o + (<usize>k4 << 5), 16), v0, s1, ones);
        }
        const e0 = v128.load32_splat(d0 + (<usize>b << 2));
        fa0 = f32x4.add(fa0, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s0), v128.load(sc + (<usize>b << 5))), e0));
        fa1 = f32x4.add(fa1, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s1), v128.load(sc + (<usize>b << 5), 16)), e0));
      }
      storeOut(out + ((<usize>m * N + n) << 2), fa0, fa1, nr, acc);
    }
  }
  if (touched > 255) unreachable(); // never: keeps the touch loads alive through the optimizer
}

/** Store the 8 outputs (f0: rows 0..3, f1: rows 4..7) of one activation row, only the first nr. */
// @ts-ignore: decorator
@inline function storeOut(o: usize, f0: v128, f1: v128, nr: i32, acc: i32): void {
  if (nr == 8) {
    v128.store(o, acc ? f32x4.add(v128.load(o), f0) : f0);
    v128.store(o, acc ? f32x4.add(v128.load(o, 16), f1) : f1, 16);
    return;
  }
  for (let r = 0; r < nr; r++) {
    let v: f32;
    switch (r) {
      case 0: v = f32x4.extract_lane(f0, 0); break;
      case 1: v = f32x4.extract_lane(f0, 1); break;
      case 2: v = f32x4.extract_lane(f0, 2); break;
      case 3: v = f32x4.extract_lane(f0, 3); break;
      case 4: v = f32x4.extract_lane(f1, 0); break;
      case 5: v = f32x4.extract_lane(f1, 1); break;
      default: v = f32x4.extract_lane(f1, 2); break;
    }
    const p = o + (<usize>r << 2);
    store<f32>(p, acc ? load<f32>(p) + v : v);
  }
}

/**
 * q4_0 weights, M ≥ 2: the same tile with the operands' roles swapped, exact with ggml's 8-bit
 * activations. A q4_0 weight is n − 8 with its nibble n in 0..15 — already the 0..127 operand — so
 * the int8 activations (quantizeRowsI8: quantizeRowsQ8's values as bytes, with i32 block sums) are
 * the signed one, and Σ (n − 8)·x = Σ n·x − 8·Σx: each activation row's accumulators start at
 * −8·Σx of the block. Integer sums equal the SIMD128 tile's, and the float steps are the same
 * (f32(Σ)·d_w)·d_x in the same order, so the output is bit-identical to it (conformance checks).
 * Scratch: ws + b·256 nibble quads (layout as above), sc + b·32 the scales, fa. 9·K + 128 bytes.
 */
export function matmulQ4_0TileRelaxed(out: usize, xb: usize, xd: usize, xsum: usize, w: usize, M: i32, K: i32, N: i32, n0: i32, n1: i32, acc: i32, scratch: usize): void {
  const nb = K >> 5;
  const rb = <usize>nb * 18;
  const ws = scratch, sc = scratch + (<usize>nb << 8), fa = sc + (<usize>nb << 5);
  const xrow = <usize>K, drow = <usize>nb << 2;
  const lim: usize = (<usize>memory.size() << 16) - 64;
  let touched: u32 = 0;
  const ones = splatOpaque(0x00010001); // i16x8 of 1
  const m15 = splatOpaque(0x0f0f0f0f);
  const minus8 = i32x4.splat(-8);
  for (let n = n0; n < n1; n += 8) {
    const nr = min(8, n1 - n);
    const w0 = w + <usize>n * rb;
    const ahead = w0 + 8 * rb;
    for (let b = 0; b < nb; b++) {
      const o = ws + (<usize>b << 8);
      for (let q = 0; q < 2; q++) {
        const r0 = q << 2;
        const pa = w0 + <usize>(r0 < nr ? r0 : 0) * rb + <usize>b * 18 + 2;
        const pb = w0 + <usize>(r0 + 1 < nr ? r0 + 1 : 0) * rb + <usize>b * 18 + 2;
        const pc = w0 + <usize>(r0 + 2 < nr ? r0 + 2 : 0) * rb + <usize>b * 18 + 2;
        const pd = w0 + <usize>(r0 + 3 < nr ? r0 + 3 : 0) * rb + <usize>b * 18 + 2;
        const va = v128.load(pa), vb = v128.load(pb), vc = v128.load(pc), vd = v128.load(pd);
        // low nibbles: values 0..15 of the block (quads 0..3); high nibbles: 16..31 (quads 4..7)
        storeQuadsT(o + (<usize>q << 4), v128.and(va, m15), v128.and(vb, m15), v128.and(vc, m15), v128.and(vd, m15));
        storeQuadsT(o + 128 + (<usize>q << 4), i8x16.shr_u(va, 4), i8x16.shr_u(vb, 4), i8x16.shr_u(vc, 4), i8x16.shr_u(vd, 4));
        const g0 = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(<i32>load<i16>(pa - 2)), 1, <i32>load<i16>(pb - 2)), 2, <i32>load<i16>(pc - 2)), 3, <i32>load<i16>(pd - 2));
        v128.store(sc + (<usize>b << 5) + (<usize>q << 4), f32x4.mul(v128.and(i32x4.shl(g0, 13), i32x4.splat(F16_MASK)), f32x4.splat(TWO112)));
      }
    }
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const x0 = xb + <usize>m * xrow, x1 = x0 + xrow, x2 = x1 + xrow, x3 = x2 + xrow;
      const d0 = xd + <usize>m * drow, d1 = d0 + drow, d2 = d1 + drow, d3 = d2 + drow;
      const u0 = xsum + <usize>m * drow, u1 = u0 + drow, u2 = u1 + drow, u3 = u2 + drow;
      const z = f32x4.splat(0);
      for (let i = 0; i < 8; i++) v128.store(fa + (<usize>i << 4), z);
      for (let b = 0; b < nb; b++) {
        if (m == 0) {
          const t = ahead + <usize>b * 144;
          touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim));
        }
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 5, bo = <usize>b << 2;
        let s0 = i32x4.mul(v128.load32_splat(u0 + bo), minus8), s1 = s0;
        let s2 = i32x4.mul(v128.load32_splat(u1 + bo), minus8), s3 = s2;
        let s4 = i32x4.mul(v128.load32_splat(u2 + bo), minus8), s5 = s4;
        let s6 = i32x4.mul(v128.load32_splat(u3 + bo), minus8), s7 = s6;
        for (let k4 = 0; k4 < 8; k4++) {
          const wa = v128.load(o + (<usize>k4 << 5)), wb = v128.load(o + (<usize>k4 << 5), 16);
          const xo2 = xo + (<usize>k4 << 2);
          const v0 = v128.load32_splat(x0 + xo2);
          s0 = dot8(v0, wa, s0, ones); s1 = dot8(v0, wb, s1, ones);
          const v1 = v128.load32_splat(x1 + xo2);
          s2 = dot8(v1, wa, s2, ones); s3 = dot8(v1, wb, s3, ones);
          const v2 = v128.load32_splat(x2 + xo2);
          s4 = dot8(v2, wa, s4, ones); s5 = dot8(v2, wb, s5, ones);
          const v3 = v128.load32_splat(x3 + xo2);
          s6 = dot8(v3, wa, s6, ones); s7 = dot8(v3, wb, s7, ones);
        }
        const sa = v128.load(sc + (<usize>b << 5)), sb = v128.load(sc + (<usize>b << 5), 16);
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
      for (let i = 0; i < 4; i++) storeOut(out + ((<usize>(m + i) * N + n) << 2), v128.load(fa + (<usize>i << 5)), v128.load(fa + (<usize>i << 5), 16), nr, acc);
    }
    for (; m < M; m++) { // 1–3 leftover activation rows
      const x0 = xb + <usize>m * xrow, d0 = xd + <usize>m * drow, u0 = xsum + <usize>m * drow;
      let fa0 = f32x4.splat(0), fa1 = fa0;
      for (let b = 0; b < nb; b++) {
        if (M < 4 && m == 0) {
          const t = ahead + <usize>b * 144;
          touched |= <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim));
        }
        const o = ws + (<usize>b << 8);
        const xo = <usize>b << 5;
        let s0 = i32x4.mul(v128.load32_splat(u0 + (<usize>b << 2)), minus8), s1 = s0;
        for (let k4 = 0; k4 < 8; k4++) {
          const v0 = v128.load32_splat(x0 + xo + (<usize>k4 << 2));
          s0 = dot8(v0, v128.load(o + (<usize>k4 << 5)), s0, ones);
          s1 = dot8(v0, v128.load(o + (<usize>k4 << 5), 16), s1, ones);
        }
        const e0 = v128.load32_splat(d0 + (<usize>b << 2));
        fa0 = f32x4.add(fa0, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s0), v128.load(sc + (<usize>b << 5))), e0));
        fa1 = f32x4.add(fa1, f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(s1), v128.load(sc + (<usize>b << 5), 16)), e0));
      }
      storeOut(out + ((<usize>m * N + n) << 2), fa0, fa1, nr, acc);
    }
  }
  if (touched > 255) unreachable();
}
