/**
 * loadModel(path): an HF folder (config.json + *.safetensors + tokenizer.json +
 * tokenizer_config.json) or a .gguf file → a LoadedModel whose tensors carry canonical GGUF names.
 * (First committed signature; the implementation follows.)
 */
import type { Heap } from '../heap.ts';
import type { DType, WeightTensor } from '../kernels/types.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import type { ModelConfig } from './config.ts';
import { OpenLedgerError } from '../../util/errors.ts';

export interface LoadedModel {
  config: ModelConfig;
  heap: Heap;
  /** 2-D weights stay in their file dtype (fused dequant in kernels); 1-D tensors (norms, biases) are f32 on the heap. */
  tensors: Map<string, WeightTensor | Float32Array>;
  tokenizer: Tokenizer; // src/engine/tokenizer
  chatTemplate: string | null; // jinja source
  source: { format: 'gguf' | 'safetensors'; path: string; sha256: string };
}

export interface LoadOptions {
  /** Heap to allocate on (default: a new one). */
  heap?: Heap;
  /** Optional requantize target for 2-D weights. */
  dtype?: DType;
}

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  void opts;
  throw new OpenLedgerError(`loadModel(${path}) is not implemented yet`, { type: 'internal_error' });
}
