/**
 * Held-out loss and perplexity of a base model, with or without a LoRA adapter: the training
 * forward (forward only, no dropout) over packed examples, loss on each example's masked tokens.
 *
 *   loss = Σ CE over every target token / target tokens ;  perplexity = e^loss
 *
 * Per-example means come back too (the jobs layer compares base and tuned row by row).
 */
import type { Kernels } from '../kernels/types.ts';
import type { LoadedModel } from '../model/load.ts';
import type { LoraFactors } from '../lora/memory.ts';
import { TrainableLora } from './lora.ts';
import { TrainModel } from './model.ts';
import { checkExamples, packExamples, type TrainExample } from './packing.ts';

export interface EvalResult {
  loss: number;
  perplexity: number;
  /** Target tokens scored. */
  tokens: number;
  /** Per example (input order): mean loss over its target tokens, and their count. */
  examples: Array<{ loss: number; tokens: number }>;
}

export interface EvalOptions {
  /** Adapter factors keyed by canonical weight name (TrainResult.factors), or null for the base. */
  factors?: Record<string, LoraFactors> | null;
  kernels?: Kernels;
  /** Rows per forward (default min(512, context)). */
  maxBatchTokens?: number;
}

export async function evaluate(model: LoadedModel, examples: readonly TrainExample[], opts: EvalOptions = {}): Promise<EvalResult> {
  const cfg = model.config;
  checkExamples(examples, cfg.contextLength, cfg.vocabSize);
  const maxTokens = opts.maxBatchTokens ?? Math.min(512, cfg.contextLength);
  let kernels = opts.kernels, close: (() => void) | null = null;
  if (!kernels) {
    const { selectKernels } = await import('../kernels/select.ts');
    const k = selectKernels(model.heap);
    kernels = k;
    close = () => k.close();
  }
  const lora = opts.factors ? TrainableLora.fromFactors(model, opts.factors) : null;
  const tm = new TrainModel(model, { kernels, maxTokens, lora, backward: false });
  try {
    const out = examples.map(() => ({ loss: 0, tokens: 0 }));
    let sum = 0, n = 0;
    for (const b of packExamples(examples, examples.map((_, i) => i), { maxTokens })) {
      const r = tm.step(b, { backward: false });
      sum += r.lossSum;
      n += r.tokens;
      b.exampleIds.forEach((id, d) => { out[id] = { loss: r.docTokens[d] > 0 ? r.docLoss[d] / r.docTokens[d] : 0, tokens: r.docTokens[d] }; });
    }
    const loss = n > 0 ? sum / n : 0;
    return { loss, perplexity: Math.exp(loss), tokens: n, examples: out };
  } finally {
    tm.free();
    lora?.free();
    close?.();
  }
}
