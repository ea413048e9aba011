/**
 * The engine's public entry. Typical use:
 *
 *   const model = await loadModel('path/to/model.gguf');          // or an HF folder
 *   const engine = await createEngine(model, { kvTokens: 8192 });
 *   const lora = await engine.loadAdapter('path/to/adapter');      // optional: PEFT folder or GGUF LoRA
 *   for await (const c of generate(engine, { prompt: 'Hello', adapter: lora, maxTokens: 64 })) process.stdout.write(c.text);
 *
 * Serving drives `BatchGenerator` (continuous batching) or `engine.step` directly; embeddings
 * come from `embed`, per-token log-probabilities (loss, perplexity) from `scoreTokens`.
 * Everything else under engine/ is internal.
 */
export { loadModel, type LoadedModel, type LoadOptions } from './model/load.ts';
export type { ModelConfig, Family, RopeConfig } from './model/config.ts';
export type { Tokenizer, ChatMessage } from './tokenizer/types.ts';
export { Engine, createEngine, type EngineOptions, type SequenceHandle, type StepEntry, type StepResult } from './engine.ts';
export {
  generate, generateText, BatchGenerator, batchGenerator,
  type GenerateRequest, type GenerateChunk, type GenerateResult, type GenerationStream, type FinishReason, type BatchGeneratorOptions, type TokenConstraint,
} from './generate.ts';
export { embed, type EmbedOptions } from './embed.ts';
export { scoreTokens, type ScoreOptions, type ScoreResult } from './score.ts';
export { Sampler, type SamplingParams, type SampledToken, type TokenLogprob } from './sampling.ts';
export type { LoraAdapter, LoraPair, AdapterLoadOptions, LoraFactors } from './lora/index.ts';
export { mergedWeight } from './lora/index.ts';
export { Heap } from './heap.ts';
export type { Kernels, DType, WeightTensor } from './kernels/types.ts';
export { referenceKernels } from './kernels/reference.ts';
export { kernelStatus, type KernelPath } from './kernels/select.ts';

import type { Engine } from './engine.ts';
import type { LoraAdapter, AdapterLoadOptions } from './lora/index.ts';

/** Load a PEFT folder or GGUF LoRA file into `engine` (same as engine.loadAdapter). */
export function loadAdapter(engine: Engine, path: string, opts?: AdapterLoadOptions): Promise<LoraAdapter> {
  return engine.loadAdapter(path, opts);
}
