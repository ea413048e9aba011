/** loadAdapterFile: a PEFT folder or a GGUF LoRA file, checked against the base model. */
import { existsSync, statSync } from 'node:fs';
import type { LoadedModel } from '../model/load.ts';
import type { LoraAdapter } from './adapter.ts';
import { loadPeftAdapter, type AdapterLoadOptions } from './peft.ts';
import { loadGgufAdapter } from './gguf.ts';
import { notFound } from '../../util/errors.ts';

export function loadAdapterFile(path: string, base: Pick<LoadedModel, 'config' | 'tensors' | 'heap'>, opts: AdapterLoadOptions = {}): Omit<LoraAdapter, 'id'> {
  if (!existsSync(path)) throw notFound(`adapter ${path} does not exist`, { code: 'adapter_not_found', param: 'adapter', hint: 'pass a PEFT folder (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA file' });
  return statSync(path).isDirectory() ? loadPeftAdapter(path, base, opts) : loadGgufAdapter(path, base, opts);
}
