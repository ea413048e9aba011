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
}

/** Names of the ops in `Kernels`, for the conformance suite and fallback composition. */
export const KERNEL_OPS = ['matmul', 'rmsnorm', 'layernorm', 'softmax', 'siluMul', 'gelu'] as const;
