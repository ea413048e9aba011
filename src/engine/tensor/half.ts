/**
 * 16-bit float conversions. f16 is IEEE 754 binary16 (ggml_fp16_t); bf16 is the top half of an
 * f32. Both round to nearest-even on the way down, as ggml's GGML_FP32_TO_FP16 / _BF16 do, so
 * a value written by us reads back bit-identically in llama.cpp.
 */

/** All 65536 f16 bit patterns decoded once (256 KiB): decoding is a table lookup. */
const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24; // subnormal (or ±0)
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(h: number): number {
  return F16_TABLE[h & 0xffff];
}

/** f32 → f16 bits, round to nearest even; overflow → ±Inf; NaN stays NaN. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal f16: shift the implicit-1 mantissa right, rounding to nearest even.
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e; // 24-bit mantissa → 10-bit subnormal
    const half = 1 << (shift - 1);
    const rest = man & ((1 << shift) - 1);
    let v = man >>> shift;
    if (rest > half || (rest === half && v & 1)) v++;
    return sign | v; // a carry into bit 10 correctly yields the smallest normal
  }
  const rest = man & 0x1fff;
  let v = (e << 10) | (man >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && v & 1)) v++; // may carry into the exponent: still correct
  return sign | v;
}

export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

/** f32 → bf16 bits, round to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Round an f32 through f16 and back (what a value looks like after storing it as f16). */
export function roundF16(x: number): number {
  return F16_TABLE[f32ToF16(x)];
}
