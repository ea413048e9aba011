/**
 * train(): LoRA fine-tuning of a loaded base model on tokenized examples.
 *
 *   plan     every epoch: a seeded permutation of the examples, packed into micro-batches
 *            (≤ batchSize examples, ≤ maxBatchTokens rows); the micro-batches of all epochs in
 *            one list, `gradAccum` of them per optimizer step. The plan is a function of the
 *            seed and the data only, so a resumed run continues on exactly the same batches.
 *   step     for each micro-batch: forward + backward with dlogits scaled by 1/(targets of the
 *            whole step), so the gradient is that of the step's mean token loss; clip the
 *            global norm; AdamW at the scheduled lr; report metrics.
 *   safety   a non-finite loss or gradient stops the run (`nan_loss`) before the update, keeping
 *            the last good checkpoint; checkpoints are atomic files of factors + AdamW moments.
 *   hooks    `attribution.steps(step)` true → per example of that step, the gradient of its own
 *            mean loss w.r.t. every LoRA A and B (exact: packing keeps documents independent);
 *            nothing is computed on other steps.
 *
 * The result's `factors` go straight into engine.createAdapter (the inference engine's LoRA).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '../kernels/types.ts';
import type { LoadedModel } from '../model/load.ts';
import type { LoraFactors } from '../lora/memory.ts';
import { invalid, OpenLedgerError } from '../../util/errors.ts';
import { TrainableLora, type LoraTrainConfig } from './lora.ts';
import { TrainModel, type DocGradients } from './model.ts';
import { FullParams } from './full.ts';
import { AdamW, clipGradNorm, learningRate, type ScheduleKind } from './optim.ts';
import { checkExamples, groupExamples, packBatch, packExamples, batchTargets, type PackedBatch, type TrainExample } from './packing.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { Xorshift } from './rng.ts';

export interface TrainHyperparameters {
  /** Passes over the data (default 1). */
  epochs?: number;
  /** Stop after this many optimizer steps (default: all epochs). */
  maxSteps?: number;
  /** Examples per micro-batch (default 4). */
  batchSize?: number;
  /** Rows per micro-batch (packed tokens; default min(512, context)). */
  maxBatchTokens?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccum?: number;
  /** Peak learning rate (default 2e-4). */
  lr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  adamEps?: number;
  schedule?: ScheduleKind;
  /** Warmup steps (default: warmupRatio · total steps, or 0). */
  warmupSteps?: number;
  warmupRatio?: number;
  /** Clip the global gradient norm to this (default 1; 0 = off). */
  maxGradNorm?: number;
  /** Seeds the LoRA init, the data order and dropout (default 42). */
  seed?: number;
}

export interface StepMetrics {
  step: number;
  totalSteps: number;
  /** Fractional epoch reached. */
  epoch: number;
  /** Mean token loss of the step. */
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Tokens (rows) processed in this step, and per second. */
  tokens: number;
  tokensPerSecond: number;
  elapsedMs: number;
  /** Estimated time to the last step at this run's average step time so far. */
  etaMs: number;
}

export interface ExampleGradients {
  /** Optimizer step (1-based). */
  step: number;
  /** Index of each example in the dataset, in the order of the per-example arrays. */
  exampleIds: number[];
  /** Weighted target tokens per example. */
  tokens: number[];
  /** Canonical weight name → per example dA (R·K) and dB (N·R): the gradient of that example's mean loss. */
  modules: Map<string, { dA: Float32Array[]; dB: Float32Array[] }>;
}

export interface TrainOptions {
  /** 'lora' (default): train an adapter, the base stays frozen. 'full': train every tensor of `model` in place (f32 weights; small models). */
  method?: 'lora' | 'full';
  /** The adapter to train (required for 'lora'). */
  lora?: LoraTrainConfig;
  hyperparameters?: TrainHyperparameters;
  /** Kernels (default: the engine's selection, WASM SIMD with reference fallback). */
  kernels?: Kernels;
  onStep?: (m: StepMetrics) => void;
  checkpoint?: {
    dir: string;
    /** Save every N optimizer steps (default 50) and at the end. */
    every?: number;
    /** Continue from the checkpoint in `dir` when there is one (default true). */
    resume?: boolean;
  };
  attribution?: {
    /** Called with each optimizer step (1-based) before it runs: true → hand out that step's per-example gradients. */
    steps: (step: number) => boolean;
    onExampleGradients: (g: ExampleGradients) => void;
  };
  /** Held-out evaluation during training (forward only, no dropout): every N steps and after the last. */
  evaluation?: {
    examples: readonly TrainExample[];
    every?: number;
    onEval: (e: { step: number; loss: number; perplexity: number; tokens: number }) => void;
  };
  signal?: AbortSignal;
}

