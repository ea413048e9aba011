/**
 * The WebAssembly SIMD kernel set: `Kernels` ops backed by kernels.wasm, matmul split over a
 * worker pool. Every tensor must live on `heap` (select.ts routes anything else to the reference;
 * called directly, an off-heap view is a RangeError). Ops it does not implement are absent, so
 * `selectKernels` fills them in.
 *
 * matmul strategies (see assembly/matmul.ts):
 *  • q8_0 and q4_0 weights, and K-quants for M ≤ kquantIntMaxM: activations are quantized to
 *    32-wide int8 blocks once per call (on the caller), then integer dot products — llama.cpp's
 *    own scheme, so results match it, and faster than dequantizing to f32 (README has numbers).
 *    `q8Activations: 'f32'` switches to the float path (exact to f32 rounding) instead.
 *  • everything else: fused conversion for M = 1 (f32/f16/bf16), else 4 weight rows dequantized
 *    into per-thread scratch and a 2×4 f32x4 register tile.
 *  • variant 'relaxed-simd' (kernels-relaxed.wasm, where probe.ts passes): q8_0 with M ≥ 2 runs the
 *    8-bit dot tile on 7-bit activations with a zero point, q4_0 with M ≥ 2 the same tile on int8
 *    activations, exact (assembly/matmul/q8-tile-relaxed.ts).
 */
import { availableParallelism } from 'node:os';
import { OpenLedgerError } from '../../../util/errors.ts';
import type { Heap } from '../../heap.ts';
import { BLOCK, type AttentionParams, type DType, type Kernels, type PagedKv, type WeightTensor } from '../types.ts';
import { instantiate, kernelModule, type KernelExports, type WasmVariant } from './module.ts';
import { probeKernelPath } from './probe.ts';
import { WorkerPool } from './pool.ts';
import { MAX_CHUNKS, OP, headRange, rowRange } from './protocol.ts';

export interface WasmKernelOptions {
  /** Threads including the caller. Default os.availableParallelism(). */
  threads?: number;
  /** Worker spin (Atomics.load polls) before sleeping between jobs. Default 50000 (≈0.2–2 ms: long enough to bridge the gaps between the matmuls of a layer). */
  spin?: number;
  /** Activations for q8_0/q4_0 (and K-quant, small M) matmuls: 'int8' (default, as llama.cpp) or 'f32'. */
  q8Activations?: 'int8' | 'f32';
  /**
   * Contention guard (default true): when the caller waits on workers longer than it works, the
   * next jobs run on the caller alone (see pool.ts). Tests turn it off to keep the workers busy.
   */
  adaptiveThreads?: boolean;
  /** K-quant matmuls with M up to this use int8 activations, larger M the f32 tile. Default: always int8. */
  kquantIntMaxM?: number;
  /** Below this many multiply-adds (M·N·K) a matmul runs on the caller alone. Default 2^17. */
  minParallelWork?: number;
  /**
   * Kernel variant: default the start-up probe's choice (probe.ts: relaxed SIMD where this runtime
   * runs it exactly, else SIMD128). 'simd128' pins SIMD128; 'relaxed-simd' where the probe refused
   * it is an error (a runtime that computes it wrong must never run it).
   */
  variant?: WasmVariant;
}

/** The ops kernels.wasm implements (getRows stays with the reference: it is a copy per token). */
export const WASM_OPS = ['matmul', 'rmsnorm', 'layernorm', 'softmax', 'siluMul', 'gelu', 'geluMul', 'softcap', 'add', 'addBias', 'scale', 'rope', 'attention'] as const;

export type WasmKernels = Pick<Kernels, 'name' | (typeof WASM_OPS)[number]> & {
  readonly threads: number;
  /** The kernel variant in use. */
  readonly variant: WasmVariant;
  /** Block until the worker threads have started (benchmarks; ordinary calls never wait). */
  waitReady(timeoutMs?: number): boolean;
  /** Pool counters (null without workers): jobs, jobs run on the caller alone, caller work/wait ms. */
  poolStats(): { jobs: number; soloJobs: number; waitMs: number; workMs: number } | null;
  close(): void;
};

