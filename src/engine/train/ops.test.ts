// Every backward op against central finite differences in float64: for an op y = f(x) and a
// random upstream gradient dy, the analytic dx must equal ∂(dy·f(x))/∂x element by element.
// Forward ops are the reference kernels (run on Float64Array, so in doubles) — the same spec the
// training forward calls — or, for attention over a document, attentionForward, which is itself
// checked against the reference kernel here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels as K } from '../kernels/reference.ts';
import {
  attentionBackward, attentionForward, crossEntropy, embeddingBackward, geluBackward, geluMulBackward, layernormBackward,
  matmulNN, matmulTN, rmsnormBackward, siluMulBackward, softcapBackward, transpose, type AttnShape,
} from './ops.ts';
import { Xorshift } from './rng.ts';

type F64 = Float64Array;
const F = (a: F64) => a as unknown as Float32Array; // reference kernels run in doubles on Float64Array
const rnd = (r: Xorshift, n: number, s = 1) => Float64Array.from({ length: n }, () => (r.next() * 2 - 1) * s);
const dot = (a: F64, b: F64) => a.reduce((s, v, i) => s + v * b[i], 0);

/** Max relative error of analytic grads vs finite differences of L(xs) = dy·f(xs), over every input element. */
function fdCheck(f: (xs: F64[]) => F64, xs: F64[], dy: F64, grads: F64[], h = 1e-5): number {
  let worst = 0;
  xs.forEach((x, xi) => {
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i];
      x[i] = x0 + h; const lp = dot(dy, f(xs));
      x[i] = x0 - h; const lm = dot(dy, f(xs));
      x[i] = x0;
      const num = (lp - lm) / (2 * h), ana = grads[xi][i];
      worst = Math.max(worst, Math.abs(num - ana) / Math.max(1e-3, Math.abs(num) + Math.abs(ana)));
    }
  });
  return worst;
}

const TOL = 1e-6;

test('matmulNN, matmulTN and transpose agree with the definition', () => {
  const r = new Xorshift(1);
  const M = 5, Kd = 7, N = 3;
  const a = rnd(r, M * Kd), b = rnd(r, Kd * N), c = rnd(r, M * N);
  const out = new Float64Array(M * N);
  matmulNN(out, a, b, M, Kd, N);
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0; for (let k = 0; k < Kd; k++) s += a[m * Kd + k] * b[k * N + n];
    assert.ok(Math.abs(out[m * N + n] - s) < 1e-12);
  }
  const tn = new Float64Array(Kd * N);
  matmulTN(tn, a, c, M, Kd, N);
  for (let k = 0; k < Kd; k++) for (let n = 0; n < N; n++) {
    let s = 0; for (let m = 0; m < M; m++) s += a[m * Kd + k] * c[m * N + n];
    assert.ok(Math.abs(tn[k * N + n] - s) < 1e-12);
  }
  const at = new Float64Array(Kd * M);
  transpose(at, a, M, Kd);
  for (let m = 0; m < M; m++) for (let k = 0; k < Kd; k++) assert.equal(at[k * M + m], a[m * Kd + k]);
});

test('linear with LoRA: dx, dA and dB by finite differences', () => {
  // y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ ; dx = dy·W + s·(dy·B)·A ; dB = s·dyᵀ·(x·Aᵀ) ; dA = s·(dy·B)ᵀ·x
  const r = new Xorshift(2);
  const M = 3, Kd = 6, N = 5, R = 2, s = 1.7;
  const x = rnd(r, M * Kd), W = rnd(r, N * Kd), A = rnd(r, R * Kd), B = rnd(r, N * R), dy = rnd(r, M * N);
  const Wt = new Float64Array(Kd * N), At = new Float64Array(Kd * R), Bt = new Float64Array(R * N);
  const f = ([x, A, B]: F64[]) => {
    transpose(Wt, W, N, Kd); transpose(At, A, R, Kd); transpose(Bt, B, N, R);
    const y = new Float64Array(M * N), u = new Float64Array(M * R);
    matmulNN(y, x, Wt, M, Kd, N);
    matmulNN(u, x, At, M, Kd, R);
    for (let i = 0; i < u.length; i++) u[i] *= s;
    matmulNN(y, u, Bt, M, R, N, true);
    return y;
  };
  const dx = new Float64Array(M * Kd), du = new Float64Array(M * R), u = new Float64Array(M * R), dA = new Float64Array(R * Kd), dB = new Float64Array(N * R);
  matmulNN(dx, dy, W, M, N, Kd);
  matmulNN(du, dy, B, M, N, R);
  for (let i = 0; i < du.length; i++) du[i] *= s;
  matmulNN(dx, du, A, M, R, Kd, true);
  transpose(At, A, R, Kd);
  matmulNN(u, x, At, M, Kd, R);
  matmulTN(dB, dy, u, M, N, R);
  for (let i = 0; i < dB.length; i++) dB[i] *= s;
  matmulTN(dA, du, x, M, R, Kd);
  assert.ok(fdCheck(f, [x, A, B], dy, [dx, dA, dB]) < TOL);
});

