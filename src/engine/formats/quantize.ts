/**
 * Quantizers (f32 → GGUF block bytes) and dequantizers (bytes → f32) for the weight dtypes the
 * engine stores, following ggml's reference routines (`ggml-quants.c`, `quantize_row_*_ref`,
 * `dequantize_row_*`) and its block layouts byte for byte (see `BLOCK` in kernels/types.ts).
 *
 * Why write our own: tests and the benchmark must produce GGUF files without llama.cpp's Python
 * tools. Exact bit-equality with ggml's quantizer is not required — both engines read the bytes we
 * write, so `dequantize(quantize(x))` is what each of them sees — but the search procedures are the
 * same so the files look like the ones people download. Arithmetic is rounded to f32 with
 * Math.fround where ggml's f32 rounding decides a stored value.
 *
 * The dequantizers here are the spec for tests (the writer's round trip); the engine's kernels
 * carry their own fused versions.
 */
import { BLOCK, type DType } from '../kernels/types.ts';

const fr = Math.fround;
const GROUP_MAX_EPS = 1e-15;
const QK_K = 256;

// ---------------------------------------------------------------- half floats

// One implementation of the 16-bit conversions (tensor/half.ts); re-exported for the writers.
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../tensor/half.ts';
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 };

/** Round a value to what an f16 field stores. */
const viaF16 = (v: number): number => f16ToF32(f32ToF16(v));

/** ggml's nearest_int: round half to even (the 1.5·2^23 trick), for |v| < 2^22. */
function nearestInt(v: number): number {
  return Math.round(v) - (Math.abs(v % 1) === 0.5 && Math.round(v) % 2 !== 0 ? 1 : 0);
}

// ---------------------------------------------------------------- per-block quantizers

