/**
 * Turn f32 factors (A (R, K), B (N, R) of a possibly fused target) into LoraPairs on the heap,
 * checked against the base weights. Shared by the PEFT loader, in-memory adapters and training.
 */
import type { Heap } from '../heap.ts';
import type { WeightTensor } from '../kernels/types.ts';
import type { LoraPair } from './adapter.ts';
import { wrongBase, type LoraTarget } from './targets.ts';

type TensorMap = Map<string, WeightTensor | Float32Array>;

export interface BuiltPairs {
  pairs: Array<[string, LoraPair]>;
  views: ArrayBufferView[];
  bytes: number;
}

export function buildPairs(
  heap: Heap, tensors: TensorMap, target: LoraTarget, a: Float32Array, b: Float32Array, R: number, scale: number, path: string, module: string,
): BuiltPairs {
  const first = tensors.get(target.parts[0].name) as WeightTensor;
  const K = first.cols;
  const N = target.parts.reduce((s, p) => s + p.rows, 0);
  if (a.length !== R * K) throw wrongBase(`${module}: lora_A has ${a.length / R}×… values for rank ${R}, the base weight has ${K} input features`, path, { module, expectedIn: K });
  if (b.length !== N * R) throw wrongBase(`${module}: lora_B has ${b.length / R} output rows, the base weight has ${N}`, path, { module, expectedOut: N });
  const views: ArrayBufferView[] = [];
  const aHeap = heap.copyIn(a);
  views.push(aHeap);
  const aT: WeightTensor = { dtype: 'f32', rows: R, cols: K, data: new Uint8Array(aHeap.buffer, aHeap.byteOffset, aHeap.byteLength) };
  const bHeap = heap.f32(N * R);
  views.push(bHeap);
  if (target.perm) for (let r = 0; r < N; r++) bHeap.set(b.subarray(target.perm[r] * R, (target.perm[r] + 1) * R), r * R);
  else bHeap.set(b);
  const pairs: Array<[string, LoraPair]> = [];
  let row = 0;
  for (const p of target.parts) {
    const w = tensors.get(p.name) as WeightTensor;
    if (w.cols !== K) {
      for (const v of views) heap.free(v);
      throw wrongBase(`${module}: ${p.name} has ${w.cols} input features, lora_A has ${K}`, path, { module });
    }
    const slice = bHeap.subarray(row * R, (row + p.rows) * R);
    pairs.push([p.name, { a: aT, b: { dtype: 'f32', rows: p.rows, cols: R, data: new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength) }, scale }]);
    row += p.rows;
  }
  return { pairs, views, bytes: aHeap.byteLength + bHeap.byteLength };
}
