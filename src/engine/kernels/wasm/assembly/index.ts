// @ts-nocheck — AssemblyScript entry: the exports of kernels.wasm (and of kernels-relaxed.wasm,
// the same sources built with relaxed SIMD). Every pointer is a byte offset into the engine
// heap's shared memory; the module keeps no state and no static data, so any number of threads
// may run it on the same memory at once.
export { matmulFloat, matmulQ8_0, matmulQ8_0Simd, matmulQ4_0, matmulQ4_0Simd, matmulQ45K, matmulQ6K, matmulKQuantBatch, quantizeRowsQ8, quantizeRowsU7, quantizeRowsI8, relaxedBuild } from './matmul';
export { rmsnorm, layernorm, softmax, siluMul, gelu, geluMul, softcap, add, addBias, scale, rope } from './ops';
export { attention } from './attention';
