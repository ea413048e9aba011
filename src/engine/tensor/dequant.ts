/**
 * Dequantization of one row (or a run of blocks) of a weight matrix stored in a GGUF block
 * layout. This is the reference every fused kernel is tested against; layouts follow ggml's
 * `block_*` structs (ggml-common.h) byte for byte, all little-endian:
 *
 *   q8_0 (32 elems, 34 B):  f16 d | i8 qs[32]                      x = d·q
 *   q4_0 (32 elems, 18 B):  f16 d | u8 qs[16]                      x[j] = d·(lo(qs[j]) − 8), x[j+16] = d·(hi(qs[j]) − 8)
 *   q4_K (256 elems, 144 B): f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
 *        8 sub-blocks of 32 with 6-bit (scale, min) pairs; x = d·sc·q − dmin·m, q ∈ [0,15]
 *   q5_K (256 elems, 176 B): f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]   (q gets a 5th bit from qh)
 *   q6_K (256 elems, 210 B): u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
 *        16 sub-blocks of 16 with 8-bit signed scales; x = d·sc·(q − 32), q ∈ [0,63]
 */
import { BLOCK, rowBytes, type DType, type WeightTensor } from '../kernels/types.ts';
import { bf16ToF32, f16ToF32 } from './half.ts';

const rd16 = (s: Uint8Array, o: number) => s[o] | (s[o + 1] << 8);
const f32view = new Float32Array(1);
const u8of32 = new Uint8Array(f32view.buffer);

/** Unpack the j-th 6-bit (scale, min) pair of a q4_K/q5_K `scales[12]` array at `o` (ggml get_scale_min_k4). */
function scaleMin(s: Uint8Array, o: number, j: number, out: Int32Array): void {
  if (j < 4) {
    out[0] = s[o + j] & 63;
    out[1] = s[o + j + 4] & 63;
  } else {
    out[0] = (s[o + j + 4] & 0xf) | ((s[o + j - 4] >> 6) << 4);
    out[1] = (s[o + j + 4] >> 4) | ((s[o + j] >> 6) << 4);
  }
}
const sm = new Int32Array(2);

/**
 * dst[dstOff .. dstOff+n) = dequantized elements starting at byte `srcOff` of `src`, which must be
 * the start of a block; n must be a multiple of the dtype's block size.
 */