export interface TrainResult {
  /** The trained adapter (null for full fine-tuning, where `model` itself was trained). */
  lora: TrainableLora | null;
  /** For engine.createAdapter ({} for full fine-tuning). */
  factors: Record<string, LoraFactors>;
  steps: number;
  totalSteps: number;
  resumedFrom: number;
  metrics: StepMetrics[];
  /** Release the trainer's heap memory (tape, transposed weights, LoRA). */
  free(): void;
}

function checkHyper(h: TrainHyperparameters, contextLength: number) {
  const p = (name: string, ok: boolean, v: unknown, hint: string) => {
    if (!ok) throw invalid(`hyperparameters.${name} is out of range: ${v}`, { param: `hyperparameters.${name}`, code: 'invalid_hyperparameter', hint });
  };
  const epochs = h.epochs ?? 1, lr = h.lr ?? 2e-4, batchSize = h.batchSize ?? 4, gradAccum = h.gradAccum ?? 1;
  const maxBatchTokens = h.maxBatchTokens ?? Math.min(512, contextLength);
  p('epochs', Number.isInteger(epochs) && epochs >= 1, epochs, 'use a whole number of epochs ≥ 1');
  p('lr', Number.isFinite(lr) && lr > 0 && lr < 1, lr, 'use a learning rate such as 1e-4 (LoRA) in (0, 1)');
  p('batchSize', Number.isInteger(batchSize) && batchSize >= 1, batchSize, 'use a batch size ≥ 1');
  p('gradAccum', Number.isInteger(gradAccum) && gradAccum >= 1, gradAccum, 'use gradient accumulation ≥ 1');
  p('maxBatchTokens', Number.isInteger(maxBatchTokens) && maxBatchTokens >= 2, maxBatchTokens, 'use ≥ the longest row');
  const weightDecay = h.weightDecay ?? 0, maxGradNorm = h.maxGradNorm ?? 1;
  p('weightDecay', Number.isFinite(weightDecay) && weightDecay >= 0, weightDecay, 'use a weight decay ≥ 0 such as 0.01');
  p('maxGradNorm', Number.isFinite(maxGradNorm) && maxGradNorm >= 0, maxGradNorm, 'use 1.0, or 0 to disable clipping');
  if (h.maxSteps !== undefined) p('maxSteps', Number.isInteger(h.maxSteps) && h.maxSteps >= 1, h.maxSteps, 'use ≥ 1');
  if (h.warmupSteps !== undefined) p('warmupSteps', Number.isInteger(h.warmupSteps) && h.warmupSteps >= 0, h.warmupSteps, 'use ≥ 0');
  if (h.warmupRatio !== undefined) p('warmupRatio', h.warmupRatio >= 0 && h.warmupRatio < 1, h.warmupRatio, 'use a ratio in [0, 1)');
  const schedule = h.schedule ?? 'cosine';
  p('schedule', ['cosine', 'linear', 'constant'].includes(schedule), schedule, 'use cosine, linear or constant');
  return {
    epochs, lr, batchSize, gradAccum, maxBatchTokens, weightDecay, maxGradNorm, schedule,
    beta1: h.beta1 ?? 0.9, beta2: h.beta2 ?? 0.999, adamEps: h.adamEps ?? 1e-8, seed: h.seed ?? 42,
    maxSteps: h.maxSteps, warmupSteps: h.warmupSteps, warmupRatio: h.warmupRatio ?? 0,
  };
}

/** The micro-batches of every epoch in training order, as example indices (packBatch materializes one). */
export function planGroups(examples: readonly TrainExample[], hp: { epochs: number; batchSize: number; maxBatchTokens: number; seed: number }): number[][] {
  const out: number[][] = [];
  for (let e = 0; e < hp.epochs; e++) {
    const order = new Xorshift(hp.seed * 1000003 + e).permutation(examples.length);
    for (const g of groupExamples(examples, order, { maxTokens: hp.maxBatchTokens, maxExamples: hp.batchSize })) out.push(g);
  }
  return out;
}