function quantQ8_0(x: Float32Array, xo: number, out: DataView, o: number): void {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
  const d = fr(amax / 127);
  const id = d ? fr(1 / d) : 0;
  out.setUint16(o, f32ToF16(d), true);
  for (let j = 0; j < 32; j++) {
    // roundf: half away from zero.
    const v = fr(x[xo + j] * id);
    out.setInt8(o + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
  }
}

function quantQ4_0(x: Float32Array, xo: number, out: DataView, o: number): void {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[xo + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = fr(max / -8);
  const id = d ? fr(1 / d) : 0;
  out.setUint16(o, f32ToF16(d), true);
  for (let j = 0; j < 16; j++) {
    // (int8_t)(x + 8.5f) truncates toward zero.
    const q0 = Math.min(15, Math.trunc(fr(fr(x[xo + j] * id) + 8.5)));
    const q1 = Math.min(15, Math.trunc(fr(fr(x[xo + 16 + j] * id) + 8.5)));
    out.setUint8(o + 2 + j, (q0 & 0xf) | ((q1 & 0xf) << 4));
  }
}

/** ggml make_qkx2_quants: asymmetric (scale, min) fit of n values to [0, nmax]. Returns [scale, -min]. */
function makeQkx2(
  n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, L: Uint8Array, lo: number,
  laux: Uint8Array, rmin: number, rdelta: number, nstep: number,
): [number, number] {
  let min = x[xo];
  let max = x[xo];
  let sumW = w[0];
  let sumX = sumW * x[xo];
  for (let i = 1; i < n; i++) {
    const v = x[xo + i];
    if (v < min) min = v;
    if (v > max) max = v;
    sumW += w[i];
    sumX += w[i] * v;
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = fr(nmax / (max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
    L[lo + i] = l;
    const diff = scale * l + min - x[xo + i];
    bestError += w[i] * diff * diff;
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = fr((rmin + rdelta * is + nmax) / (max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
      laux[i] = l;
      sumL += w[i] * l;
      sumL2 += w[i] * l * l;
      sumXL += w[i] * l * x[xo + i];
    }
    const D = sumW * sumL2 - sumL * sumL;
    if (D > 0) {
      let thisScale = (sumW * sumXL - sumX * sumL) / D;
      let thisMin = (sumL2 * sumX - sumL * sumXL) / D;
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = sumXL / sumL2;
      }
      let cur = 0;
      for (let i = 0; i < n; i++) {
        const diff = thisScale * laux[i] + thisMin - x[xo + i];
        cur += w[i] * diff * diff;
      }
      if (cur < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = laux[i];
        bestError = cur;
        scale = fr(thisScale);
        min = fr(thisMin);
      }
    }
  }
  return [scale, -min];
}

/** Unpack the 6-bit scale and min of sub-block j from a K-quant's 12 scale bytes. */
export function scaleMinK4(j: number, q: Uint8Array, qo: number): [number, number] {
  if (j < 4) return [q[qo + j] & 63, q[qo + j + 4] & 63];
  return [
    (q[qo + j + 4] & 0xf) | ((q[qo + j - 4] >> 6) << 4),
    (q[qo + j + 4] >> 4) | ((q[qo + j] >> 6) << 4),
  ];
}

const kScratch = {
  L: new Uint8Array(QK_K),
  laux: new Uint8Array(32),
  w: new Float32Array(32),
  scales: new Float32Array(8),
  mins: new Float32Array(8),
};

/** q4_K (nmax 15) and q5_K (nmax 31) share the super-block scale/min search. */
function quantK45(x: Float32Array, xo: number, bytes: Uint8Array, o: number, five: boolean): void {
  const { L, laux, w, scales, mins } = kScratch;
  const nmax = five ? 31 : 15;
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 += x[xo + 32 * j + l] ** 2;
    const avX = Math.sqrt(sumX2 / 32);
    for (let l = 0; l < 32; l++) w[l] = avX + Math.abs(x[xo + 32 * j + l]);
    const [s, m] = five
      ? makeQkx2(32, 31, x, xo + 32 * j, w, L, 32 * j, laux, -0.5, 0.1, 15)
      : makeQkx2(32, 15, x, xo + 32 * j, w, L, 32 * j, laux, -1, 0.1, 20);
    scales[j] = s;
    mins[j] = m;
    if (s > maxScale) maxScale = s;
    if (m > maxMin) maxMin = m;
  }
  const sc = o + 4; // d (f16), dmin (f16), then scales[12]
  bytes.fill(0, sc, sc + 12);
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(invScale * scales[j]));
    const lm = Math.min(63, nearestInt(invMin * mins[j]));
    if (j < 4) {
      bytes[sc + j] = ls;
      bytes[sc + j + 4] = lm;
    } else {
      bytes[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      bytes[sc + j - 4] |= (ls >> 4) << 6;
      bytes[sc + j] |= (lm >> 4) << 6;
    }
  }
  const dh = f32ToF16(maxScale / 63);
  const mh = f32ToF16(maxMin / 63);
  bytes[o] = dh & 0xff;
  bytes[o + 1] = dh >> 8;
  bytes[o + 2] = mh & 0xff;
  bytes[o + 3] = mh >> 8;
  const D = f16ToF32(dh);
  const M = f16ToF32(mh);
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMinK4(j, bytes, sc);
    const d = fr(D * s);
    if (!d) continue;
    const dm = fr(M * m);
    for (let i = 0; i < 32; i++) {
      L[32 * j + i] = Math.max(0, Math.min(nmax, nearestInt(fr(x[xo + 32 * j + i] + dm) / d)));
    }
  }
  if (!five) {
    const q = o + 16;
    for (let j = 0, qi = q; j < QK_K; j += 64, qi += 32) {
      for (let l = 0; l < 32; l++) bytes[qi + l] = L[j + l] | (L[j + l + 32] << 4);
    }
    return;
  }
  const qh = o + 16;
  bytes.fill(0, qh, qh + 32);
  let ql = o + 48;
  let m1 = 1, m2 = 2;
  for (let n = 0; n < QK_K; n += 64) {
    for (let j = 0; j < 32; j++) {
      let l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        bytes[qh + j] |= m1;
      }
      let l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        bytes[qh + j] |= m2;
      }
      bytes[ql + j] = l1 | (l2 << 4);
    }
    m1 <<= 2;
    m2 <<= 2;
    ql += 32;
  }
}

