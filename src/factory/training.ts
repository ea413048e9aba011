/**
 * The compute half of a fine-tuning job: load the base model, train (resuming from the job's
 * checkpoint), evaluate base vs tuned on the held-out rows, export PEFT + GGUF LoRA. It runs on a
 * worker thread of its own (`runTrainingThread`), so the node's event loop — the API, SSE
 * streams, the indexer, serving — keeps answering while a job trains; a training step of a
 * 0.5B model holds its thread for seconds. Everything that touches the store, the chain or the
 * job's bookkeeping stays with the caller (jobs.ts) on the main thread; only plain data crosses.
 *
 * `trainEvaluateExport` is the same work in the calling thread, for callers that bring their
 * own kernels (tests pinning the reference kernels).
 */
import { Worker } from 'node:worker_threads';
import { createEngine, loadModel, type Kernels } from '../engine/index.ts';
import { train, type StepMetrics } from '../engine/train/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import type { Dataset } from './dataset.ts';
import { evaluate, type Evaluation } from './evaluate.ts';
import { exportAdapter, type ExportResult } from './export.ts';
import { trainerOptions, type JobHyperparameters } from './hyperparameters.ts';
import { join } from 'node:path';
import { selectKernels } from '../engine/kernels/select.ts';
import { FeatureRecorder } from '../attribution/train-hook.ts'; // attribution hook

export interface TrainingInput {
  modelPath: string;
  dataset: Dataset;
  hyperparameters: JobHyperparameters;
  checkpointDir: string;
  checkpointEvery: number;
  /** Adapter exports go to exportDir/peft and exportDir/adapter.gguf. */
  exportDir: string;
  baseName: string;
  /** The fine-tuned model's name (`ft:…`), written into the GGUF. */
  name: string;
  jobId: string;
}

export interface TrainingOutput {
  steps: number;
  evaluation: Evaluation | null;
  exports: ExportResult;
  base: { sha256: string; arch: string };
}

export interface TrainingHooks {
  signal: AbortSignal;
  onStep: (m: StepMetrics) => void;
}

export async function trainEvaluateExport(input: TrainingInput, hooks: TrainingHooks & { kernels?: Kernels }): Promise<TrainingOutput> {
  const ds = input.dataset, signal = hooks.signal;
  const model = await loadModel(input.modelPath);
  const opts = trainerOptions(input.hyperparameters, model.config.contextLength, ds.stats.maxTokens);
  // attribution hook: keep the factors of a few checkpoints, then write per-row gradient features beside them
  const features = new FeatureRecorder({ dir: join(input.checkpointDir, '..', 'attribution'), checkpointPath: join(input.checkpointDir, 'checkpoint.bin'), checkpointEvery: input.checkpointEvery, lora: opts.lora, hyperparameters: opts.hyperparameters });
  const result = await train(model, ds.train.map((r) => r.example), {
    ...opts, kernels: hooks.kernels, signal, checkpoint: { dir: input.checkpointDir, every: input.checkpointEvery }, onStep: (m) => { features.onStep(m); hooks.onStep(m); },
  });
  try {
    { // attribution hook: per-row gradient features (rows named by their index in the job's dataset)
      const ord = new Map(ds.rows.map((r, i) => [r, i]));
      const own = hooks.kernels ? null : selectKernels(model.heap);
      try {
        features.finish(model, hooks.kernels ?? own!, ds.train.map((r) => ({ ord: ord.get(r)!, example: r.example })), result.totalSteps, { signal, maxTokens: opts.hyperparameters.maxBatchTokens });
      } finally {
        own?.close();
      }
    }
    let evaluation: Evaluation | null = null;
    if (ds.eval.length) {
      const engine = await createEngine(model, { kvTokens: Math.max(256, ds.stats.maxTokens * 2 + 64), ...(hooks.kernels ? { kernels: hooks.kernels } : {}) });
      try {
        const adapter = engine.createAdapter(result.factors, { name: input.jobId });
        evaluation = await evaluate(engine, ds, adapter, { signal });
        engine.unloadAdapter(adapter);
      } finally {
        if (!hooks.kernels) engine.close();
      }
    }
    const exports = exportAdapter(input.exportDir, model, result.factors, { baseModel: input.baseName, name: input.name });
    return { steps: result.steps, evaluation, exports, base: { sha256: model.source.sha256, arch: model.config.arch } };
  } finally {
    result.free();
  }
}

/** What crosses back from the thread when the work fails: the error's fields, rebuilt on this side. */
export interface SerializedError { message: string; type: string; code: string | null; param: string | null; hint?: string; details?: unknown }

export function serializeError(e: unknown): SerializedError {
  if (e instanceof OpenLedgerError) return { message: e.message, type: e.type, code: e.code, param: e.param, hint: e.hint, details: e.details };
  return { message: (e as Error)?.message ?? String(e), type: 'internal_error', code: 'internal_error', param: null };
}

const WORKER = new URL('./training-worker.mjs', import.meta.url);

/** `trainEvaluateExport` on a worker thread; `signal` stops it at the next step (the checkpoint stays). */
export function runTrainingThread(input: TrainingInput, hooks: TrainingHooks): Promise<TrainingOutput> {
  const worker = new Worker(WORKER, { workerData: input });
  return new Promise<TrainingOutput>((resolve, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      hooks.signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      f();
    };
    const onAbort = () => worker.postMessage({ type: 'abort' });
    hooks.signal.addEventListener('abort', onAbort, { once: true });
    if (hooks.signal.aborted) onAbort();
    worker.on('message', (m: { type: 'step'; metrics: StepMetrics } | { type: 'done'; output: TrainingOutput } | { type: 'error'; error: SerializedError }) => {
      if (m.type === 'step') {
        if (!settled) hooks.onStep(m.metrics);
      } else if (m.type === 'done') settle(() => resolve(m.output));
      else {
        const { message, ...rest } = m.error;
        settle(() => reject(new OpenLedgerError(message, rest as ConstructorParameters<typeof OpenLedgerError>[1])));
      }
    });
    worker.on('error', (e) => settle(() => reject(new OpenLedgerError(`the training thread failed: ${e.message}`, { type: 'internal_error', code: 'training_thread_failed', cause: e }))));
    worker.on('exit', (code) => settle(() => reject(new OpenLedgerError(`the training thread exited with code ${code} before it finished`, { type: 'internal_error', code: 'training_thread_failed' }))));
  });
}
