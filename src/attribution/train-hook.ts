/**
 * The attribution hook of a training run (the factory calls it; so does the evaluation): keep the
 * LoRA factors of a few checkpoints while the job trains, then write every training row's
 * projected gradient at each of them (features.ts) next to the job's checkpoints.
 *
 *   during   onStep(m) after the trainer saved checkpoint.bin at step m.step: when m.step is one of
 *            the C feature steps (the first saved step ≥ ⌈c·T/C⌉, c = 1…C), copy its factors to
 *            <dir>/pending-<step>.bin (kept across a crash: a resumed job still has them)
 *   after    finish(): per kept checkpoint, gradients of all training rows → P·g → phi-<step>.f32,
 *            η_c = mean learning rate of the steps since the previous feature checkpoint (TracInCP)
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '../engine/kernels/types.ts';
import type { LoadedModel } from '../engine/model/load.ts';
import type { LoraFactors } from '../engine/lora/memory.ts';
import { learningRate, loadCheckpoint, type LoraTrainConfig, type ScheduleKind, type StepMetrics, type TrainExample, type TrainHyperparameters } from '../engine/train/index.ts';
import { decodeFactors, encodeFactors, writeFeatures, type FeatureHeader } from './features.ts';
import type { ProjectionSpec } from './projection.ts';

export const DEFAULT_FEATURE_CHECKPOINTS = 3;

/** The saved checkpoint steps that carry features: the first saved step ≥ ⌈c·T/C⌉ for c = 1…C. */
export function featureSteps(totalSteps: number, every: number, count = DEFAULT_FEATURE_CHECKPOINTS): number[] {
  const saved = (s: number) => s % every === 0 || s === totalSteps;
  const out = new Set<number>();
  for (let c = 1; c <= count; c++) {
    let s = Math.max(1, Math.ceil((c * totalSteps) / count));
    while (!saved(s)) s++;
    out.add(Math.min(s, totalSteps));
  }
  return [...out].sort((a, b) => a - b);
}

export interface FeatureRecorderOptions {
  /** <jobDir>/attribution */
  dir: string;
  checkpointPath: string;
  checkpointEvery: number;
  lora: LoraTrainConfig;
  hyperparameters: TrainHyperparameters;
  checkpoints?: number;
  projection?: ProjectionSpec;
}

export class FeatureRecorder {
  constructor(private readonly o: FeatureRecorderOptions) {
    mkdirSync(o.dir, { recursive: true });
  }

  /** Call from onStep (after the trainer saved its checkpoint). */
  onStep(m: StepMetrics): void {
    if (!featureSteps(m.totalSteps, this.o.checkpointEvery, this.o.checkpoints).includes(m.step)) return;
    const ck = loadCheckpoint(this.o.checkpointPath);
    if (!ck || ck.meta.step !== m.step) return;
    const rank = this.o.lora.rank, alpha = this.o.lora.alpha ?? 2 * rank, rsLora = !!this.o.lora.rsLora;
    const factors: Record<string, LoraFactors> = {};
    for (const [name, t] of ck.tensors) {
      const base = name.replace(/\.lora_[ab]$/, '');
      factors[base] ??= { a: new Float32Array(0), b: new Float32Array(0), rank, alpha, rsLora };
      if (name.endsWith('.lora_a')) factors[base].a = Float32Array.from(t.value); else factors[base].b = Float32Array.from(t.value);
    }
    const path = join(this.o.dir, `pending-${m.step}.bin`);
    writeFileSync(`${path}.tmp`, encodeFactors(factors));
    renameSync(`${path}.tmp`, path);
  }

  /** Write the features of every kept checkpoint; returns the header (null when none were kept). */
  finish(model: LoadedModel, kernels: Kernels, rows: ReadonlyArray<{ ord: number; example: TrainExample }>, totalSteps: number, opts: { signal?: AbortSignal; maxTokens?: number } = {}): FeatureHeader | null {
    const steps = existsSync(this.o.dir)
      ? readdirSync(this.o.dir).map((f) => /^pending-(\d+)\.bin$/.exec(f)).filter((x): x is RegExpExecArray => !!x).map((x) => Number(x[1])).sort((a, b) => a - b)
      : [];
    if (!steps.length || !rows.length) return null;
    const hp = this.o.hyperparameters;
    const warmup = hp.warmupSteps ?? Math.round((hp.warmupRatio ?? 0) * totalSteps);
    const lrAt = (s: number) => learningRate((hp.schedule ?? 'cosine') as ScheduleKind, hp.lr ?? 2e-4, s - 1, totalSteps, warmup);
    let prev = 0;
    const ckpts = steps.map((step) => {
      let sum = 0;
      for (let s = prev + 1; s <= step; s++) sum += lrAt(s);
      const eta = sum / Math.max(1, step - prev);
      prev = step;
      return { step, eta, factors: decodeFactors(readFileSync(join(this.o.dir, `pending-${step}.bin`))) };
    });
    const header = writeFeatures(this.o.dir, model, kernels, rows, ckpts, { projection: this.o.projection, signal: opts.signal, maxTokens: opts.maxTokens });
    for (const s of steps) rmSync(join(this.o.dir, `pending-${s}.bin`), { force: true });
    return header;
  }
}