test('rmsnorm backward (input and weight)', () => {
  const r = new Xorshift(3);
  const M = 3, C = 8, eps = 1e-5;
  const x = rnd(r, M * C), w = rnd(r, C, 1.5), dy = rnd(r, M * C);
  const f = ([x, w]: F64[]) => { const y = new Float64Array(M * C); K.rmsnorm(F(y), F(x), F(w), M, C, eps); return y; };
  const dx = new Float64Array(M * C), dw = new Float64Array(C);
  rmsnormBackward(dx, dy, x, w, M, C, eps, { dw });
  assert.ok(fdCheck(f, [x, w], dy, [dx, dw]) < TOL);
});

test('layernorm backward (input, weight and bias)', () => {
  const r = new Xorshift(4);
  const M = 3, C = 8, eps = 1e-5;
  const x = rnd(r, M * C), w = rnd(r, C, 1.5), b = rnd(r, C), dy = rnd(r, M * C);
  const f = ([x, w, b]: F64[]) => { const y = new Float64Array(M * C); K.layernorm(F(y), F(x), F(w), F(b), M, C, eps); return y; };
  const dx = new Float64Array(M * C), dw = new Float64Array(C), db = new Float64Array(C);
  layernormBackward(dx, dy, x, w, M, C, eps, { dw, db });
  assert.ok(fdCheck(f, [x, w, b], dy, [dx, dw, db]) < TOL);
});

for (const neox of [false, true]) {
  test(`rope backward (${neox ? 'neox' : 'normal'}, partial rotation, mscale) is rope at −position`, () => {
    const r = new Xorshift(5);
    const M = 4, H = 2, D = 8;
    const pos = Int32Array.from([0, 3, 7, 12]), neg = pos.map((p) => -p);
    const inv = Float32Array.from([1, 0.3, 0.05]); // 6 of 8 dims rotate
    const mscale = 1.2;
    const x = rnd(r, M * H * D), dy = rnd(r, M * H * D);
    const f = ([x]: F64[]) => { const y = Float64Array.from(x); K.rope(F(y), M, H, D, pos, inv, neox, mscale); return y; };
    const dx = Float64Array.from(dy);
    K.rope(F(dx), M, H, D, neg, inv, neox, mscale);
    assert.ok(fdCheck(f, [x], dy, [dx]) < TOL);
  });
}

test('attentionForward equals the reference attention kernel (GQA, softcap, ALiBi, window)', () => {
  const r = new Xorshift(6);
  const T = 7, H = 4, Hkv = 2, D = 4;
  const a: AttnShape = { H, Hkv, D, scale: 0.4, softcap: 3, window: 4, alibi: Float64Array.from([0.5, 0.25, 0.125, 0.0625]) };
  const q = rnd(r, T * H * D), k = rnd(r, T * Hkv * D), v = rnd(r, T * Hkv * D);
  const mine = new Float64Array(T * H * D), ref = new Float64Array(T * H * D);
  attentionForward(mine, q, k, v, T, a);
  K.attention(F(ref), F(q), { k: F(k), v: F(v), blockTable: Int32Array.from([0]), blockSize: T }, T, 0,
    { nHeads: H, nKvHeads: Hkv, headDim: D, scale: a.scale, softcap: a.softcap, slidingWindow: a.window, alibiSlopes: F(a.alibi as F64) });
  for (let i = 0; i < mine.length; i++) assert.ok(Math.abs(mine[i] - ref[i]) < 1e-12);
});

