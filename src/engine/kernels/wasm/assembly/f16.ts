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

/** 4 halves at p → f32x4. */
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
