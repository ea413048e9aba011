/**
 * Training in the engine (issue 4): LoRA fine-tuning with exact gradients.
 *
 *   const r = await train(model, examples, { lora: { targets: 'all-linear', rank: 8 }, hyperparameters: { lr: 2e-4 } });
 *   const adapter = engine.createAdapter(r.factors);     // served at once by the inference engine
 *
 * Full fine-tuning of small f32 models: train(model, examples, { method: "full" }) trains `model` in place.
 *
 * Lower level: TrainModel (forward + backward over a packed batch), TrainableLora, FullParams, AdamW and
 * schedules, packing, checkpoints, and the backward ops.
 */
export { train, planBatches, planGroups, type TrainOptions, type TrainResult, type TrainHyperparameters, type StepMetrics, type ExampleGradients } from './train.ts';
export { TrainModel, type TrainBatch, type StepOptions, type StepResult, type DocGradients, type TrainModelOptions } from './model.ts';
export { TrainableLora, checkLoraConfig, LORA_MODULES, type LoraTrainConfig, type LoraParam, type LoraModuleKind } from './lora.ts';
export { AdamW, clipGradNorm, globalGradNorm, learningRate, type AdamWConfig, type ScheduleKind, type ParamTensor } from './optim.ts';
export { packExamples, packBatch, groupExamples, checkExamples, batchTargets, type TrainExample, type PackedBatch } from './packing.ts';
export { chatExample, instructionExample } from './examples.ts';
export { evaluate, type EvalResult, type EvalOptions } from './evaluate.ts';
export { saveCheckpoint, loadCheckpoint, type CheckpointMeta, type LoadedCheckpoint } from './checkpoint.ts';
export { transposeWeight, transposeInto, type TransposeDType } from './weights-t.ts';
export { FullParams } from './full.ts';
export { AttentionBackward } from './attention.ts';
export { Xorshift } from './rng.ts';
