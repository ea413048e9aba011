/** WebAssembly SIMD kernels on worker threads. Most callers want `selectKernels` (../select.ts). */
export { createWasmKernels, DTYPE_CODE, WASM_OPS, type WasmKernels, type WasmKernelOptions } from './wasm-kernels.ts';
export { kernelModule, WASM_PATH } from './module.ts';
