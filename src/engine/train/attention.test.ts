// The kernel-matmul attention backward equals the scalar spec (ops.attentionBackward, itself
// checked by finite differences) on the reference and the WASM kernels, for every mask feature.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heap } from '../heap.ts';
import { referenceKernels } from '../kernels/reference.ts';
import { selectKernels } from '../kernels/select.ts';
import type { Kernels } from '../kernels/types.ts';
import { AttentionBackward } from './attention.ts';
import { attentionBackward, type AttnShape } from './ops.ts';
import { Xorshift } from './rng.ts';

const CASES: Array<[string, AttnShape, number]> = [
  ['causal MHA', { H: 2, Hkv: 2, D: 16, scale: 0.25, softcap: null, window: null, alibi: null }, 9],
  ['GQA + softcap + window', { H: 4, Hkv: 2, D: 16, scale: 0.25, softcap: 2, window: 5, alibi: null }, 13],
  ['MQA + ALiBi', { H: 4, Hkv: 1, D: 8, scale: 0.3, softcap: null, window: null, alibi: Float64Array.from([0.5, 0.25, 0.125, 0.0625]) }, 11],
];

const heap = new Heap({ initialBytes: 32 << 20 });
const wasm = selectKernels(heap, { threads: 2 });
test.after(() => wasm.close());

for (const [kname, K] of [['reference', referenceKernels], ['wasm', wasm]] as Array<[string, Kernels]>) {
  for (const [name, a, T] of CASES) {
    test(`attention backward on ${kname} kernels matches the spec: ${name}`, () => {
      const r = new Xorshift(T);
      const HD = a.H * a.D, KD = a.Hkv * a.D;
      const mk = (n: number) => { const v = heap.f32(n); for (let i = 0; i < n; i++) v[i] = r.next() * 2 - 1; return v; };
      const q = mk(T * HD), k = mk(T * KD), v = mk(T * KD), dO = mk(T * HD);
      const want = { dq: new Float32Array(T * HD), dk: new Float32Array(T * KD), dv: new Float32Array(T * KD) };
      attentionBackward(want.dq, want.dk, want.dv, dO, q, k, v, T, a);
      const got = { dq: heap.f32(T * HD), dk: heap.f32(T * KD).fill(0), dv: heap.f32(T * KD).fill(0) }; // dk, dv accumulate
      const ab = new AttentionBackward(heap, K);
      ab.run(got.dq, got.dk, got.dv, dO, q, k, v, T, a);
      for (const key of ['dq', 'dk', 'dv'] as const) {
        for (let i = 0; i < want[key].length; i++) assert.ok(Math.abs(want[key][i] - got[key][i]) < 1e-5, `${key}[${i}]: ${want[key][i]} vs ${got[key][i]}`);
      }
      ab.free();
    });
  }
}
