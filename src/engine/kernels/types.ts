/**
 * The kernel contract between the engine and its implementations.
 *
 * - `reference.ts` implements every op in plain TypeScript: it is the spec.
 * - `wasm/` implements the hot ops with WebAssembly SIMD on worker threads over shared memory.
 * - `select.ts` composes them: an op the fast set lacks (or that fails to load) falls back to
 *   the reference, so the engine always runs.
 *
 * Memory: every tensor the engine hands to a kernel is a typed-array *view into the engine heap*
 * (`engine/heap.ts`), whose buffer is one shared `WebAssembly.Memory`. WASM kernels therefore take
 * `view.byteOffset` as a pointer and never copy; a view that is not on the heap (a test's fresh
 * Float32Array) must be handled by the fast set either by falling back to the reference or by a
 * copy — never by a wrong answer. All calls are synchronous: the WASM set blocks the calling
 * thread with Atomics.wait while its workers run.
 *
 * Shapes use the house letters: M rows of activations (tokens in the batch), K input features,
 * N output features.
 */

/** Storage types for weight matrices. Quantized types use GGUF's block layouts byte-for-byte. */
export type DType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_K' | 'q5_K' | 'q6_K';

/** Elements per block and bytes per block, as in ggml (ggml-common.h). */
export const BLOCK: Record<DType, { elems: number; bytes: number }> = {
  f32: { elems: 1, bytes: 4 },
  f16: { elems: 1, bytes: 2 },
  bf16: { elems: 1, bytes: 2 },
  q8_0: { elems: 32, bytes: 34 }, // f16 d, int8 qs[32]
  q4_0: { elems: 32, bytes: 18 }, // f16 d, uint8 qs[16] (nibbles; low = elems 0..15, high = 16..31)
  q4_K: { elems: 256, bytes: 144 }, // f16 d, f16 dmin, u8 scales[12], u8 qs[128]
  q5_K: { elems: 256, bytes: 176 }, // f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
  q6_K: { elems: 256, bytes: 210 }, // u8 ql[128], u8 qh[64], i8 scales[16], f16 d
};

export function rowBytes(dtype: DType, cols: number): number {
  const b = BLOCK[dtype];
  if (cols % b.elems !== 0) throw new Error(`${dtype} rows need a multiple of ${b.elems} columns, got ${cols}`);
  return (cols / b.elems) * b.bytes;
}

/**
 * A weight matrix W of shape (N, K) = (rows, cols), stored row-major: row n holds the K input
 * weights of output feature n (the PyTorch `nn.Linear.weight` and GGUF orientation).
 */
export interface WeightTensor {
  dtype: DType;
  rows: number; // N
  cols: number; // K
  /** Raw bytes, `rows * rowBytes(dtype, cols)` long. */
  data: Uint8Array;
}

export interface Kernels {
  readonly name: string;

  /** out (M, N) = x (M, K) · Wᵀ ; with `accumulate`, out += x · Wᵀ. Fused dequantization. */
  matmul(out: Float32Array, x: Float32Array, w: WeightTensor, M: number, accumulate?: boolean): void;

  /** out (M, C) = x / rms(x) * weight ; rms over each row of C. `weight` may be null (no scale). */
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array | null, M: number, C: number, eps: number): void;

  /** out (M, C) = (x - mean) / sqrt(var + eps) * weight + bias. */
  layernorm(
    out: Float32Array, x: Float32Array, weight: Float32Array | null, bias: Float32Array | null,
    M: number, C: number, eps: number,
  ): void;

  /** In place: row-wise softmax of x (M, C). */
  softmax(x: Float32Array, M: number, C: number): void;

  /** out = silu(gate) * up, elementwise over n. */
  siluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  /** In place tanh-approximated GELU over n elements. */
  gelu(x: Float32Array, n: number): void;

  // ---- Ops added by the forward pass (each has a reference implementation). ----

  /** out = a + b, elementwise over n (residual adds). `out` may alias `a` or `b`. */
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;

  /** In place: x (M, N) += bias (N) on every row. */
  addBias(x: Float32Array, bias: Float32Array, M: number, N: number): void;

  /** In place: x *= s over n elements. */
  scale(x: Float32Array, s: number, n: number): void;

  /** out = gelu_tanh(gate) * up, elementwise over n (GeGLU). */
  geluMul(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;

  /** In place: x = cap · tanh(x / cap) over n elements (Gemma 2 logit soft-capping). */
  softcap(x: Float32Array, n: number, cap: number): void;

  /** out (M, C) = rows `ids[0..M)` of `table` (V, C), dequantized (embedding lookup). */
  getRows(out: Float32Array, table: WeightTensor, ids: Int32Array, M: number): void;

  /**
   * In place rotary embedding of x (M, nHeads·headDim): in each head the first `2·invFreq.length`
   * dims rotate by angle `positions[m] · invFreq[i]`, the rest pass through; cos and sin are
   * multiplied by `mscale` (YaRN's attention factor, else 1). Pairs are (2i, 2i+1) for ggml's
   * 'normal' style and (i, i + dims/2) for 'neox'. Scaling (linear, YaRN, llama3) is folded
   * into `invFreq` by the caller.
   */
  rope(
    x: Float32Array, M: number, nHeads: number, headDim: number,
    positions: Int32Array, invFreq: Float32Array, neox: boolean, mscale: number,
  ): void;

  /**
   * Causal attention of one sequence over its paged KV cache.
   * q (T, nHeads·headDim) are the queries at positions pos0 … pos0+T−1; keys/values for
   * positions 0 … pos0+T−1 are already in the cache. out (T, nHeads·headDim).
   * Query head h reads KV head ⌊h / (nHeads/nKvHeads)⌋ (GQA/MQA).
   * score = q·k · scale → softcap (if set) → + slope_h·(kpos − qpos) (ALiBi, if set) →
   * masked to kpos ≤ qpos and qpos − kpos < slidingWindow (if set) → softmax → Σ p·v.
   */
  attention(out: Float32Array, q: Float32Array, kv: PagedKv, T: number, pos0: number, p: AttentionParams): void;
}

/**
 * One layer's KV cache as a pool of fixed-size blocks, plus one sequence's block table.
 * k and v are (numBlocks, blockSize, kvDim) with kvDim = nKvHeads·headDim; position p of the
 * sequence lives in block `blockTable[⌊p / blockSize⌋]`, slot `p mod blockSize`.
 */
export interface PagedKv {
  k: Float32Array;
  v: Float32Array;
  blockTable: Int32Array;
  blockSize: number;
}

export interface AttentionParams {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Multiplier of q·k (usually 1/√headDim). */
  scale: number;
  slidingWindow: number | null;
  softcap: number | null;
  /** Per query head ALiBi slope (nHeads), or null. */
  alibiSlopes: Float32Array | null;
}

/** Names of the ops in `Kernels`, for the conformance suite and fallback composition. */
export const KERNEL_OPS = [
  'matmul', 'rmsnorm', 'layernorm', 'softmax', 'siluMul', 'gelu',
  'add', 'addBias', 'scale', 'geluMul', 'softcap', 'getRows', 'rope', 'attention',
] as const;
