// @ts-nocheck — AssemblyScript.
// Vector exp for softmax and activations (Cephes expf: range reduction by ln2, degree-6
// polynomial; ≈1 ulp on [-87, 88]). Inputs below -87.3 give exactly 0 so masked (-inf) logits
// vanish; inputs above 88.7 saturate at ≈3.4e38.

// @ts-ignore: decorator
@inline export function exp4(x: v128): v128 {
  const tiny = f32x4.lt(x, f32x4.splat(-87.3));
  x = f32x4.min(f32x4.max(x, f32x4.splat(-87.3)), f32x4.splat(88.7));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.44269504088896341)));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693359375)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(-2.12194440e-4)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  p = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1.0));
  // 2^n: n in [-126, 128]; n = 128 only at the clamp edge, split it as 2^(n-1)·2.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const pow = i32x4.shl(i32x4.add(ni, i32x4.splat(126)), 23);
  const y = f32x4.mul(f32x4.mul(p, pow), f32x4.splat(2.0));
  return v128.andnot(y, tiny);
}

// @ts-ignore: decorator
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// @ts-ignore: decorator
@inline export function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}