for (const [name, a] of [
  ['plain causal, MQA', { H: 2, Hkv: 1, D: 4, scale: 0.5, softcap: null, window: null, alibi: null }],
  ['GQA + softcap + window', { H: 4, Hkv: 2, D: 4, scale: 0.4, softcap: 2, window: 3, alibi: null }],
  ['ALiBi, MHA', { H: 2, Hkv: 2, D: 4, scale: 0.5, softcap: null, window: null, alibi: Float64Array.from([0.5, 0.25]) }],
] as Array<[string, AttnShape]>) {
  test(`attention backward: ${name}`, () => {
    const r = new Xorshift(7);
    const T = 6, HD = a.H * a.D, KD = a.Hkv * a.D;
    const q = rnd(r, T * HD), k = rnd(r, T * KD), v = rnd(r, T * KD), dy = rnd(r, T * HD);
    const f = ([q, k, v]: F64[]) => { const y = new Float64Array(T * HD); attentionForward(y, q, k, v, T, a); return y; };
    const dq = new Float64Array(T * HD), dk = new Float64Array(T * KD), dv = new Float64Array(T * KD);
    attentionBackward(dq, dk, dv, dy, q, k, v, T, a);
    assert.ok(fdCheck(f, [q, k, v], dy, [dq, dk, dv]) < TOL);
  });
}

test('siluMul, geluMul and gelu backward', () => {
  const r = new Xorshift(8);
  const n = 12;
  const g = rnd(r, n, 3), u = rnd(r, n, 2), dy = rnd(r, n);
  const silu = ([g, u]: F64[]) => { const y = new Float64Array(n); K.siluMul(F(y), F(g), F(u), n); return y; };
  const dg = new Float64Array(n), du = new Float64Array(n);
  siluMulBackward(dg, du, dy, g, u, n);
  assert.ok(fdCheck(silu, [g, u], dy, [dg, du]) < TOL);
  const geglu = ([g, u]: F64[]) => { const y = new Float64Array(n); K.geluMul(F(y), F(g), F(u), n); return y; };
  geluMulBackward(dg, du, dy, g, u, n);
  assert.ok(fdCheck(geglu, [g, u], dy, [dg, du]) < TOL);
  const gelu = ([x]: F64[]) => { const y = Float64Array.from(x); K.gelu(F(y), n); return y; };
  const dx = new Float64Array(n);
  geluBackward(dx, dy, g, n);
  assert.ok(fdCheck(gelu, [g], dy, [dx]) < TOL);
});

test('softcap backward from the capped output', () => {
  const r = new Xorshift(9);
  const n = 10, cap = 2.5;
  const x = rnd(r, n, 6), dy = rnd(r, n);
  const f = ([x]: F64[]) => { const y = Float64Array.from(x); K.softcap(F(y), n, cap); return y; };
  const y = f([x]), dx = new Float64Array(n);
  softcapBackward(dx, dy, y, n, cap);
  assert.ok(fdCheck(f, [x], dy, [dx]) < TOL);
});

test('embedding backward scatters rows (repeated ids add up)', () => {
  const r = new Xorshift(10);
  const V = 5, C = 3, ids = [1, 4, 1, 0];
  const E = rnd(r, V * C), dy = rnd(r, ids.length * C);
  const f = ([E]: F64[]) => Float64Array.from({ length: ids.length * C }, (_, i) => E[ids[Math.floor(i / C)] * C + (i % C)]);
  const dE = new Float64Array(V * C);
  embeddingBackward(dE, dy, ids, ids.length, C);
  assert.ok(fdCheck(f, [E], dy, [dE]) < TOL);
});

test('cross-entropy with a loss mask and weights: value and gradient', () => {
  const r = new Xorshift(11);
  const R = 4, V = 6;
  const z = rnd(r, R * V, 3), targets = [2, -1, 5, 0], weights = [1, 1, 0.5, 2];
  const loss = (z: F64) => crossEntropy(Float64Array.from(z), targets, weights, R, V, 1);
  // value: Σ w·(lse − z_t), masked row contributes nothing
  let want = 0;
  for (let i = 0; i < R; i++) {
    if (targets[i] < 0) continue;
    const row = z.subarray(i * V, (i + 1) * V);
    want += weights[i] * (Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[targets[i]]);
  }
  assert.ok(Math.abs(loss(z) - want) < 1e-12);
  const g = Float64Array.from(z);
  crossEntropy(g, targets, weights, R, V, 1);
  for (let i = V; i < 2 * V; i++) assert.equal(g[i], 0, 'masked row has no gradient');
  const f = ([z]: F64[]) => Float64Array.of(loss(z));
  assert.ok(fdCheck(f, [z], Float64Array.of(1), [g]) < TOL);
});
