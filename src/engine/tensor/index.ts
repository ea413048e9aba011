/** Tensor utilities: 16-bit float conversion and GGUF block dequantization (the reference). */
export { f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, roundF16 } from './half.ts';
export { dequantizeRow, dequantizeWeightRow, dequantize } from './dequant.ts';
export { f32Weight } from './weight.ts';