/** The micro-batches of every epoch, materialized (small datasets, tests). */
export function planBatches(examples: readonly TrainExample[], hp: { epochs: number; batchSize: number; maxBatchTokens: number; seed: number }): PackedBatch[] {
  return planGroups(examples, hp).map((g) => packBatch(examples, g));
}

export async function train(model: LoadedModel, examples: readonly TrainExample[], opts: TrainOptions): Promise<TrainResult> {
  const cfg = model.config;
  const hp = checkHyper(opts.hyperparameters ?? {}, cfg.contextLength);
  checkExamples(examples, cfg.contextLength, cfg.vocabSize);
  if (opts.evaluation) checkExamples(opts.evaluation.examples, cfg.contextLength, cfg.vocabSize);
  const plan = planGroups(examples, hp);
  const planned = Math.ceil(plan.length / hp.gradAccum);
  const totalSteps = Math.min(planned, hp.maxSteps ?? planned);
  const warmup = hp.warmupSteps ?? Math.round(hp.warmupRatio * totalSteps);

  let kernels = opts.kernels;
  let closeKernels: (() => void) | null = null;
  if (!kernels) {
    const { selectKernels } = await import('../kernels/select.ts');
    const k = selectKernels(model.heap);
    kernels = k;
    closeKernels = () => k.close();
  }
  const method = opts.method ?? 'lora';
  if (method === 'lora' && !opts.lora) throw invalid('LoRA training needs a LoRA config (targets, rank)', { param: 'hyperparameters', code: 'invalid_hyperparameter', hint: 'pass lora: { targets: "all-linear", rank: 8 }, or method: "full"' });
  let lora: TrainableLora | null = null, full: FullParams | null = null;
  let tm: TrainModel | null = null;
  try {
    if (method === 'full') full = new FullParams(model, model.heap);
    else lora = new TrainableLora(model, opts.lora!, { seed: hp.seed });
    tm = new TrainModel(model, { kernels, maxTokens: hp.maxBatchTokens, lora, full });
    const params = lora ? lora.tensors() : full!.tensors();
    const adam = new AdamW(params, { beta1: hp.beta1, beta2: hp.beta2, eps: hp.adamEps, weightDecay: hp.weightDecay });

    // Everything an exact resume depends on (the source hash, not the live weights: full fine-tuning restores those from the checkpoint).
    const h = createHash('sha256');
    h.update(JSON.stringify({ model: model.source.sha256 || model.source.path, cfg: { ...cfg }, method, lora: lora?.config ?? null, hp }));
    for (const e of examples) { h.update(Int32Array.from(e.tokens as ArrayLike<number>)); if (e.lossMask) h.update(Uint8Array.from(e.lossMask as ArrayLike<number>)); }
    const runHash = h.digest('hex');

    const ckPath = opts.checkpoint ? join(opts.checkpoint.dir, 'checkpoint.bin') : null;
    let start = 0;
    if (ckPath && opts.checkpoint!.resume !== false) {
      const ck = loadCheckpoint(ckPath);
      if (ck) {
        if (ck.meta.runHash !== runHash) {
          throw invalid(`the checkpoint in ${opts.checkpoint!.dir} belongs to a different run (model, LoRA config, hyperparameters or data differ)`, {
            code: 'checkpoint_mismatch', hint: 'use a fresh checkpoint directory, or the same settings and data as the interrupted run',
          });
        }
        params.forEach((p, i) => {
          const t = ck.tensors.get(p.name);
          if (!t || t.value.length !== p.value.length) throw invalid(`checkpoint lacks ${p.name}`, { code: 'invalid_checkpoint' });
          p.value.set(t.value); adam.m[i].set(t.m); adam.v[i].set(t.v);
        });
        adam.t = ck.meta.adamT;
        start = ck.meta.step;
        if (full) tm.refreshWeights();
      }
    }
    if (ckPath) mkdirSync(opts.checkpoint!.dir, { recursive: true });
    const save = (step: number, loss: number) => {
      if (!ckPath) return;
      saveCheckpoint(ckPath, { step, adamT: adam.t, runHash, loss, totalSteps }, params.map((p, i) => ({ name: p.name, value: p.value, m: adam.m[i], v: adam.v[i] })));
    };
    const every = opts.checkpoint?.every ?? 50;

    const metrics: StepMetrics[] = [];
    const t0 = performance.now();
    let lastLoss = NaN;
    for (let step = start; step < totalSteps; step++) {
      if (opts.signal?.aborted) throw new OpenLedgerError('training was cancelled', { code: 'cancelled', hint: 'resume from the last checkpoint' });
      const ts = performance.now();
      const mbs = plan.slice(step * hp.gradAccum, (step + 1) * hp.gradAccum).map((g) => packBatch(examples, g));
      const denom = mbs.reduce((s, b) => s + batchTargets(b), 0);
      if (lora) lora.zeroGrad(); else full!.zeroGrad();
      const wantRows = !!opts.attribution?.steps(step + 1);
      let lossSum = 0, rows = 0;
      for (let j = 0; j < mbs.length; j++) {
        const b = mbs[j];
        const r = tm.step(b, { gradScale: denom > 0 ? 1 / denom : 0, dropoutSeed: hp.seed * 7919 + step * hp.gradAccum + j, docGrads: wantRows });
        lossSum += r.lossSum;
        rows += b.tokens.length;
        if (wantRows && r.docGrads) emitRows(opts.attribution!.onExampleGradients, step, b, r.docGrads);
      }
      const loss = denom > 0 ? lossSum / denom : 0;
      const gradNorm = clipGradNorm(params, hp.maxGradNorm);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new OpenLedgerError(`training diverged at step ${step + 1}: loss ${loss}, gradient norm ${gradNorm}`, {
          type: 'internal_error', code: 'nan_loss',
          hint: `lower the learning rate (now ${hp.lr}) or enable gradient clipping; ${ckPath && start + metrics.length > 0 ? `the last good checkpoint (step ${lastSavedStep(ckPath)}) is kept` : 'no checkpoint was written'}`,
          details: { step: step + 1, loss, gradNorm },
        });
      }
      const lr = learningRate(hp.schedule as ScheduleKind, hp.lr, step, totalSteps, warmup);
      adam.step(lr);
      if (full) tm.refreshWeights();
      lastLoss = loss;
      const now = performance.now();
      const m: StepMetrics = {
        step: step + 1, totalSteps, epoch: Math.min(hp.epochs, ((step + 1) * hp.gradAccum / plan.length) * hp.epochs),
        loss, lr, gradNorm, tokens: rows, tokensPerSecond: rows / ((now - ts) / 1000), elapsedMs: now - t0,
        etaMs: ((now - t0) / (step + 1 - start)) * (totalSteps - step - 1),
      };
      metrics.push(m);
      if (ckPath && ((step + 1) % every === 0 || step + 1 === totalSteps)) save(step + 1, loss);
      opts.onStep?.(m);
      const ev = opts.evaluation;
      if (ev && ((step + 1) % (ev.every ?? 50) === 0 || step + 1 === totalSteps)) {
        let sum = 0, n = 0;
        for (const b of packExamples(ev.examples, ev.examples.map((_, i) => i), { maxTokens: hp.maxBatchTokens })) {
          const r = tm.step(b, { backward: false });
          sum += r.lossSum; n += r.tokens;
        }
        ev.onEval({ step: step + 1, loss: sum / n, perplexity: Math.exp(sum / n), tokens: n });
      }
      await new Promise((r) => setImmediate(r)); // let the event loop breathe (progress streams, cancellation)
    }
    void lastLoss;
    const factors = lora ? lora.toFactors() : {};
    const trained = tm, l = lora, fp = full;
    tm = null;
    return {
      lora, factors, steps: totalSteps, totalSteps, resumedFrom: start, metrics,
      free: () => { trained.free(); l?.free(); fp?.free(); closeKernels?.(); },
    };
  } catch (e) {
    tm?.free();
    lora?.free();
    full?.free();
    closeKernels?.();
    throw e;
  }
}

function lastSavedStep(path: string): number | string {
  try { return loadCheckpoint(path)?.meta.step ?? 'none'; } catch { return 'unknown'; }
}

function emitRows(cb: (g: ExampleGradients) => void, step: number, b: PackedBatch, g: DocGradients): void {
  cb({ step: step + 1, exampleIds: b.exampleIds, tokens: g.tokens, modules: g.modules });
}
