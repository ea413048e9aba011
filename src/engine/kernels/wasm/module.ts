/**
 * The compiled kernel modules (built by scripts/build-wasm.mjs from assembly/**): kernels.wasm
 * (SIMD128, every runtime) and kernels-relaxed.wasm (the same sources with relaxed SIMD: the 8-bit
 * dot tile for q8_0; loaded only where probe.ts says the runtime runs it exactly). Each is compiled
 * once per process, synchronously (Kernels calls are synchronous and the modules are ≈35 KB), then
 * shared: the calling thread and every worker instantiate it on the engine heap's memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenLedgerError } from '../../../util/errors.ts';

/** The kernel variants a runtime can get: SIMD128 everywhere, relaxed SIMD where the probe passes. */
export type WasmVariant = 'simd128' | 'relaxed-simd';

export const WASM_PATHS: Record<WasmVariant, string> = {
  simd128: fileURLToPath(new URL('./build/kernels.wasm', import.meta.url)),
  'relaxed-simd': fileURLToPath(new URL('./build/kernels-relaxed.wasm', import.meta.url)),
};
export const WASM_PATH = WASM_PATHS.simd128;

/** The module's exports. Pointers are byte offsets into the heap; `acc` is 0/1. */
export interface KernelExports {
  relaxedBuild(): number;
  matmulFloat(dtype: number, out: number, x: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  /** M ≥ 2 in the relaxed build: activations from quantizeRowsU7; otherwise from quantizeRowsQ8. */
  matmulQ8_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  matmulQ8_0Simd(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  /** M ≥ 2 in the relaxed build: activations from quantizeRowsI8 (bytes, sums after the scales). */
  matmulQ4_0(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
  quantizeRowsQ8(x: number, xq: number, xd: number, M: number, K: number, xs: number): void;
  quantizeRowsU7(x: number, xu: number, xd: number, M: number, K: number): void;
  quantizeRowsI8(x: number, xb: number, xd: number, M: number, K: number, xsum: number): void;
  matmulQ4_0Simd(out: number, xq: number, xd: number, w: number, M: number, K: number, N: number, n0: number, n1: number, acc: number, scratch: number): void;
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

const cached: Partial<Record<WasmVariant, WebAssembly.Module>> = {};

/** The module's bytes (probe.ts validates them before compiling). */
export function kernelBytes(variant: WasmVariant = 'simd128'): Uint8Array<ArrayBuffer> {
  const path = WASM_PATHS[variant];
  if (!existsSync(path)) {
    throw new OpenLedgerError(`WASM kernels not built: ${path} is missing`, {
      type: 'internal_error',
      code: 'wasm_kernels_missing',
      hint: 'run `npm run build` (scripts/build-wasm.mjs compiles src/engine/kernels/wasm/assembly)',
    });
  }
  return new Uint8Array(readFileSync(path)); // a copy on a plain ArrayBuffer (BufferSource)
}

export function kernelModule(variant: WasmVariant = 'simd128'): WebAssembly.Module {
  return (cached[variant] ??= new WebAssembly.Module(kernelBytes(variant)));
}

export function instantiate(memory: WebAssembly.Memory, variant: WasmVariant = 'simd128'): KernelExports {
  return new WebAssembly.Instance(kernelModule(variant), { env: { memory } }).exports as unknown as KernelExports;
}
