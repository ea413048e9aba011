/**
 * The compiled kernel module (build/kernels.wasm, produced by scripts/build-wasm.mjs from
 * assembly/*.ts). Compiled once per process, synchronously (Kernels calls are synchronous and the
 * module is ≈27 KB), then shared: the calling thread and every worker instantiate it on the
 * engine heap's memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenLedgerError } from '../../../util/errors.ts';

export const WASM_PATH = fileURLToPath(new URL('./build/kernels.wasm', import.meta.url));

/** The module's exports. Pointers are byte offsets into the heap; `acc` is 0/1. */
export interface KernelExports {
  matmulFloat(dtype: number, out: number, x: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ8_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ4_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  quantizeRowsQ8(x: number, xq: number, xd: number, M: number, K: number, xs: number): void;
  matmulQ45K(hasHigh: number, out: number, xq: number, xd: number, xs: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulKQuantBatch(kind: number, out: number, xq: number, xd: number, xs: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ6K(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number): void;
  rmsnorm(out: number, x: number, w: number, M: number, C: number, eps: number): void;
  layernorm(out: number, x: number, w: number, b: number, M: number, C: number, eps: number): void;
  softmax(x: number, M: number, C: number): void;
  siluMul(out: number, gate: number, up: number, n: number): void;
  gelu(x: number, n: number): void;
  geluMul(out: number, gate: number, up: number, n: number): void;
  softcap(x: number, n: number, cap: number): void;
  add(out: number, a: number, b: number, n: number): void;
  addBias(x: number, bias: number, M: number, N: number): void;
  scale(x: number, s: number, n: number): void;
  rope(x: number, cs: number, M: number, nHeads: number, headDim: number, half: number, neox: number): void;
  attention(out: number, q: number, k: number, v: number, table: number, bs: number, T: number, pos0: number, H: number, Hkv: number, D: number,
    scale: number, window: number, cap: number, slopes: number, h0: number, h1: number, scores: number): void;
}

let cached: WebAssembly.Module | null = null;

export function kernelModule(): WebAssembly.Module {
  if (cached) return cached;
  if (!existsSync(WASM_PATH)) {
    throw new OpenLedgerError(`WASM kernels not built: ${WASM_PATH} is missing`, {
      type: 'internal_error',
      code: 'wasm_kernels_missing',
      hint: 'run `npm run build` (scripts/build-wasm.mjs compiles src/engine/kernels/wasm/assembly)',
    });
  }
  cached = new WebAssembly.Module(readFileSync(WASM_PATH));
  return cached;
}

export function instantiate(memory: WebAssembly.Memory): KernelExports {
  return new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports as unknown as KernelExports;
}
