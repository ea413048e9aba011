// A kernel worker: instantiates kernels.wasm on the engine heap's shared memory and claims
// chunks of each job posted in the control block (protocol.ts has the layout and the posting
// order; the constants are repeated here so the worker is plain JS and starts without a
// TypeScript loader). Thread index t = worker index + 1 selects the worker's scratch slice.
import { workerData } from 'node:worker_threads';

const SEQ = 0, DONE = 1, OP = 2, ERR = 4, NEXT = 5, ARGS = 8, READY = 32;
const MATMUL_FLOAT = 1, MATMUL_Q8_0 = 2, MATMUL_Q4_0 = 3, ATTENTION = 4, MATMUL_Q45K = 5, MATMUL_Q6K = 6, MATMUL_KQ_BATCH = 7, EXIT = 255;

const { module, memory, ctl: sab, index, spin } = workerData;
const ctl = new Int32Array(sab);
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
const thread = index + 1;
const bits = new Int32Array(1), bitsF = new Float32Array(bits.buffer);
const f32of = (i) => ((bits[0] = i), bitsF[0]);

function rowRange(N, chunks, c) {
  const size = Math.ceil(N / chunks / 4) * 4;
  const n0 = Math.min(N, c * size);
  return [n0, Math.min(N, n0 + size)];
}
function headRange(H, chunks, c) {
  const size = Math.ceil(H / chunks);
  const h0 = Math.min(H, c * size);
  return [h0, Math.min(H, h0 + size)];
}

/** Run chunk c of the current job (arguments as wasm-kernels.ts posts them). */
function runChunk(op, c, nChunks) {
  const a = ARGS;
  if (op === MATMUL_FLOAT) {
    // dtype, out, x, w, M, K, N, acc, scratch, scratchStride
    const [n0, n1] = rowRange(ctl[a + 6], nChunks, c);
    if (n0 < n1) k.matmulFloat(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], (ctl[a + 8] >>> 0) + thread * ctl[a + 9]);
  } else if (op === MATMUL_Q8_0 || op === MATMUL_Q4_0) {
    // out, xq, xd, w, M, K, N, acc, scratch, scratchStride
    const [n0, n1] = rowRange(ctl[a + 6], nChunks, c);
    const f = op === MATMUL_Q8_0 ? k.matmulQ8_0 : k.matmulQ4_0;
    if (n0 < n1) f(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], (ctl[a + 8] >>> 0) + thread * ctl[a + 9]);
  } else if (op === MATMUL_Q45K) {
    // hasHigh, out, xq, xd, xs, w, M, K, N, acc, scratch, scratchStride
    const [n0, n1] = rowRange(ctl[a + 8], nChunks, c);
    if (n0 < n1) k.matmulQ45K(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], ctl[a + 8], n0, n1, ctl[a + 9], (ctl[a + 10] >>> 0) + thread * ctl[a + 11]);
  } else if (op === MATMUL_KQ_BATCH) {
    // kind, out, xq, xd, xs, w, M, K, N, acc, scratch, scratchStride
    const [n0, n1] = rowRange(ctl[a + 8], nChunks, c);
    if (n0 < n1) k.matmulKQuantBatch(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], ctl[a + 8], n0, n1, ctl[a + 9], (ctl[a + 10] >>> 0) + thread * ctl[a + 11]);
  } else if (op === MATMUL_Q6K) {
    // out, xq, xd, w, M, K, N, acc
    const [n0, n1] = rowRange(ctl[a + 6], nChunks, c);
    if (n0 < n1) k.matmulQ6K(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7]);
  } else if (op === ATTENTION) {
    // out, q, k, v, table, bs, T, pos0, H, Hkv, D, scale(bits), window, cap(bits), slopes, scores, scoresStride
    const [h0, h1] = headRange(ctl[a + 8], nChunks, c);
    if (h0 < h1) {
      k.attention(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], ctl[a + 7], ctl[a + 8], ctl[a + 9], ctl[a + 10],
        f32of(ctl[a + 11]), ctl[a + 12], f32of(ctl[a + 13]), ctl[a + 14], h0, h1, (ctl[a + 15] >>> 0) + thread * ctl[a + 16]);
    }
  }
}

let seen = Atomics.load(ctl, SEQ);
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
  if (Atomics.load(ctl, OP) === EXIT) break;
  for (;;) {
    const v = Atomics.add(ctl, NEXT, 1);
    const nChunks = v >>> 16, c = v & 0xffff;
    if (c >= nChunks) break;
    try {
      runChunk(Atomics.load(ctl, OP), c, nChunks);
    } catch {
      Atomics.store(ctl, ERR, thread + 1);
    }
    if (Atomics.add(ctl, DONE, 1) + 1 === nChunks) Atomics.notify(ctl, DONE);
  }
}
