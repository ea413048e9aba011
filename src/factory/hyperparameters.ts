/**
 * Job hyperparameters: the OpenAI names (n_epochs, batch_size, learning_rate_multiplier, "auto")
 * plus LoRA and schedule settings, checked at the API edge so a bad value is a 400 naming the
 * parameter (`hyperparameters.lora_rank`), then mapped to the trainer's options.
 *
 *   learning_rate = learning_rate ?? BASE_LR · learning_rate_multiplier   (BASE_LR = 2e-4)
 */
import type { LoraModuleKind, LoraTrainConfig, TrainHyperparameters } from '../engine/train/index.ts';
import { LORA_MODULES } from '../engine/train/index.ts';
import { invalid } from '../util/errors.ts';

export const BASE_LR = 2e-4;

export interface JobHyperparameters {
  n_epochs: number;
  batch_size: number;
  learning_rate: number;
  gradient_accumulation_steps: number;
  max_steps: number | null;
  warmup_steps: number | null;
  warmup_ratio: number;
  lr_scheduler: 'cosine' | 'linear' | 'constant';
  weight_decay: number;
  max_grad_norm: number;
  seed: number;
  lora_rank: number;
  lora_alpha: number;
  lora_dropout: number;
  lora_target_modules: LoraModuleKind[] | 'all-linear';
  use_rslora: boolean;
  /** Save a checkpoint every N optimizer steps. */
  checkpoint_every: number;
}

const KNOWN = new Set([
  'n_epochs', 'batch_size', 'learning_rate_multiplier', 'learning_rate', 'gradient_accumulation_steps', 'max_steps',
  'warmup_steps', 'warmup_ratio', 'lr_scheduler', 'weight_decay', 'max_grad_norm', 'seed', 'lora_rank', 'lora_alpha',
  'lora_dropout', 'lora_target_modules', 'use_rslora', 'checkpoint_every',
]);

function bad(name: string, v: unknown, hint: string): never {
  throw invalid(`hyperparameters.${name} is invalid: ${JSON.stringify(v)}`, { param: `hyperparameters.${name}`, code: 'invalid_hyperparameter', hint });
}

const isAuto = (v: unknown) => v === undefined || v === null || v === 'auto';

function int(h: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  const v = h[name];
  if (isAuto(v)) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(name, v, `use an integer in ${min}…${max}`);
  return v;
}

function num(h: Record<string, unknown>, name: string, def: number, ok: (x: number) => boolean, hint: string): number {
  const v = h[name];
  if (isAuto(v)) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) bad(name, v, hint);
  return v;
}

export function parseHyperparameters(raw: unknown): JobHyperparameters {
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) bad('', raw, 'pass an object, e.g. {"n_epochs": 3, "lora_rank": 8}');
  const h = (raw ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(h)) if (!KNOWN.has(k)) bad(k, h[k], `unknown hyperparameter; known: ${[...KNOWN].join(', ')}`);
  const mult = num(h, 'learning_rate_multiplier', 1, (x) => x > 0 && x <= 1000, 'use a multiplier > 0 (1 = 2e-4)');
  const learning_rate = num(h, 'learning_rate', BASE_LR * mult, (x) => x > 0 && x < 1, 'use a learning rate in (0, 1), such as 2e-4');
  const lora_rank = int(h, 'lora_rank', 8, 1, 1024);
  let targets: LoraModuleKind[] | 'all-linear' = 'all-linear';
  const t = h.lora_target_modules;
  if (!isAuto(t) && t !== 'all-linear' && t !== 'all') {
    const list = typeof t === 'string' ? t.split(',').map((s) => s.trim()) : t;
    if (!Array.isArray(list) || !list.length) bad('lora_target_modules', t, `use "all-linear" or a list of ${LORA_MODULES.join(', ')}`);
    for (const m of list) if (!LORA_MODULES.includes(m as LoraModuleKind)) bad('lora_target_modules', t, `unknown module ${m}; use ${LORA_MODULES.join(', ')} or "all-linear"`);
    targets = [...new Set(list as LoraModuleKind[])];
  }
  const sched = isAuto(h.lr_scheduler) ? 'cosine' : h.lr_scheduler;
  if (sched !== 'cosine' && sched !== 'linear' && sched !== 'constant') bad('lr_scheduler', sched, 'use cosine, linear or constant');
  const rs = h.use_rslora;
  if (!isAuto(rs) && typeof rs !== 'boolean') bad('use_rslora', rs, 'use true or false');
  const maxSteps = isAuto(h.max_steps) ? null : int(h, 'max_steps', 0, 1, 1_000_000);
  const warmupSteps = isAuto(h.warmup_steps) ? null : int(h, 'warmup_steps', 0, 0, 1_000_000);
  return {
    n_epochs: int(h, 'n_epochs', 3, 1, 1000),
    batch_size: int(h, 'batch_size', 4, 1, 1024),
    learning_rate,
    gradient_accumulation_steps: int(h, 'gradient_accumulation_steps', 1, 1, 1024),
    max_steps: maxSteps,
    warmup_steps: warmupSteps,
    warmup_ratio: num(h, 'warmup_ratio', 0, (x) => x >= 0 && x < 1, 'use a ratio in [0, 1)'),
    lr_scheduler: sched,
    weight_decay: num(h, 'weight_decay', 0, (x) => x >= 0 && x < 1, 'use a weight decay in [0, 1), such as 0.01'),
    max_grad_norm: num(h, 'max_grad_norm', 1, (x) => x >= 0, 'use 1.0, or 0 to disable clipping'),
    seed: int(h, 'seed', 42, 0, 2 ** 31 - 1),
    lora_rank,
    lora_alpha: num(h, 'lora_alpha', 2 * lora_rank, (x) => x > 0, 'use alpha > 0, such as 2·rank'),
    lora_dropout: num(h, 'lora_dropout', 0, (x) => x >= 0 && x < 1, 'use a dropout in [0, 1)'),
    lora_target_modules: targets,
    use_rslora: rs === true,
    checkpoint_every: int(h, 'checkpoint_every', 10, 1, 1_000_000),
  };
}

/** The trainer's options for a job. */
export function trainerOptions(hp: JobHyperparameters, contextLength: number, longestRow: number): { lora: LoraTrainConfig; hyperparameters: TrainHyperparameters } {
  return {
    lora: { targets: hp.lora_target_modules, rank: hp.lora_rank, alpha: hp.lora_alpha, dropout: hp.lora_dropout, rsLora: hp.use_rslora },
    hyperparameters: {
      epochs: hp.n_epochs, batchSize: hp.batch_size, maxBatchTokens: Math.max(Math.min(512, contextLength), longestRow - 1, 2),
      gradAccum: hp.gradient_accumulation_steps, lr: hp.learning_rate, weightDecay: hp.weight_decay, schedule: hp.lr_scheduler,
      warmupSteps: hp.warmup_steps ?? undefined, warmupRatio: hp.warmup_ratio, maxGradNorm: hp.max_grad_norm, seed: hp.seed,
      maxSteps: hp.max_steps ?? undefined,
    },
  };
}
