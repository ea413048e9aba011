/**
 * Per-example LoRA gradients at a checkpoint's factors, with the engine's own trainer: the same
 * forward, loss mask and backward as training (TrainModel.step with docGrads: the gradient of each
 * example's own mean loss w.r.t. every LoRA A and B; packing keeps examples independent, so they
 * are exact). Used for the training rows (features) and for an answer (the query).
 *
 *   examples ─ packed (≤ maxTokens rows per batch) ─▶ TrainModel.step(docGrads) ─▶ g_i (D) ─▶ P·g_i (k)
 */
import type { Kernels } from '../engine/kernels/types.ts';
import type { LoadedModel } from '../engine/model/load.ts';
import type { LoraFactors } from '../engine/lora/memory.ts';
import { TrainModel, TrainableLora, packExamples, type TrainExample } from '../engine/train/index.ts';
import type { LayoutModule, Projector } from './projection.ts';
import { invalid } from '../util/errors.ts';

/** The gradient layout (module order and sizes) of a LoRA adapter: what the projection hashes. */
export function layoutOf(lora: TrainableLora): LayoutModule[] {
  return [...lora.params.values()].map((p) => ({ name: p.name, layer: p.layer, sizeA: p.R * p.K, sizeB: p.N * p.R }));
}

export interface GradientRun {
  /** Example index → its loss (mean over target tokens) and gradient, flattened (D), handed out one at a time. */
  each(examples: readonly TrainExample[], onExample: (i: number, g: Float32Array, loss: number) => void): void;
  layout: LayoutModule[];
  /** Swap in another checkpoint's factors (same modules and shapes): no new trainer, no new transposed weights. */
  load(factors: Record<string, LoraFactors>): void;
  free(): void;
}

/** A trainer holding `factors` (no optimizer): per-example gradients on demand. */
export function gradientRun(model: LoadedModel, factors: Record<string, LoraFactors>, kernels: Kernels, projector: Pick<Projector, 'flatten' | 'D'> | null, opts: { maxTokens?: number } = {}): GradientRun {
  const lora = TrainableLora.fromFactors(model, factors);
  const maxTokens = opts.maxTokens ?? Math.min(512, model.config.contextLength);
  let tm: TrainModel | null = null;
  try {
    tm = new TrainModel(model, { kernels, maxTokens, lora });
  } catch (e) {
    lora.free();
    throw e;
  }
  const layout = layoutOf(lora);
  const D = layout.reduce((s, m) => s + m.sizeA + m.sizeB, 0);
  const t = tm;
  return {
    layout,
    each(examples, onExample) {
      const order = examples.map((_, i) => i);
      const g = new Float32Array(D);
      for (const b of packExamples(examples, order, { maxTokens })) {
        lora.zeroGrad();
        const r = t.step(b, { gradScale: 1, docGrads: true, dropout: false });
        const dg = r.docGrads!;
        b.exampleIds.forEach((ex, d) => {
          if (projector) projector.flatten(dg.modules, d, g);
          else flattenInto(layout, dg.modules, d, g);
          onExample(ex, g, r.docTokens[d] > 0 ? r.docLoss[d] / r.docTokens[d] : 0);
        });
      }
    },
    load(factors) {
      for (const p of lora.params.values()) {
        const f = factors[p.name];
        if (!f || f.a.length !== p.a.length || f.b.length !== p.b.length) throw invalid(`checkpoint factors for ${p.name} are missing or have another shape`, { code: 'features_mismatch' });
        p.a.set(f.a);
        p.b.set(f.b);
      }
    },
    free() { t.free(); lora.free(); },
  };
}

function flattenInto(layout: readonly LayoutModule[], grads: ReadonlyMap<string, { dA: Float32Array[]; dB: Float32Array[] }>, e: number, g: Float32Array): void {
  let o = 0;
  for (const m of [...layout].sort((a, b) => a.layer - b.layer)) {
    const x = grads.get(m.name)!;
    g.set(x.dA[e], o); o += m.sizeA;
    g.set(x.dB[e], o); o += m.sizeB;
  }
}