export function dequantizeRow(dtype: DType, src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number, n: number): void {
  const { elems, bytes } = BLOCK[dtype];
  if (n % elems !== 0) throw new Error(`dequantizeRow: ${dtype} needs a multiple of ${elems} elements, got ${n}`);
  const nb = n / elems;
  switch (dtype) {
    case 'f32': {
      if ((src.byteOffset + srcOff) % 4 === 0) {
        dst.set(new Float32Array(src.buffer, src.byteOffset + srcOff, n), dstOff);
      } else {
        for (let i = 0; i < n; i++) {
          const o = srcOff + 4 * i;
          u8of32[0] = src[o]; u8of32[1] = src[o + 1]; u8of32[2] = src[o + 2]; u8of32[3] = src[o + 3];
          dst[dstOff + i] = f32view[0];
        }
      }
      return;
    }
    case 'f16':
      for (let i = 0; i < n; i++) dst[dstOff + i] = f16ToF32(rd16(src, srcOff + 2 * i));
      return;
    case 'bf16':
      for (let i = 0; i < n; i++) dst[dstOff + i] = bf16ToF32(rd16(src, srcOff + 2 * i));
      return;
    case 'q8_0':
      for (let b = 0; b < nb; b++) {
        const o = srcOff + b * bytes;
        const d = f16ToF32(rd16(src, o));
        const y = dstOff + b * 32;
        for (let j = 0; j < 32; j++) dst[y + j] = d * ((src[o + 2 + j] << 24) >> 24);
      }
      return;
    case 'q4_0':
      for (let b = 0; b < nb; b++) {
        const o = srcOff + b * bytes;
        const d = f16ToF32(rd16(src, o));
        const y = dstOff + b * 32;
        for (let j = 0; j < 16; j++) {
          const q = src[o + 2 + j];
          dst[y + j] = d * ((q & 0xf) - 8);
          dst[y + j + 16] = d * ((q >> 4) - 8);
        }
      }
      return;
    case 'q4_K':
      for (let b = 0; b < nb; b++) {
        const o = srcOff + b * bytes;
        const d = f16ToF32(rd16(src, o));
        const dmin = f16ToF32(rd16(src, o + 2));
        let q = o + 16; // qs
        let y = dstOff + b * 256;
        for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
          scaleMin(src, o + 4, is, sm);
          const d1 = d * sm[0], m1 = dmin * sm[1];
          scaleMin(src, o + 4, is + 1, sm);
          const d2 = d * sm[0], m2 = dmin * sm[1];
          for (let l = 0; l < 32; l++) dst[y + l] = d1 * (src[q + l] & 0xf) - m1;
          for (let l = 0; l < 32; l++) dst[y + 32 + l] = d2 * (src[q + l] >> 4) - m2;
          q += 32;
          y += 64;
        }
      }
      return;
    case 'q5_K':
      for (let b = 0; b < nb; b++) {
        const o = srcOff + b * bytes;
        const d = f16ToF32(rd16(src, o));
        const dmin = f16ToF32(rd16(src, o + 2));
        const qh = o + 16;
        let ql = o + 48;
        let y = dstOff + b * 256;
        let u1 = 1, u2 = 2;
        for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
          scaleMin(src, o + 4, is, sm);
          const d1 = d * sm[0], m1 = dmin * sm[1];
          scaleMin(src, o + 4, is + 1, sm);
          const d2 = d * sm[0], m2 = dmin * sm[1];
          for (let l = 0; l < 32; l++) dst[y + l] = d1 * ((src[ql + l] & 0xf) + (src[qh + l] & u1 ? 16 : 0)) - m1;
          for (let l = 0; l < 32; l++) dst[y + 32 + l] = d2 * ((src[ql + l] >> 4) + (src[qh + l] & u2 ? 16 : 0)) - m2;
          ql += 32;
          y += 64;
          u1 <<= 2;
          u2 <<= 2;
        }
      }
      return;
    case 'q6_K':
      for (let b = 0; b < nb; b++) {
        const o = srcOff + b * bytes;
        const d = f16ToF32(rd16(src, o + 208));
        let ql = o, qh = o + 128, sc = o + 192;
        let y = dstOff + b * 256;
        for (let n2 = 0; n2 < 256; n2 += 128) {
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const h = src[qh + l];
            const q1 = ((src[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
            const q2 = ((src[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
            const q3 = ((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
            const q4 = ((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
            dst[y + l] = d * ((src[sc + is] << 24) >> 24) * q1;
            dst[y + l + 32] = d * ((src[sc + is + 2] << 24) >> 24) * q2;
            dst[y + l + 64] = d * ((src[sc + is + 4] << 24) >> 24) * q3;
            dst[y + l + 96] = d * ((src[sc + is + 6] << 24) >> 24) * q4;
          }
          y += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      return;
    default:
      throw new Error(`dequantizeRow: unknown dtype ${dtype as string}`);
  }
}

/** Dequantize row `r` of `w` into `dst` (length ≥ w.cols). */
export function dequantizeWeightRow(w: WeightTensor, r: number, dst: Float32Array, dstOff = 0): void {
  dequantizeRow(w.dtype, w.data, r * rowBytes(w.dtype, w.cols), dst, dstOff, w.cols);
}

/** The whole matrix as f32 (N·K): for tests, merges and tools, never the hot path. */
export function dequantize(w: WeightTensor): Float32Array {
  const out = new Float32Array(w.rows * w.cols);
  const rb = rowBytes(w.dtype, w.cols);
  for (let r = 0; r < w.rows; r++) dequantizeRow(w.dtype, w.data, r * rb, out, r * w.cols, w.cols);
  return out;
}
