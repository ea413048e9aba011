/**
 * Scoring a token sequence: log p(token[t+1] | tokens[0..t]) for every position, with or without
 * an adapter — what evaluation (loss, perplexity of base vs tuned model) and attribution need.
 * The sequence runs in chunks with 'all' logits written into one reused (chunk, V) buffer, so
 * memory stays bounded however long the text is.
 */
import type { Engine } from './engine.ts';
import type { LoraAdapter } from './lora/adapter.ts';
import { invalid } from '../util/errors.ts';

export interface ScoreOptions {
  adapter?: LoraAdapter | null;
  /** Tokens per step (default 64). */
  chunk?: number;
}

export interface ScoreResult {
  /** (T − 1): log-probability of each token given the ones before it. */
  logprobs: Float32Array;
  /** Σ −logprobs (nats); perplexity = exp(nll / (T − 1)). */
  nll: number;
}

export function scoreTokens(engine: Engine, tokens: readonly number[], opts: ScoreOptions = {}): ScoreResult {
  const T = tokens.length;
  if (T < 2) throw invalid('scoring needs at least two tokens', { param: 'tokens' });
  const V = engine.config.vocabSize;
  const chunk = Math.max(1, Math.min(opts.chunk ?? 64, engine.maxBatchTokens));
  const buf = new Float32Array(chunk * V);
  const logprobs = new Float32Array(T - 1);
  let nll = 0;
  const seq = engine.createSequence();
  try {
    for (let s = 0; s < T - 1; s += chunk) {
      // Positions s … e−1 predict tokens s+1 … e (the last token is never an input).
      const e = Math.min(s + chunk, T - 1);
      const [r] = engine.step([{ seq, tokens: tokens.slice(s, e), adapter: opts.adapter ?? null, logits: 'all', out: buf }]);
      const L = r.logits!;
      for (let t = s; t < e; t++) {
        const o = (t - s) * V;
        let mx = -Infinity;
        for (let i = 0; i < V; i++) if (L[o + i] > mx) mx = L[o + i];
        let z = 0;
        for (let i = 0; i < V; i++) z += Math.exp(L[o + i] - mx);
        const lp = L[o + tokens[t + 1]] - mx - Math.log(z);
        logprobs[t] = lp;
        nll -= lp;
      }
    }
  } finally {
    engine.freeSequence(seq);
  }
  return { logprobs, nll };
}
