/**
 * Attention backward for one document on Kernels.matmul — the same math as
 * ops.attentionBackward (the spec, checked against it in attention.test.ts), with the O(T²·D)
 * products moved onto the fast matmul. Per query head h (KV head g = ⌊h/group⌋), all (T, ·):
 *
 *   S = Q_h·K_gᵀ·scale → softcap → + ALiBi → mask → P = softmax(S)        (T, T)
 *   dP = dO_h·V_gᵀ ;  dS = P ⊙ (dP − rowsum(P ⊙ dP)) ⊙ softcap' · scale
 *   dQ_h = dS·K_g ;  dK_g += dSᵀ·Q_h ;  dV_g += Pᵀ·dO_h
 *
 * matmul computes x·Wᵀ, so each product takes its right operand transposed: K_gᵀ, Q_hᵀ, dO_hᵀ
 * (D, T) and Pᵀ, dSᵀ (T, T) are formed here (O(T·D) and O(T²) copies). The masked upper triangle
 * is computed and discarded (2× the causal work, still far faster than scalar loops).
 */
import type { Heap } from '../heap.ts';
import type { Kernels, WeightTensor } from '../kernels/types.ts';
import type { AttnShape } from './ops.ts';
import { transpose } from './ops.ts';

export class AttentionBackward {
  private cap = 0;
  private bufs: Float32Array[] = [];

  constructor(private readonly heap: Heap, private readonly K: Kernels) {}

  private ensure(T: number, D: number): Float32Array[] {
    const need = Math.max(T * T, T * D);
    if (need > this.cap) {
      for (const b of this.bufs) this.heap.free(b);
      this.cap = need;
      // q, k, v, dO, kT, qT, dOT, dq, dk, dv (T·D each, sized T·T to share one size), S, dP, tmp (T·T)
      this.bufs = Array.from({ length: 13 }, () => this.heap.f32(need));
    }
    return this.bufs;
  }

  /** dq (T, H·D) written; dk, dv (T, Hkv·D) accumulated. */
  run(dq: Float32Array, dk: Float32Array, dv: Float32Array, dout: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, T: number, a: AttnShape): void {
    const { H, Hkv, D } = a, HD = H * D, KD = Hkv * D, group = H / Hkv, K = this.K;
    const [qh, kh, vh, doh, kT, qT, doT, dqh, dkh, dvh, S, dP, tmp] = this.ensure(T, D);
    const w = (v: Float32Array, rows: number, cols: number): WeightTensor => ({ dtype: 'f32', rows, cols, data: new Uint8Array(v.buffer, v.byteOffset, rows * cols * 4) });
    const cap = a.softcap;
    for (let g = 0; g < Hkv; g++) {
      gather(kh, k, T, KD, g * D, D);
      gather(vh, v, T, KD, g * D, D);
      transpose(kT, kh, T, D);
      dkh.fill(0, 0, T * D);
      dvh.fill(0, 0, T * D);
      for (let h = g * group; h < (g + 1) * group; h++) {
        gather(qh, q, T, HD, h * D, D);
        gather(doh, dout, T, HD, h * D, D);
        K.matmul(S.subarray(0, T * T), qh.subarray(0, T * D), w(kh, T, D), T); // Q·Kᵀ
        K.matmul(dP.subarray(0, T * T), doh.subarray(0, T * D), w(vh, T, D), T); // dO·Vᵀ
        const slope = a.alibi ? a.alibi[h] : 0;
        for (let t = 0; t < T; t++) {
          const o = t * T, j0 = a.window ? Math.max(0, t - a.window + 1) : 0;
          let mx = -Infinity;
          for (let j = j0; j <= t; j++) {
            let s = S[o + j] * a.scale;
            if (cap) { s = cap * Math.tanh(s / cap); tmp[o + j] = s; }
            if (slope) s += slope * (j - t);
            S[o + j] = s;
            if (s > mx) mx = s;
          }
          let sum = 0;
          for (let j = j0; j <= t; j++) sum += (S[o + j] = Math.exp(S[o + j] - mx));
          let dsum = 0;
          for (let j = j0; j <= t; j++) { S[o + j] /= sum; dsum += S[o + j] * dP[o + j]; }
          for (let j = 0; j < j0; j++) { S[o + j] = 0; dP[o + j] = 0; }
          for (let j = t + 1; j < T; j++) { S[o + j] = 0; dP[o + j] = 0; }
          for (let j = j0; j <= t; j++) {
            let ds = S[o + j] * (dP[o + j] - dsum);
            if (cap) { const c = tmp[o + j] / cap; ds *= 1 - c * c; }
            dP[o + j] = ds * a.scale; // dP now holds dS
          }
        }
        // dQ_h = dS·K_g  (x·Wᵀ with W = K_gᵀ (D, T))
        K.matmul(dqh.subarray(0, T * D), dP.subarray(0, T * T), w(kT, D, T), T);
        scatter(dq, dqh, T, HD, h * D, D, false);
        // dK_g += dSᵀ·Q_h ; dV_g += Pᵀ·dO_h
        transpose(qT, qh, T, D);
        transpose(doT, doh, T, D);
        transpose(tmp, dP, T, T);
        K.matmul(dkh.subarray(0, T * D), tmp.subarray(0, T * T), w(qT, D, T), T, true);
        transpose(tmp, S, T, T);
        K.matmul(dvh.subarray(0, T * D), tmp.subarray(0, T * T), w(doT, D, T), T, true);
      }
      scatter(dk, dkh, T, KD, g * D, D, true);
      scatter(dv, dvh, T, KD, g * D, D, true);
    }
  }

  free(): void {
    for (const b of this.bufs) this.heap.free(b);
    this.bufs = [];
    this.cap = 0;
  }
}

/** dst (T, D) = columns [c0, c0 + D) of src (T, stride). */
function gather(dst: Float32Array, src: Float32Array, T: number, stride: number, c0: number, D: number): void {
  for (let t = 0; t < T; t++) dst.set(src.subarray(t * stride + c0, t * stride + c0 + D), t * D);
}

/** Columns [c0, c0 + D) of dst (T, stride) (+)= src (T, D). */
function scatter(dst: Float32Array, src: Float32Array, T: number, stride: number, c0: number, D: number, add: boolean): void {
  for (let t = 0; t < T; t++) {
    const o = t * stride + c0, s = t * D;
    if (add) for (let e = 0; e < D; e++) dst[o + e] += src[s + e];
    else dst.set(src.subarray(s, s + D), o);
  }
}
