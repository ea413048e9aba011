// @ts-nocheck — AssemblyScript (compiled by scripts/build-wasm.mjs, not by tsc).
// Half and bfloat16 → f32 conversions without tables (the module must hold no static data).
//
// f16 trick: sign-extend the 16 bits to 32, shift left 13 so the 5-bit exponent and 10-bit
// mantissa land on f32's exponent/mantissa positions (exponent still biased by 15, not 127), keep
// bit 31 (sign) and clear the three copies of the sign that the extension left in bits 30..28,
// then multiply by 2^112 to rebias. Zeros and subnormals come out exact; ±inf/NaN halves turn
// into large finite numbers (weights never hold them; documented in README).

export const TWO112: f32 = 5.192296858534828e33;
export const F16_MASK: i32 = 0x8fffffff;

// @ts-ignore: decorator
@inline export function h2f(p: usize): f32 {
  const s = <i32>load<i16>(p);
  return reinterpret<f32>((s << 13) & F16_MASK) * TWO112;
}

/**
 * 0, opaque to both compilers (memory.size() is at most 65536 pages). V8 13 (Node 24) turns a
 * constant v128 used inside a loop into a fresh 3-instruction materialization at every use
 * (movq + vmovq + vpunpcklqdq): the f16 matvec ran at 7.3 GB/s instead of 13–14 on Node 20/22.
 * A splat of a runtime value is computed once and stays in a register, so hot loops take their
 * constants from `f16Mask()` / `f16Scale()` (or `splatOpaque`) hoisted before the loop.
 */
// @ts-ignore: decorator
@inline export function opaqueZero(): i32 {
  return <i32>(<u32>memory.size() >>> 24);
}

/** i32x4.splat(v), computed at run time (see opaqueZero). */
// @ts-ignore: decorator
@inline export function splatOpaque(v: i32): v128 {
  return i32x4.splat(v | opaqueZero());
}

// @ts-ignore: decorator
@inline export function f16Mask(): v128 {
  return splatOpaque(F16_MASK);
}

// @ts-ignore: decorator
@inline export function f16Scale(): v128 {
  return splatOpaque(reinterpret<i32>(TWO112));
}

/** 4 halves at p → f32x4 (mask, scale: f16Mask(), f16Scale(), hoisted out of the loop). */
// @ts-ignore: decorator
@inline export function h2f4k(p: usize, mask: v128, scale: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(v128.load16x4_s(p), 13), mask), scale);
}

/** 4 halves at p → f32x4 (outside hot loops; inside them use h2f4k). */
// @ts-ignore: decorator
@inline export function h2f4(p: usize): v128 {
  const v = v128.and(i32x4.shl(v128.load16x4_s(p), 13), i32x4.splat(F16_MASK));
  return f32x4.mul(v, f32x4.splat(TWO112));
}

// @ts-ignore: decorator
@inline export function bf2f(p: usize): f32 {
  return reinterpret<f32>(<i32>load<u16>(p) << 16);
}

/** 4 bf16 at p → f32x4. */
// @ts-ignore: decorator
@inline export function bf2f4(p: usize): v128 {
  return i32x4.shl(v128.load16x4_u(p), 16);
}
