// Each reference op against float64 values computed independently here (or by hand).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as K } from './reference.ts';
import { BLOCK, rowBytes, type DType, type WeightTensor } from './types.ts';
import { dequantize } from '../tensor/dequant.ts';
import { f32ToF16 } from '../tensor/half.ts';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}
const randn = (r: () => number, n: number, sc = 1) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * sc);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = '') => {
  assert.equal(a.length, b.length, `${what} length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
};

/** Random bytes in `dtype`'s layout with sane f16 scales (every quant value is legal). */
function randomWeight(dtype: DType, rows: number, cols: number, seed: number): WeightTensor {
  const r = rng(seed);
  const data = new Uint8Array(rows * rowBytes(dtype, cols));
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  const { bytes } = BLOCK[dtype];
  const nBlocks = data.length / bytes;
  const setF16 = (o: number, v: number) => { const h = f32ToF16(v); data[o] = h & 0xff; data[o + 1] = h >> 8; };
  if (dtype === 'f32') {
    const f = new Float32Array(data.buffer);
    for (let i = 0; i < f.length; i++) f[i] = r() * 2 - 1;
  } else if (dtype === 'f16' || dtype === 'bf16') {
    for (let i = 0; i < data.length / 2; i++) {
      const v = r() * 2 - 1;
      if (dtype === 'f16') setF16(2 * i, v);
      else { const b = new Float32Array([v]); const u = new Uint32Array(b.buffer)[0] >>> 16; data[2 * i] = u & 0xff; data[2 * i + 1] = u >> 8; }
    }
  } else {
    for (let b = 0; b < nBlocks; b++) {
      const o = b * bytes;
      if (dtype === 'q8_0' || dtype === 'q4_0') setF16(o, 0.01 + r() * 0.02);
      else if (dtype === 'q4_K' || dtype === 'q5_K') { setF16(o, 0.001 + r() * 0.01); setF16(o + 2, r() * 0.01); }
      else setF16(o + 208, 0.0005 + r() * 0.001);
    }
  }
  return { dtype, rows, cols, data };
}

function matmul64(x: Float32Array, w: Float32Array, M: number, N: number, Kd: number) {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < Kd; k++) s += x[m * Kd + k] * w[n * Kd + k];
    out[m * N + n] = s;
  }
  return out;
}

test('matmul with fused dequantization, every dtype, and accumulate', () => {
  const dtypes: DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_K', 'q5_K', 'q6_K'];
  for (const dt of dtypes) {
    const M = 3, N = 5, Kd = 512;
    const w = randomWeight(dt, N, Kd, 7);
    const x = randn(rng(9), M * Kd);
    const want = matmul64(x, dequantize(w), M, N, Kd);
    const out = new Float32Array(M * N);
    K.matmul(out, x, w, M);
    close(out, want, 1e-5, dt);
    K.matmul(out, x, w, M, true);
    close(out, want.map((v) => 2 * v), 1e-5, `${dt} accumulate`);
    assert.ok(want.some((v) => Math.abs(v) > 1e-3), `${dt} non-trivial`);
  }
});

test('rmsnorm and layernorm by hand', () => {
  const x = new Float32Array([1, 2, 3, 4, -1, 0, 1, 2]);
  const out = new Float32Array(8);
  K.rmsnorm(out, x, new Float32Array([1, 2, 1, 0.5]), 2, 4, 0);
  const r0 = Math.sqrt((1 + 4 + 9 + 16) / 4), r1 = Math.sqrt((1 + 0 + 1 + 4) / 4);
  close(out, [1 / r0, 4 / r0, 3 / r0, 2 / r0, -1 / r1, 0, 1 / r1, 1 / r1], 1e-6);
  K.layernorm(out, x, new Float32Array([1, 1, 1, 1]), new Float32Array([0, 0, 0, 1]), 2, 4, 1e-5);
  const sd = Math.sqrt(1.25 + 1e-5); // both rows have variance 1.25
  close(out, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd + 1, -1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd + 1], 1e-6);
  K.rmsnorm(out, x, null, 1, 4, 0);
  close(out.subarray(0, 4), [1 / r0, 2 / r0, 3 / r0, 4 / r0], 1e-6);
});

test('softmax, silu·mul, gelu, geluMul, softcap, add, addBias, scale', () => {
  const x = new Float32Array([0, Math.log(3), 1000, 1000]);
  K.softmax(x, 2, 2);
  close(x, [0.25, 0.75, 0.5, 0.5], 1e-6);
  const out = new Float32Array(2);
  K.siluMul(out, new Float32Array([1, -2]), new Float32Array([2, 3]), 2);
  close(out, [2 / (1 + Math.exp(-1)), 3 * -2 / (1 + Math.exp(2))], 1e-6);
  const g = new Float32Array([1, -1, 0]);
  K.gelu(g, 3);
  close(g, [0.8411919906082768, -0.15880800939172324, 0], 1e-6);
  K.geluMul(out, new Float32Array([1, -1]), new Float32Array([2, 2]), 2);
  close(out, [2 * 0.8411919906082768, 2 * -0.15880800939172324], 1e-6);
  const c = new Float32Array([30, -300]);
  K.softcap(c, 2, 30);
  close(c, [30 * Math.tanh(1), 30 * Math.tanh(-10)], 1e-6);
  const a = new Float32Array([1, 2, 3, 4]);
  K.add(a, a, new Float32Array([1, 1, 1, 1]), 4);
  K.addBias(a, new Float32Array([10, 20]), 2, 2);
  K.scale(a, 0.5, 4);
  close(a, [6, 11.5, 7, 12.5], 1e-7);
});

test('getRows dequantizes embedding rows and rejects bad ids', () => {
  const w = randomWeight('q8_0', 10, 64, 3);
  const full = dequantize(w);
  const out = new Float32Array(2 * 64);
  K.getRows(out, w, new Int32Array([7, 2]), 2);
  close(out, [...full.subarray(7 * 64, 8 * 64), ...full.subarray(2 * 64, 3 * 64)], 0);
  assert.throws(() => K.getRows(out, w, new Int32Array([10]), 1), /outside vocabulary/);
});

test('rope normal and neox pairs, partial dims, mscale', () => {
  // one token at position 2, one head of 6 dims, rotating 4 of them with inv freqs [0.5, 0.25].
  const inv = new Float32Array([0.5, 0.25]);
  const x0 = [1, 2, 3, 4, 5, 6];
  const rot = (a: number, b: number, th: number, m = 1) => [m * (a * Math.cos(th) - b * Math.sin(th)), m * (a * Math.sin(th) + b * Math.cos(th))];
  const n = new Float32Array(x0);
  K.rope(n, 1, 1, 6, new Int32Array([2]), inv, false, 1);
  close(n, [...rot(1, 2, 1), ...rot(3, 4, 0.5), 5, 6], 1e-6, 'normal');
  const nx = new Float32Array(x0);
  K.rope(nx, 1, 1, 6, new Int32Array([2]), inv, true, 2);
  const [a0, b0] = rot(1, 3, 1, 2), [a1, b1] = rot(2, 4, 0.5, 2);
  close(nx, [a0, a1, b0, b1, 5, 6], 1e-6, 'neox');
});

/** Dense float64 attention over contiguous K/V (T_all, kvDim), for checking the paged kernel. */
function attention64(q: Float32Array, kAll: Float32Array, vAll: Float32Array, T: number, pos0: number,
  H: number, Hkv: number, D: number, scale: number, win: number | null, cap: number | null, slopes: Float32Array | null) {
  const out = new Float64Array(T * H * D);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
    const qp = pos0 + t, kvh = Math.floor(h * Hkv / H);
    const s: number[] = [], idx: number[] = [];
    for (let j = 0; j <= qp; j++) {
      if (win !== null && qp - j >= win) continue;
      let d = 0;
      for (let e = 0; e < D; e++) d += q[(t * H + h) * D + e] * kAll[j * Hkv * D + kvh * D + e];
      d *= scale;
      if (cap) d = cap * Math.tanh(d / cap);
      if (slopes) d -= slopes[h] * (qp - j);
      s.push(d); idx.push(j);
    }
    const mx = Math.max(...s);
    const e = s.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < idx.length; i++) for (let d = 0; d < D; d++) out[(t * H + h) * D + d] += (e[i] / z) * vAll[idx[i] * Hkv * D + kvh * D + d];
  }
  return out;
}

test('paged attention equals dense attention: GQA, scattered blocks, window, softcap, ALiBi', () => {
  const r = rng(5);
  const H = 4, Hkv = 2, D = 8, bs = 4, ctx = 11, T = 3, pos0 = ctx - T;
  const kvDim = Hkv * D, numBlocks = 6;
  const kAll = randn(r, ctx * kvDim), vAll = randn(r, ctx * kvDim);
  const table = new Int32Array([4, 1, 5]); // positions 0-3 → block 4, 4-7 → 1, 8-11 → 5
  const kPool = new Float32Array(numBlocks * bs * kvDim), vPool = new Float32Array(numBlocks * bs * kvDim);
  for (let p = 0; p < ctx; p++) {
    const o = (table[Math.floor(p / bs)] * bs + (p % bs)) * kvDim;
    kPool.set(kAll.subarray(p * kvDim, (p + 1) * kvDim), o);
    vPool.set(vAll.subarray(p * kvDim, (p + 1) * kvDim), o);
  }
  const q = randn(r, T * H * D, 2);
  const slopes = new Float32Array([0.5, 0.25, 0.125, 0.0625]);
  for (const [win, cap, sl] of [[null, null, null], [3, null, null], [null, 0.7, null], [null, null, slopes]] as const) {
    const out = new Float32Array(T * H * D);
    K.attention(out, q, { k: kPool, v: vPool, blockTable: table, blockSize: bs }, T, pos0,
      { nHeads: H, nKvHeads: Hkv, headDim: D, scale: 1 / Math.sqrt(D), slidingWindow: win, softcap: cap, alibiSlopes: sl });
    close(out, attention64(q, kAll, vAll, T, pos0, H, Hkv, D, 1 / Math.sqrt(D), win, cap, sl), 1e-5, `win=${win} cap=${cap} alibi=${!!sl}`);
  }
});
