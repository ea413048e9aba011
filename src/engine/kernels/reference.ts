/**
 * The reference kernels: every op of `Kernels` in plain TypeScript. This file is the spec —
 * simple loops, accumulation in JS doubles, no cleverness — and the conformance suite tests
 * every faster implementation against it. It is also the fallback for any op the fast set
 * lacks, so it must handle any Float32Array (on the heap or not).
 */
import { dequantizeRow } from '../tensor/dequant.ts';
import { rowBytes, type AttentionParams, type Kernels, type PagedKv, type WeightTensor } from './types.ts';

// Scratch reused across calls (grown, never shrunk): one dequantized weight row, attention scores.
let rowBuf = new Float32Array(1024);
let scoreBuf = new Float64Array(1024);
function row(K: number): Float32Array {
  if (rowBuf.length < K) rowBuf = new Float32Array(K);
  return rowBuf;
}
function scores(n: number): Float64Array {
  if (scoreBuf.length < n) scoreBuf = new Float64Array(Math.max(n, 2 * scoreBuf.length));
  return scoreBuf;
}

const GELU_C = Math.sqrt(2 / Math.PI);
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));

function matmul(out: Float32Array, x: Float32Array, w: WeightTensor, M: number, accumulate = false): void {
  const { rows: N, cols: K } = w;
  const rb = rowBytes(w.dtype, K);
  const aligned = w.dtype === 'f32' && w.data.byteOffset % 4 === 0;
  const wf = aligned ? new Float32Array(w.data.buffer, w.data.byteOffset, N * K) : null;
  const r = row(K);
  for (let n = 0; n < N; n++) {
    let wr: Float32Array;
    let wo = 0;
    if (wf) {
      wr = wf;
      wo = n * K;
    } else {
      dequantizeRow(w.dtype, w.data, n * rb, r, 0, K);
      wr = r;
    }
    for (let m = 0; m < M; m++) {
      let s = 0;
      const xo = m * K;
      for (let k = 0; k < K; k++) s += x[xo + k] * wr[wo + k];
      const o = m * N + n;
      out[o] = accumulate ? out[o] + s : s;
    }
  }
}

function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array | null, M: number, C: number, eps: number): void {
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = x[o + c] * inv * (weight ? weight[c] : 1);
  }
}

function layernorm(
  out: Float32Array, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
  M: number, C: number, eps: number,
): void {
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[o + c];
    mean /= C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[o + c] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - mean) * inv * (weight ? weight[c] : 1) + (bias ? bias[c] : 0);
  }
}

function softmax(x: Float32Array, M: number, C: number): void {
  for (let m = 0; m < M; m++) {
    const o = m * C;
    let mx = -Infinity;
    for (let c = 0; c < C; c++) if (x[o + c] > mx) mx = x[o + c];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(x[o + c] - mx);
    for (let c = 0; c < C; c++) x[o + c] = Math.exp(x[o + c] - mx) / s;
  }
}

function siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

function gelu(x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) x[i] = geluTanh(x[i]);
}

function add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

function addBias(x: Float32Array, bias: Float32Array, M: number, N: number): void {
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) x[m * N + n] += bias[n];
}

function scale(x: Float32Array, s: number, n: number): void {
  for (let i = 0; i < n; i++) x[i] *= s;
}

function geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = geluTanh(gate[i]) * up[i];
}

function softcap(x: Float32Array, n: number, cap: number): void {
  for (let i = 0; i < n; i++) x[i] = cap * Math.tanh(x[i] / cap);
}

function getRows(out: Float32Array, table: WeightTensor, ids: Int32Array, M: number): void {
  const C = table.cols;
  const rb = rowBytes(table.dtype, C);
  for (let m = 0; m < M; m++) {
    const id = ids[m];
    if (id < 0 || id >= table.rows) throw new RangeError(`getRows: token id ${id} outside vocabulary of ${table.rows}`);
    dequantizeRow(table.dtype, table.data, id * rb, out, m * C, C);
  }
}

function rope(
  x: Float32Array, M: number, nHeads: number, headDim: number,
  positions: Int32Array, invFreq: Float32Array, neox: boolean, mscale: number,
): void {
  const half = invFreq.length; // rotated dims = 2·half
  for (let m = 0; m < M; m++) {
    const p = positions[m];
    for (let h = 0; h < nHeads; h++) {
      const o = (m * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const th = p * invFreq[i];
        const c = Math.cos(th) * mscale, s = Math.sin(th) * mscale;
        const a = neox ? o + i : o + 2 * i;
        const b = neox ? o + i + half : o + 2 * i + 1;
        const x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
      }
    }
  }
}

function attention(out: Float32Array, q: Float32Array, kv: PagedKv, T: number, pos0: number, p: AttentionParams): void {
  const { nHeads: H, nKvHeads: Hkv, headDim: D, scale: sc, slidingWindow, softcap: cap, alibiSlopes } = p;
  const kvDim = Hkv * D;
  const group = H / Hkv;
  const bs = kv.blockSize;
  const sbuf = scores(pos0 + T);
  for (let t = 0; t < T; t++) {
    const qpos = pos0 + t;
    const kStart = slidingWindow ? Math.max(0, qpos - slidingWindow + 1) : 0;
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      const qo = (t * H + h) * D;
      let mx = -Infinity;
      for (let j = kStart; j <= qpos; j++) {
        const ko = (kv.blockTable[Math.floor(j / bs)] * bs + (j % bs)) * kvDim + kvh * D;
        let s = 0;
        for (let d = 0; d < D; d++) s += q[qo + d] * kv.k[ko + d];
        s *= sc;
        if (cap) s = cap * Math.tanh(s / cap);
        if (alibiSlopes) s += alibiSlopes[h] * (j - qpos);
        sbuf[j] = s;
        if (s > mx) mx = s;
      }
      let sum = 0;
      for (let j = kStart; j <= qpos; j++) {
        sbuf[j] = Math.exp(sbuf[j] - mx);
        sum += sbuf[j];
      }
      for (let d = 0; d < D; d++) out[qo + d] = 0;
      for (let j = kStart; j <= qpos; j++) {
        const vo = (kv.blockTable[Math.floor(j / bs)] * bs + (j % bs)) * kvDim + kvh * D;
        const pj = sbuf[j] / sum;
        for (let d = 0; d < D; d++) out[qo + d] += pj * kv.v[vo + d];
      }
    }
  }
}

export const referenceKernels: Kernels = {
  name: 'reference',
  matmul, rmsnorm, layernorm, softmax, siluMul, gelu,
  add, addBias, scale, geluMul, softcap, getRows, rope, attention,
};
