// @ts-nocheck — AssemblyScript.
// Activation quantization for the integer paths: f32 rows → 32-wide int8 blocks (ggml q8_0 math).
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

/**
 * x (M, K) f32 → xu (M, K) u8 = round(x/d) + 64 with d = max|x_block|/63, so every value is in
 * 1..127 (the i7 operand of the relaxed 8-bit dot, exact by construction), and xd (M, K/32) f32
 * scales. Σ w·x ≈ d·(Σ w·xu − 64·Σ w): the tile subtracts 64·Σw per weight row and block.
 * Rounding error per value ≤ d/2 = max|x|/126: twice ggml's 8-bit (max|x|/254).
 */
export function quantizeRowsU7(x: usize, xu: usize, xd: usize, M: i32, K: i32): void {
  const nb = K >> 5;
  const signMask = i32x4.splat(0x7fffffff);
  const zp = i16x8.splat(64);
  for (let m = 0; m < M; m++) {
    for (let b = 0; b < nb; b++) {
      const p = x + ((<usize>m * K + (b << 5)) << 2);
      let amax = v128.and(v128.load(p), signMask);
      for (let j = 1; j < 8; j++) amax = f32x4.max(amax, v128.and(v128.load(p + (j << 4)), signMask));
      const a = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)), max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
      const d: f32 = a / 63.0;
      const id = f32x4.splat(d != 0 ? 1.0 / d : 0.0);
      store<f32>(xd + ((<usize>m * nb + b) << 2), d);
      const q = xu + <usize>m * K + (b << 5);
      for (let j = 0; j < 2; j++) {
        const o = p + (j << 6);
        const i0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o), id)));
        const i1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 16), id)));
        const i2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 32), id)));
        const i3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 48), id)));
        // |x|/d ≤ 63 (rounding of a/63·63 can land a hair above: clamp), + 64 → 1..127
        const lo = i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(i0, i1), i16x8.splat(-63)), i16x8.splat(63));
        const hi = i16x8.min_s(i16x8.max_s(i16x8.narrow_i32x4_s(i2, i3), i16x8.splat(-63)), i16x8.splat(63));
        v128.store(q + (j << 4), i8x16.narrow_i16x8_u(i16x8.add(lo, zp), i16x8.add(hi, zp)));
      }
    }
  }
}

/**
 * quantizeRowsQ8's values (same math, bit for bit) stored as bytes: xb (M, K) int8, xd (M, K/32)
 * f32 scales, and xsum (M, K/32) i32 block sums Σ xq — the relaxed q4_0 tile's activations
 * (signed operand; the weights' nibbles 0..15 are the 0..127 one).
 */
export function quantizeRowsI8(x: usize, xb: usize, xd: usize, M: i32, K: i32, xsum: usize): void {
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
      const q = xb + <usize>m * K + (b << 5);
      let t = i32x4.splat(0);
      for (let j = 0; j < 2; j++) {
        const o = p + (j << 6);
        const lo = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o), id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 16), id))));
        const hi = i16x8.narrow_i32x4_s(i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 32), id))), i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(o, 48), id))));
        t = i32x4.add(t, i32x4.add(i32x4.extadd_pairwise_i16x8_s(lo), i32x4.extadd_pairwise_i16x8_s(hi)));
        v128.store(q + (j << 4), i8x16.narrow_i16x8_s(lo, hi));
      }
      store<i32>(xsum + ((<usize>m * nb + b) << 2), i32x4.extract_lane(t, 0) + i32x4.extract_lane(t, 1) + i32x4.extract_lane(t, 2) + i32x4.extract_lane(t, 3));
    }
  }
}