/** ggml make_qx_quants with rmse_type 1: symmetric scale for n values in [-nmax, nmax-1]. */
function makeQx(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i];
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
    L[lo + i] = l + nmax;
    const w = v * v;
    sumlx += w * v * l;
    suml2 += w * l * l;
  }
  let scale = suml2 ? sumlx / suml2 : 0;
  let best = scale * sumlx;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-(nmax + 0.1 * is) / max);
    sumlx = suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i];
      const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
      const w = v * v;
      sumlx += w * v * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (let i = 0; i < n; i++) {
        L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return fr(scale);
}

const q6Scratch = { L: new Int8Array(QK_K), scales: new Float32Array(16) };

function quantQ6K(x: Float32Array, xo: number, bytes: Uint8Array, o: number): void {
  const { L, scales } = q6Scratch;
  // Layout: ql[128] @0, qh[64] @128, scales[16] (int8) @192, d (f16) @208.
  let maxScale = 0;
  let maxAbs = 0;
  for (let ib = 0; ib < 16; ib++) {
    const s = makeQx(16, 32, x, xo + 16 * ib, L, 16 * ib);
    scales[ib] = s;
    if (Math.abs(s) > maxAbs) {
      maxAbs = Math.abs(s);
      maxScale = s;
    }
  }
  bytes.fill(0, o, o + 210);
  if (maxAbs < GROUP_MAX_EPS) return;
  const iscale = fr(-128 / maxScale);
  const dh = f32ToF16(1 / iscale);
  bytes[o + 208] = dh & 0xff;
  bytes[o + 209] = dh >> 8;
  const D = f16ToF32(dh);
  const sc = new Int8Array(bytes.buffer, bytes.byteOffset + o + 192, 16);
  for (let ib = 0; ib < 16; ib++) sc[ib] = Math.min(127, nearestInt(iscale * scales[ib]));
  for (let j = 0; j < 16; j++) {
    const d = fr(D * sc[j]);
    if (!d) continue;
    for (let i = 0; i < 16; i++) {
      L[16 * j + i] = Math.max(-32, Math.min(31, nearestInt(x[xo + 16 * j + i] / d))) + 32;
    }
  }
  let ql = o;
  let qh = o + 128;
  for (let j = 0; j < QK_K; j += 128) {
    for (let l = 0; l < 32; l++) {
      const q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf, q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
      bytes[ql + l] = q1 | (q3 << 4);
      bytes[ql + l + 32] = q2 | (q4 << 4);
      bytes[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
}

// ---------------------------------------------------------------- whole tensors

/** Bytes needed to store n elements of dtype (n must be a multiple of the block size). */
export function quantizedBytes(dtype: DType, n: number): number {
  const b = BLOCK[dtype];
  if (n % b.elems !== 0) {
    throw new RangeError(`${dtype} needs a multiple of ${b.elems} elements, got ${n}`);
  }
  return (n / b.elems) * b.bytes;
}

/**
 * Quantize `x` (flat, row-major; blocks run along rows, so the row length must be a multiple of
 * the block size — the caller checks that per row) into GGUF's bytes for `dtype`.
 */
export function quantize(x: Float32Array, dtype: DType, out?: Uint8Array): Uint8Array {
  const n = x.length;
  const bytes = out ?? new Uint8Array(quantizedBytes(dtype, n));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { elems, bytes: bb } = BLOCK[dtype];
  switch (dtype) {
    case 'f32':
      new Uint8Array(bytes.buffer, bytes.byteOffset, n * 4).set(new Uint8Array(x.buffer, x.byteOffset, n * 4));
      break;
    case 'f16':
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToF16(x[i]), true);
      break;
    case 'bf16':
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToBf16(x[i]), true);
      break;
    case 'q8_0':
      for (let b = 0; b < n / elems; b++) quantQ8_0(x, b * elems, dv, b * bb);
      break;
    case 'q4_0':
      for (let b = 0; b < n / elems; b++) quantQ4_0(x, b * elems, dv, b * bb);
      break;
    case 'q4_K':
      for (let b = 0; b < n / elems; b++) quantK45(x, b * elems, bytes, b * bb, false);
      break;
    case 'q5_K':
      for (let b = 0; b < n / elems; b++) quantK45(x, b * elems, bytes, b * bb, true);
      break;
    case 'q6_K':
      for (let b = 0; b < n / elems; b++) quantQ6K(x, b * elems, bytes, b * bb);
      break;
    default:
      throw new RangeError(`quantize: unknown dtype ${dtype as string}`);
  }
  return bytes;
}

/** Inverse of `quantize`: n elements of dtype from `bytes` (ggml's dequantize_row_*). */
export function dequantize(bytes: Uint8Array, dtype: DType, n: number, out = new Float32Array(n)): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { elems, bytes: bb } = BLOCK[dtype];
  const nb = n / elems;
  const h = (o: number) => f16ToF32(dv.getUint16(o, true));
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      break;
    case 'f16':
      for (let i = 0; i < n; i++) out[i] = h(2 * i);
      break;
    case 'bf16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
      break;
    case 'q8_0':
      for (let b = 0; b < nb; b++) {
        const d = h(b * bb);
        for (let j = 0; j < 32; j++) out[b * 32 + j] = d * dv.getInt8(b * bb + 2 + j);
      }
      break;
    case 'q4_0':
      for (let b = 0; b < nb; b++) {
        const d = h(b * bb);
        for (let j = 0; j < 16; j++) {
          const q = bytes[b * bb + 2 + j];
          out[b * 32 + j] = ((q & 0xf) - 8) * d;
          out[b * 32 + j + 16] = ((q >> 4) - 8) * d;
        }
      }
      break;
    case 'q4_K':
    case 'q5_K':
      for (let b = 0; b < nb; b++) {
        const o = b * bb;
        const d = h(o);
        const dmin = h(o + 2);
        const five = dtype === 'q5_K';
        const qh = o + 16;
        let q = five ? o + 48 : o + 16;
        let y = b * QK_K;
        let u1 = 1, u2 = 2;
        for (let j = 0, is = 0; j < QK_K; j += 64, is += 2) {
          const [s1, m1] = scaleMinK4(is, bytes, o + 4);
          const [s2, m2] = scaleMinK4(is + 1, bytes, o + 4);
          const d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
          for (let l = 0; l < 32; l++) {
            const hi = five && bytes[qh + l] & u1 ? 16 : 0;
            out[y++] = d1 * ((bytes[q + l] & 0xf) + hi) - mm1;
          }
          for (let l = 0; l < 32; l++) {
            const hi = five && bytes[qh + l] & u2 ? 16 : 0;
            out[y++] = d2 * ((bytes[q + l] >> 4) + hi) - mm2;
          }
          q += 32;
          u1 <<= 2;
          u2 <<= 2;
        }
      }
      break;
    case 'q6_K':
      for (let b = 0; b < nb; b++) {
        const o = b * bb;
        const d = h(o + 208);
        let ql = o, qh = o + 128, sc = o + 192, y = b * QK_K;
        for (let n2 = 0; n2 < QK_K; n2 += 128) {
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((bytes[ql + l] & 0xf) | (((bytes[qh + l] >> 0) & 3) << 4)) - 32;
            const q2 = ((bytes[ql + l + 32] & 0xf) | (((bytes[qh + l] >> 2) & 3) << 4)) - 32;
            const q3 = ((bytes[ql + l] >> 4) | (((bytes[qh + l] >> 4) & 3) << 4)) - 32;
            const q4 = ((bytes[ql + l + 32] >> 4) | (((bytes[qh + l] >> 6) & 3) << 4)) - 32;
            out[y + l] = d * dv.getInt8(sc + is) * q1;
            out[y + l + 32] = d * dv.getInt8(sc + is + 2) * q2;
            out[y + l + 64] = d * dv.getInt8(sc + is + 4) * q3;
            out[y + l + 96] = d * dv.getInt8(sc + is + 6) * q4;
          }
          y += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      break;
    default:
      throw new RangeError(`dequantize: unknown dtype ${dtype as string}`);
  }
  return out;
}

export { viaF16 as roundToF16 };
