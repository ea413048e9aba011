/** LoRA adapters: types, loaders (PEFT folders, GGUF LoRA files, in-memory factors) and merging. */
export type { LoraAdapter, LoraPair, LoraPart } from './adapter.ts';
export { loadAdapterFile } from './load.ts';
export { loadPeftAdapter, type AdapterLoadOptions } from './peft.ts';
export { loadGgufAdapter } from './gguf.ts';
export { createAdapter, type LoraFactors } from './memory.ts';
export { mergedWeight } from './merge.ts';
