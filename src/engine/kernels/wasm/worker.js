// A kernel worker: instantiates kernels.wasm on the engine heap's shared memory and runs its part
// of each job posted in the control block (see protocol.ts for the layout; constants repeated
// here so the worker is plain JS and starts without a TypeScript loader).
import { workerData } from 'node:worker_threads';

const SEQ = 0, DONE = 1, OP = 2, PARTS = 3, ERR = 4, ARGS = 8, READY = 32;
const MATMUL_FLOAT = 1, MATMUL_Q8_0 = 2, MATMUL_Q4_0 = 3, ATTENTION = 4, EXIT = 255;
const bits = new Int32Array(1), bitsF = new Float32Array(bits.buffer);
const f32of = (i) => ((bits[0] = i), bitsF[0]);

const { module, memory, ctl: sab, index, spin } = workerData;
const ctl = new Int32Array(sab);
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;

function partRange(N, parts, p) {
  const chunk = Math.ceil(N / parts / 4) * 4;
  const n0 = Math.min(N, p * chunk);
  return [n0, Math.min(N, n0 + chunk)];
}

function headRange(H, parts, p) {
  const chunk = Math.ceil(H / parts);
  const h0 = Math.min(H, p * chunk);
  return [h0, Math.min(H, h0 + chunk)];
}

let seen = Atomics.load(ctl, SEQ); // read before announcing READY: the caller posts only after READY
Atomics.store(ctl, READY + index, 1);
Atomics.notify(ctl, READY + index);

for (;;) {
  let s = Atomics.load(ctl, SEQ);
  // Spin briefly (jobs come in bursts: one per matmul of a layer), then sleep.
  for (let i = 0; s === seen && i < spin; i++) s = Atomics.load(ctl, SEQ);
  while (s === seen) {
    Atomics.wait(ctl, SEQ, seen);
    s = Atomics.load(ctl, SEQ);
  }
  seen = s;
  const op = ctl[OP];
  if (op === EXIT) break;
  const part = index + 1;
  const a = ARGS;
  try {
    if (op === MATMUL_FLOAT) {
      // dtype, out, x, w, M, K, N, acc, scratch, scratchStride
      const [n0, n1] = partRange(ctl[a + 6], ctl[PARTS], part);
      if (n0 < n1) k.matmulFloat(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], (ctl[a + 8] >>> 0) + part * ctl[a + 9]);
    } else if (op === MATMUL_Q8_0 || op === MATMUL_Q4_0) {
      // out, xq, xd, w, M, K, N, acc, scratch, scratchStride
      const [n0, n1] = partRange(ctl[a + 6], ctl[PARTS], part);
      const f = op === MATMUL_Q8_0 ? k.matmulQ8_0 : k.matmulQ4_0;
      if (n0 < n1) f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], (ctl[a + 8] >>> 0) + part * ctl[a + 9]);
    } else if (op === ATTENTION) {
      // out, q, k, v, table, bs, T, pos0, H, Hkv, D, scale(bits), window, cap(bits), slopes, scores, scoresStride
      const [h0, h1] = headRange(ctl[a + 8], ctl[PARTS], part);
      if (h0 < h1) {
        k.attention(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], ctl[a + 8], ctl[a + 9], ctl[a + 10],
          f32of(ctl[a + 11]), ctl[a + 12], f32of(ctl[a + 13]), ctl[a + 14], h0, h1, (ctl[a + 15] >>> 0) + part * ctl[a + 16]);
      }
    }
  } catch {
    Atomics.store(ctl, ERR, index + 1);
  }
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}
