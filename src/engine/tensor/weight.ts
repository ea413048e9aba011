/** Wrapping plain f32 matrices as `WeightTensor`s (tests, LoRA factors, merged weights). */
import type { WeightTensor } from '../kernels/types.ts';
import type { Heap } from '../heap.ts';

/**
 * W (rows, cols) row-major f32 as a WeightTensor. With a heap the bytes are copied onto it (so
 * WASM kernels can address them); without one they alias `data`.
 */
export function f32Weight(data: Float32Array, rows: number, cols: number, heap?: Heap): WeightTensor {
  if (data.length !== rows * cols) throw new Error(`f32Weight: ${data.length} values for a ${rows}×${cols} matrix`);
  const src = heap ? heap.copyIn(data) : data;
  return { dtype: 'f32', rows, cols, data: new Uint8Array(src.buffer, src.byteOffset, src.byteLength) };
}
