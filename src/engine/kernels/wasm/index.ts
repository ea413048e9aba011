/** WebAssembly SIMD kernels on worker threads. Most callers want `selectKernels` (../select.ts). */
export { createWasmKernels, DTYPE_CODE, WASM_OPS, type WasmKernels, type WasmKernelOptions } from './wasm-kernels.ts';
export { kernelModule, WASM_PATH, WASM_PATHS, type WasmVariant } from './module.ts';
export { probeKernelPath, type KernelPathReport } from './probe.ts';
