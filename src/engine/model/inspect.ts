/**
 * inspectModel(path): everything `openledger models add` records about a model — format,
 * family, config, weight hash and size — after the same checks loadModel makes (config against
 * tensor shapes, supported types, a working tokenizer), without reading tensor data into memory.
 */
import type { DType } from '../kernels/types.ts';
import type { ModelConfig } from './config.ts';
import { loadedBytes, openModel, sha256Files } from './load.ts';

export interface ModelInfo {
  format: 'gguf' | 'safetensors';
  path: string;
  family: ModelConfig['family'];
  /** GGUF general.architecture of the family. */
  arch: string;
  config: ModelConfig;
  /** sha256 of the weight file (or of the shards concatenated in name order). */
  sha256: string;
  /** Bytes of tensor data the engine will read. */
  weightBytes: number;
  /** Bytes the tensors take on the engine heap once loaded (vectors widen to f32); the heap holds at most 4 GiB. */
  heapBytes: number;
  files: string[];
  /** Number of canonical tensors, and how many of them are stored in each dtype. */
  tensorCount: number;
  dtypes: Partial<Record<DType, number>>;
  chatTemplate: boolean;
}

export async function inspectModel(path: string): Promise<ModelInfo> {
  const m = openModel(path);
  const dtypes: Partial<Record<DType, number>> = {};
  for (const p of m.parts.values()) {
    const d = m.sources.get(p.plan.source)!.dtype as DType;
    dtypes[d] = (dtypes[d] ?? 0) + 1;
  }
  return {
    format: m.format,
    path,
    family: m.config.family,
    arch: m.config.arch,
    config: m.config,
    sha256: await sha256Files(m.files),
    weightBytes: m.weightBytes,
    heapBytes: loadedBytes(m, {}),
    files: m.files,
    tensorCount: m.parts.size,
    dtypes,
    chatTemplate: m.chatTemplate !== null,
  };
}
