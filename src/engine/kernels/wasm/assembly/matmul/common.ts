// @ts-nocheck — AssemblyScript.
// Shared pieces of the matmul kernels: dtype codes (wasm-kernels.ts DTYPE_CODE), the output
// store, the int8·i16 block dots and the 4-way horizontal sum.

// dtype codes shared with the JS wrapper (wasm-kernels.ts DTYPE_CODE).
export const DT_F32 = 0;
export const DT_F16 = 1;
export const DT_BF16 = 2;
export const DT_Q8_0 = 3;
export const DT_Q4_0 = 4;
export const DT_Q4_K = 5;
export const DT_Q5_K = 6;
export const DT_Q6_K = 7;

// kinds of the widened-weights batch kernel and the tiles
export const KIND_Q8_0 = 0, KIND_Q4_0 = 1, KIND_Q4_K = 2, KIND_Q5_K = 3, KIND_Q6_K = 4;

// @ts-ignore: decorator
@inline export function put(out: usize, v: f32, acc: i32): void {
  store<f32>(out, acc ? load<f32>(out) + v : v);
}

/** Weight block of 32 values → 4 i16x8 (int8 range), for q8_0 and q4_0. */
// @ts-ignore: decorator
@inline export function dotBlockQ8(w: usize, xq: usize): v128 {
  // w points at the 32 int8 values; xq at 32 i16.
  let s = i32x4.dot_i16x8_s(v128.load8x8_s(w), v128.load(xq));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 8), v128.load(xq + 16)));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 16), v128.load(xq + 32)));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 24), v128.load(xq + 48)));
}

/** Σ over one 32-value block of int8 weights (at w) × i16 activations (x0..x3, 8 lanes each) → i32x4 partials. */
// @ts-ignore: decorator
@inline export function dotQ8(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let s = i32x4.dot_i16x8_s(v128.load8x8_s(w), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 8), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 16), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load8x8_s(w + 24), x3));
}

/** Horizontal sums of four i32x4 → one i32x4 [Σa, Σb, Σc, Σd]. */
// @ts-ignore: decorator
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = i32x4.add(v128.shuffle<i32>(a, b, 0, 4, 1, 5), v128.shuffle<i32>(a, b, 2, 6, 3, 7)); // a0+a2 b0+b2 a1+a3 b1+b3
  const cd = i32x4.add(v128.shuffle<i32>(c, d, 0, 4, 1, 5), v128.shuffle<i32>(c, d, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(ab, cd, 0, 1, 4, 5), v128.shuffle<i32>(ab, cd, 2, 3, 6, 7));
}

/** Σ of one block: 4 i16x8 weight vectors (at w, already widened) × 4 i16x8 activations → i32x4. */
// @ts-ignore: decorator
@inline export function dotW16(w: usize, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  let s = i32x4.dot_i16x8_s(v128.load(w), x0);
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 16), x1));
  s = i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 32), x2));
  return i32x4.add(s, i32x4.dot_i16x8_s(v128.load(w, 48), x3));
}

/** One 1-byte load per 64 bytes of a group-block (8 rows × 34 or 18 bytes) at t, clamped to memory. */
// @ts-ignore: decorator
@inline export function touchGroupBlock(t: usize, q4: bool, lim: usize): u32 {
  let r = <u32>load<u8>(min(t, lim)) | <u32>load<u8>(min(t + 64, lim)) | <u32>load<u8>(min(t + 128, lim));
  if (!q4) r |= <u32>load<u8>(min(t + 192, lim)) | <u32>load<u8>(min(t + 256, lim));
  return r;
}

/** int8 values 16·h … 16·h+15 of a 32-value q8_0 (q4 = false) or q4_0 (q4 = true) block whose quants start at p. */
// @ts-ignore: decorator
@inline export function blockI8(p: usize, h: i32, q4: bool): v128 {
  if (!q4) return v128.load(p + (<usize>h << 4));
  const v = v128.load(p);
  return i8x16.sub(h ? i8x16.shr_u(v, 4) : v128.and(v, i8x16.splat(15)), i8x16.splat(8));
}
