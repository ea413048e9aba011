/**
 * Model Factory (issue 4): fine-tuning jobs on datanet versions or uploaded files — dataset
 * building, a persistent job queue with one in-process worker, evaluation against the base,
 * PEFT + GGUF LoRA export, on-chain registration, and adapter import.
 *
 *   const factory = new FactoryService({ db, dataDir, chain, blobs, keyring, datanets: () => svc });
 *   const queue = new JobQueue(factory); queue.start();
 *   const job = await factory.createJob(caller, { model: 'tiny', datanets: [{ id: 1, version: 1 }], hyperparameters: { n_epochs: 3 } });
 *   factory.fineTunedModel(job.fineTunedModel)   // → { baseModelPath, adapterPath, modelId, … } for serving
 */
export { FactoryService, jobView, fileView, type FactoryDeps } from './jobs.ts';
export { JobQueue } from './queue.ts';
export { FactoryRepo, type JobRecord, type JobRequest, type JobStatus, type EventRecord, type CheckpointRecord, type ModelRecord, type JobRowRecord } from './repo.ts';
export { buildDataset, parseJsonlFile, splitScore, type Dataset, type DatasetRow, type SourceRow, type RowFormat } from './dataset.ts';
export { parseHyperparameters, trainerOptions, BASE_LR, type JobHyperparameters } from './hyperparameters.ts';
export { evaluate, rougeL, greedyIds, type Evaluation, type EvalScores } from './evaluate.ts';
export { exportAdapter, exportPeft, exportGguf, type ExportResult } from './export.ts';
export { registerModel, modelCardMarkdown, configHash, canonicalJson, type ModelCard, type Registration } from './register.ts';
export { importAdapter, type ImportRequest } from './import.ts';
