/**
 * Full fine-tuning: every tensor of the model is a parameter. The weights must be f32 (load
 * with `dtype: 'f32'` or build them so); the optimizer updates them in place on the heap, so the
 * LoadedModel itself becomes the trained model (and an Engine built on it serves it), and the
 * trainer re-transposes its backward copies after each step (TrainModel.refreshWeights).
 *
 * Gradients: linear W (N, K): dW += dyᵀ·x, bias db += Σ dy; norms dw, db; embeddings scatter
 * dx rows (times embedScale); the output head dE += dlogitsᵀ·h (tied heads share the token
 * embedding's gradient). Weight decay applies to 2-D weights only (not norms or biases), as
 * HF Trainer does.
 */
import type { Heap } from '../heap.ts';
import type { WeightTensor } from '../kernels/types.ts';
import type { LoadedModel } from '../model/load.ts';
import { modelError } from '../../util/errors.ts';
import type { ParamTensor } from './optim.ts';

export class FullParams {
  private readonly grads = new Map<object, Float32Array>();
  private readonly list: ParamTensor[] = [];
  readonly numParams: number;

  constructor(model: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, private readonly heap: Heap) {
    if (model.config.normWeightOffset !== 0) throw modelError('full fine-tuning needs norm weights stored without an offset', { code: 'unsupported_training', hint: 'load the model through loadModel (it folds Gemma\'s +1 into the weights)' });
    let n = 0;
    for (const [name, t] of model.tensors) {
      let value: Float32Array;
      if (t instanceof Float32Array) value = t;
      else {
        if (t.dtype !== 'f32') throw modelError(`full fine-tuning needs f32 weights; ${name} is ${t.dtype}`, { code: 'unsupported_training', hint: 'load the base with loadModel(path, { dtype: "f32" }), or train a LoRA adapter instead' });
        value = new Float32Array(t.data.buffer, t.data.byteOffset, t.rows * t.cols);
      }
      const key = t instanceof Float32Array ? t : t.data;
      if (this.grads.has(key)) continue;
      const grad = heap.f32(value.length).fill(0);
      this.grads.set(key, grad);
      this.list.push({ name, value, grad, decay: !(t instanceof Float32Array) });
      n += value.length;
    }
    this.numParams = n;
  }

  /** The gradient buffer of a weight (2-D by its data, 1-D by itself), or null when not a parameter. */
  grad(t: WeightTensor | Float32Array | null): Float32Array | null {
    if (!t) return null;
    return this.grads.get(t instanceof Float32Array ? t : t.data) ?? null;
  }

  tensors(): ParamTensor[] {
    return this.list;
  }

  zeroGrad(): void {
    for (const p of this.list) p.grad.fill(0);
  }

  free(): void {
    for (const g of this.grads.values()) this.heap.free(g);
    this.grads.clear();
    this.list.length = 0;
  }
}
