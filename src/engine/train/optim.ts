/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter; as torch.optim.AdamW), the learning-rate
 * schedules of HF transformers (warmup, then cosine or linear decay to 0, or constant), and
 * gradient clipping by global norm (as torch.nn.utils.clip_grad_norm_).
 *
 *   θ ← θ − lr·wd·θ ;  m ← β1·m + (1−β1)·g ;  v ← β2·v + (1−β2)·g²
 *   θ ← θ − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + ε)
 *
 * Moments are f32 (one pair per parameter tensor); the arithmetic is in doubles.
 */
export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface ParamTensor {
  name: string;
  value: Float32Array;
  grad: Float32Array;
  /** Apply weight decay (default true; false for norms and biases in full fine-tuning). */
  decay?: boolean;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Optimizer steps taken (t in the bias correction). */
  t = 0;
  readonly m: Float32Array[];
  readonly v: Float32Array[];

  constructor(readonly params: ParamTensor[], cfg: Omit<AdamWConfig, 'lr'>) {
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.weightDecay = cfg.weightDecay ?? 0;
    this.m = params.map((p) => new Float32Array(p.value.length));
    this.v = params.map((p) => new Float32Array(p.value.length));
  }

  step(lr: number): void {
    this.t++;
    const b1 = this.beta1, b2 = this.beta2, eps = this.eps;
    const c1 = 1 - b1 ** this.t, c2 = 1 - b2 ** this.t;
    const decayAll = 1 - lr * this.weightDecay;
    for (let i = 0; i < this.params.length; i++) {
      const { value: w, grad: g, decay: dk } = this.params[i];
      const m = this.m[i], v = this.v[i];
      const decay = dk === false ? 1 : decayAll;
      for (let j = 0; j < w.length; j++) {
        const gj = g[j];
        const mj = (m[j] = b1 * m[j] + (1 - b1) * gj);
        const vj = (v[j] = b2 * v[j] + (1 - b2) * gj * gj);
        w[j] = w[j] * decay - (lr * (mj / c1)) / (Math.sqrt(vj / c2) + eps);
      }
    }
  }
}

/** ‖g‖₂ over every gradient tensor (accumulated in doubles). */
export function globalGradNorm(params: ParamTensor[]): number {
  let s = 0;
  for (const p of params) {
    const g = p.grad;
    for (let j = 0; j < g.length; j++) s += g[j] * g[j];
  }
  return Math.sqrt(s);
}

/** Scale gradients so their global norm is at most maxNorm (coef = maxNorm/(norm + 1e-6), as torch). Returns the norm before clipping. */
export function clipGradNorm(params: ParamTensor[], maxNorm: number): number {
  const norm = globalGradNorm(params);
  if (maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const p of params) for (let j = 0; j < p.grad.length; j++) p.grad[j] *= coef;
  }
  return norm;
}

export type ScheduleKind = 'cosine' | 'linear' | 'constant';

/**
 * Learning rate for optimizer step `step` (0-based) of `total`: linear warmup over `warmup`
 * steps — (step+1)/warmup, so the first step already moves (HF starts at 0, wasting a step) —
 * then cosine (0.5·(1 + cos(π·progress))) or linear decay to 0, or constant.
 */
export function learningRate(kind: ScheduleKind, peak: number, step: number, total: number, warmup: number): number {
  if (warmup > 0 && step < warmup) return (peak * (step + 1)) / warmup;
  if (kind === 'constant') return peak;
  const span = Math.max(1, total - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  if (kind === 'linear') return peak * (1 - progress);
  return peak * 0.5 * (1 + Math.cos(Math.PI * progress));
}