export const DTYPE_CODE: Record<DType, number> = { f32: 0, f16: 1, bf16: 2, q8_0: 3, q4_0: 4, q4_K: 5, q5_K: 6, q6_K: 7 };

export function createWasmKernels(heap: Heap, opts: WasmKernelOptions = {}): WasmKernels {
  const probe = probeKernelPath();
  const variant: WasmVariant = opts.variant ?? probe.path;
  if (variant === 'relaxed-simd' && probe.path !== 'relaxed-simd') {
    throw new OpenLedgerError(`relaxed-SIMD kernels are not available on this runtime: ${probe.reason}`, {
      type: 'config_error',
      code: 'kernel_variant_unavailable',
      hint: 'use Node 22 or 24 (see GET /v1/status → engine), or leave the variant unset to take the probe\'s choice',
    });
  }
  const module = kernelModule(variant);
  const k: KernelExports = instantiate(heap.memory, variant);
  const relaxed = variant === 'relaxed-simd';
  const threads = Math.max(1, Math.floor(opts.threads ?? availableParallelism()));
  const pool = threads > 1 ? new WorkerPool(module, heap.memory, { workers: threads - 1, spin: opts.spin ?? 50_000, adaptive: opts.adaptiveThreads ?? true }) : null;
  const int8 = (opts.q8Activations ?? 'int8') === 'int8';
  const minWork = opts.minParallelWork ?? 1 << 17;
  // K-quants take the integer path up to this many rows (M = 1: row kernels; M ≥ 2: weights
  // widened once per 4-row group); above it, the dequantize-into-scratch f32 tile.
  const kquantIntMaxM = opts.kquantIntMaxM ?? Infinity;

  // Scratch on the heap, grown on demand, never in hot loops after warm-up:
  //  rows: 16·K bytes per thread (4 dequantized rows, or widened q8_0 rows / K-quant scales);
  //  xq/xd/xs: quantized activations, scales and block sums (integer path).
  let rowsOff = 0, rowsBytes = 0;
  let xqOff = 0, xqBytes = 0;
  const scratch = (off: number, have: number, need: number): [number, number] => {
    if (need <= have) return [off, have];
    if (off) heap.free(off);
    const size = Math.ceil(need * 1.25 / 64) * 64;
    return [heap.alloc(size, 64), size];
  };

  /** WASM addresses memory by byteOffset: a view from elsewhere would silently read other bytes. */
  const on = (...views: Array<ArrayBufferView | null>): void => {
    for (const v of views) {
      if (v && !heap.contains(v)) throw new RangeError('WASM kernels: a tensor is not on the engine heap (use selectKernels, which falls back to the reference)');
    }
  };

  function matmul(out: Float32Array, x: Float32Array, w: WeightTensor, M: number, accumulate = false): void {
    on(out, x, w.data);
    const N = w.rows, K = w.cols;
    if (x.length < M * K || out.length < M * N) {
      throw new RangeError(`matmul: x has ${x.length} values for M=${M}×K=${K}, out ${out.length} for M×N=${M * N}`);
    }
    if (K % BLOCK[w.dtype].elems !== 0) throw new RangeError(`matmul: ${w.dtype} needs K a multiple of ${BLOCK[w.dtype].elems}, got ${K}`);
    if (w.data.byteLength < N * (K / BLOCK[w.dtype].elems) * BLOCK[w.dtype].bytes) {
      throw new RangeError(`matmul: ${w.dtype} weight ${N}×${K} needs ${N * (K / BLOCK[w.dtype].elems) * BLOCK[w.dtype].bytes} bytes, data has ${w.data.byteLength}`);
    }
    if (M === 0 || N === 0) return;
    const acc = accumulate ? 1 : 0;
    // Chunks: ~4 per thread, so a thread the OS delays leaves little for the others to wait on.
    const chunks = pool && M * N * K >= minWork && N >= 8 ? Math.min(Math.ceil(N / 4), threads * 4, MAX_CHUNKS) : 1;
    const po = out.byteOffset, px = x.byteOffset, pw = w.data.byteOffset;

    // per-part scratch: 4 rows of K f32 (float path; the q8_0/q4_0 batch tile needs 9·K + 128 bytes
    // for 8 transposed int8 rows, their block scales and a 4×8 float tile)
    const stride = 16 * K;
    [rowsOff, rowsBytes] = scratch(rowsOff, rowsBytes, stride * (pool ? threads : 1));
    const kq = w.dtype === 'q4_K' || w.dtype === 'q5_K' || w.dtype === 'q6_K';
    if (int8 && (w.dtype === 'q8_0' || w.dtype === 'q4_0' || (kq && M <= kquantIntMaxM))) {
      const nb = K >> 5;
      const qBytes = Math.ceil((M * K * 2) / 64) * 64, sBytes = Math.ceil((M * nb * 4) / 64) * 64;
      [xqOff, xqBytes] = scratch(xqOff, xqBytes, qBytes + 2 * sBytes);
      const xq = xqOff, xd = xqOff + qBytes, xs = xd + sBytes;
      // relaxed tiles (M ≥ 2): q8_0 on 7-bit activations with zero point 64, one byte each; q4_0
      // on int8 bytes with i32 block sums at xs (= xd + sBytes, where the wasm side expects them)
      if (relaxed && w.dtype === 'q8_0' && M >= 2) k.quantizeRowsU7(px, xq, xd, M, K);
      else if (relaxed && w.dtype === 'q4_0' && M >= 2) k.quantizeRowsI8(px, xq, xd, M, K, xs);
      else k.quantizeRowsQ8(px, xq, xd, M, K, w.dtype === 'q4_K' || w.dtype === 'q5_K' ? xs : 0);
      if (kq && M >= 2) {
        // widened-weights batch kernel (kinds as in assembly/matmul.ts: 2 q4_K, 3 q5_K, 4 q6_K)
        const kind = w.dtype === 'q4_K' ? 2 : w.dtype === 'q5_K' ? 3 : 4;
        if (chunks === 1) return k.matmulKQuantBatch(kind, po, xq, xd, xs, pw, M, K, N, 0, N, acc, rowsOff);
        pool!.run(OP.MATMUL_KQ_BATCH, [kind, po, xq, xd, xs, pw, M, K, N, acc, rowsOff, stride], chunks, (c) => {
          const [n0, n1] = rowRange(N, chunks, c);
          if (n0 < n1) k.matmulKQuantBatch(kind, po, xq, xd, xs, pw, M, K, N, n0, n1, acc, rowsOff);
        });
        return;
      }
      if (w.dtype === 'q4_K' || w.dtype === 'q5_K') {
        const hi = w.dtype === 'q5_K' ? 1 : 0;
        if (chunks === 1) return k.matmulQ45K(hi, po, xq, xd, xs, pw, M, K, N, 0, N, acc, rowsOff);
        pool!.run(OP.MATMUL_Q45K, [hi, po, xq, xd, xs, pw, M, K, N, acc, rowsOff, stride], chunks, (c) => {
          const [n0, n1] = rowRange(N, chunks, c);
          if (n0 < n1) k.matmulQ45K(hi, po, xq, xd, xs, pw, M, K, N, n0, n1, acc, rowsOff);
        });
        return;
      }
      if (w.dtype === 'q6_K') {
        if (chunks === 1) return k.matmulQ6K(po, xq, xd, pw, M, K, N, 0, N, acc);
        pool!.run(OP.MATMUL_Q6K, [po, xq, xd, pw, M, K, N, acc], chunks, (c) => {
          const [n0, n1] = rowRange(N, chunks, c);
          if (n0 < n1) k.matmulQ6K(po, xq, xd, pw, M, K, N, n0, n1, acc);
        });
        return;
      }
      const f = w.dtype === 'q8_0' ? k.matmulQ8_0 : k.matmulQ4_0;
      if (chunks === 1) return f(po, xq, xd, pw, M, K, N, 0, N, acc, rowsOff);
      pool!.run(w.dtype === 'q8_0' ? OP.MATMUL_Q8_0 : OP.MATMUL_Q4_0, [po, xq, xd, pw, M, K, N, acc, rowsOff, stride], chunks, (c) => {
        const [n0, n1] = rowRange(N, chunks, c);
        if (n0 < n1) f(po, xq, xd, pw, M, K, N, n0, n1, acc, rowsOff);
      });
      return;
    }

    const dt = DTYPE_CODE[w.dtype];
    if (chunks === 1) return k.matmulFloat(dt, po, px, pw, M, K, N, 0, N, acc, rowsOff);
    pool!.run(OP.MATMUL_FLOAT, [dt, po, px, pw, M, K, N, acc, rowsOff, stride], chunks, (c) => {
      const [n0, n1] = rowRange(N, chunks, c);
      if (n0 < n1) k.matmulFloat(dt, po, px, pw, M, K, N, n0, n1, acc, rowsOff);
    });
  }

  // Attention scratch: the block table and ALiBi slopes copied onto the heap (callers keep them
  // in plain arrays), and one row of scores per part.
  let attOff = 0, attBytes = 0;
  const bits = new Float32Array(1), bitsI = new Int32Array(bits.buffer);
  const f32bits = (x: number) => ((bits[0] = x), bitsI[0]);

  function attention(out: Float32Array, q: Float32Array, kv: PagedKv, T: number, pos0: number, p: AttentionParams): void {
    on(out, q, kv.k, kv.v);
    const { nHeads: H, nKvHeads: Hkv, headDim: D } = p;
    const L = pos0 + T;
    const nBlocks = Math.ceil(L / kv.blockSize);
    if (kv.blockTable.length < nBlocks) throw new RangeError(`attention: block table has ${kv.blockTable.length} blocks, ${nBlocks} needed for ${L} positions`);
    if (H % Hkv !== 0) throw new RangeError(`attention: ${H} query heads are not a multiple of ${Hkv} KV heads`);
    const poolBlocks = Math.floor(Math.min(kv.k.length, kv.v.length) / (kv.blockSize * Hkv * D));
    for (let i = 0; i < nBlocks; i++) {
      const b = kv.blockTable[i];
      if (!(b >= 0 && b < poolBlocks)) throw new RangeError(`attention: block table entry ${i} = ${b} outside the KV pool of ${poolBlocks} blocks`);
    }
    if (q.length < T * H * D || out.length < T * H * D) throw new RangeError(`attention: q/out hold ${q.length}/${out.length} values, ${T * H * D} needed`);
    const chunks = pool && T * H * L * D >= minWork && H >= 2 ? H : 1;
    const scoresStride = Math.ceil((L * 4) / 64) * 64;
    const tableBytes = Math.ceil((nBlocks * 4) / 64) * 64;
    const slopeBytes = p.alibiSlopes ? Math.ceil((H * 4) / 64) * 64 : 0;
    [attOff, attBytes] = scratch(attOff, attBytes, tableBytes + slopeBytes + scoresStride * (pool ? threads : 1));
    const mem = heap.memory.buffer;
    new Int32Array(mem, attOff, nBlocks).set(kv.blockTable.subarray(0, nBlocks));
    const slopes = p.alibiSlopes ? attOff + tableBytes : 0;
    if (p.alibiSlopes) new Float32Array(mem, slopes, H).set(p.alibiSlopes.subarray(0, H));
    const scores = attOff + tableBytes + slopeBytes;
    const args = [out.byteOffset, q.byteOffset, kv.k.byteOffset, kv.v.byteOffset, attOff, kv.blockSize, T, pos0, H, Hkv, D,
      p.scale, p.slidingWindow ?? 0, p.softcap ?? 0, slopes] as const;
    const call = (h0: number, h1: number, sc: number) =>
      k.attention(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9], args[10], args[11], args[12], args[13], args[14], h0, h1, sc);
    if (chunks === 1) return call(0, H, scores);
    const wargs: number[] = [...args];
    wargs[11] = f32bits(p.scale);
    wargs[13] = f32bits(p.softcap ?? 0);
    pool!.run(OP.ATTENTION, [...wargs, scores, scoresStride], chunks, (c) => {
      const [h0, h1] = headRange(H, chunks, c);
      if (h0 < h1) call(h0, h1, scores);
    });
  }

  // RoPE: (cos, sin)·mscale per row and pair, computed here in float64 like the reference, once
  // per distinct (positions, invFreq, mscale) — q and k of a layer share it.
  let ropeOff = 0, ropeBytes = 0;
  let ropeKey: { pos: Int32Array; inv: Float32Array | null; mscale: number } = { pos: new Int32Array(0), inv: null, mscale: 0 };
  function rope(x: Float32Array, M: number, nHeads: number, headDim: number, positions: Int32Array, invFreq: Float32Array, neox: boolean, mscale: number): void {
    on(x);
    const half = invFreq.length;
    if (2 * half > headDim) throw new RangeError(`rope: ${2 * half} rotated dims exceed headDim ${headDim}`);
    const need = M * half * 8;
    const same = ropeKey.inv === invFreq && ropeKey.mscale === mscale && ropeKey.pos.length === M && ropeKey.pos.every((p, i) => p === positions[i]) && ropeBytes >= need;
    if (!same) {
      [ropeOff, ropeBytes] = scratch(ropeOff, ropeBytes, need);
      const cs = new Float32Array(heap.memory.buffer, ropeOff, M * half * 2);
      for (let m = 0; m < M; m++) {
        const p = positions[m];
        for (let i = 0; i < half; i++) {
          const th = p * invFreq[i];
          cs[(m * half + i) * 2] = Math.cos(th) * mscale;
          cs[(m * half + i) * 2 + 1] = Math.sin(th) * mscale;
        }
      }
      ropeKey = { pos: Int32Array.from(positions.subarray(0, M)), inv: invFreq, mscale };
    }
    k.rope(x.byteOffset, ropeOff, M, nHeads, headDim, half, neox ? 1 : 0);
  }

  return {
    name: `wasm-${relaxed ? 'relaxed-simd' : 'simd128'}×${threads}`,
    variant,
    attention,
    rope,
    geluMul(out, gate, up, n) {
      on(out, gate, up);
      k.geluMul(out.byteOffset, gate.byteOffset, up.byteOffset, n);
    },
    softcap(x, n, cap) {
      on(x);
      k.softcap(x.byteOffset, n, cap);
    },
    add(out, a, b, n) {
      on(out, a, b);
      k.add(out.byteOffset, a.byteOffset, b.byteOffset, n);
    },
    addBias(x, bias, M, N) {
      on(x, bias);
      k.addBias(x.byteOffset, bias.byteOffset, M, N);
    },
    scale(x, s, n) {
      on(x);
      k.scale(x.byteOffset, s, n);
    },
    threads,
    matmul,
    rmsnorm(out, x, weight, M, C, eps) {
      on(out, x, weight);
      k.rmsnorm(out.byteOffset, x.byteOffset, weight ? weight.byteOffset : 0, M, C, eps);
    },
    layernorm(out, x, weight, bias, M, C, eps) {
      on(out, x, weight, bias);
      k.layernorm(out.byteOffset, x.byteOffset, weight ? weight.byteOffset : 0, bias ? bias.byteOffset : 0, M, C, eps);
    },
    softmax(x, M, C) {
      on(x);
      k.softmax(x.byteOffset, M, C);
    },
    siluMul(out, gate, up, n) {
      on(out, gate, up);
      k.siluMul(out.byteOffset, gate.byteOffset, up.byteOffset, n);
    },
    gelu(x, n) {
      on(x);
      k.gelu(x.byteOffset, n);
    },
    poolStats() {
      return pool ? { ...pool.stats } : null;
    },
    waitReady(timeoutMs = 10_000) {
      return pool ? pool.waitReady(timeoutMs) : true;
    },
    close() {
      pool?.close();
      if (rowsOff) heap.free(rowsOff);
      if (xqOff) heap.free(xqOff);
      if (attOff) heap.free(attOff);
      if (ropeOff) heap.free(ropeOff);
      rowsOff = xqOff = attOff = ropeOff = rowsBytes = xqBytes = attBytes = ropeBytes = 0;
    },
  };
}
