/**
 * Evaluation on the held-out split, base and tuned side by side (same engine, adapter or none):
 *
 *   loss        mean NLL over the response tokens (the same mask as training), nats/token
 *   perplexity  exp(loss)
 *   task        alpaca / sharegpt: greedy generation from the prompt → exact match and ROUGE-L F1
 *               (LCS over whitespace words) against the reference; labelled: accuracy of the
 *               generated label; text: loss and perplexity only
 *
 * Generation metrics use the first `maxGenerate` held-out rows (default 100); loss covers all of
 * them. The event loop gets a turn after every row, and `signal` stops the evaluation.
 */
import { OpenLedgerError } from '../util/errors.ts';
import type { Engine, LoraAdapter } from '../engine/index.ts';
import type { Dataset, DatasetRow } from './dataset.ts';

export interface EvalScores {
  loss: number;
  perplexity: number;
  tokens: number;
  exact_match?: number;
  rouge_l?: number;
  accuracy?: number;
}

export interface Evaluation {
  split: 'eval';
  rows: number;
  base: EvalScores;
  tuned: EvalScores;
  /** A few generations for the model card (prompt, reference, base, tuned). */
  samples: Array<{ prompt: string; reference: string; base: string; tuned: string }>;
}

/** Σ −log p(target) over the response tokens of one row, and their count. */
function rowLoss(eng: Engine, row: DatasetRow, adapter: LoraAdapter | null): { nll: number; n: number } {
  const { tokens, lossMask } = row.example;
  const s = eng.createSequence();
  try {
    const T = tokens.length - 1;
    const logits = eng.step([{ seq: s, tokens: tokens.slice(0, T), adapter, logits: 'all' }])[0].logits!; // (T, V)
    const V = logits.length / T;
    let nll = 0, n = 0;
    for (let t = 0; t < T; t++) {
      if (!lossMask[t + 1]) continue;
      const l = logits.subarray(t * V, (t + 1) * V);
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (l[v] > max) max = l[v];
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(l[v] - max);
      nll += Math.log(z) + max - l[tokens[t + 1]];
      n++;
    }
    return { nll, n };
  } finally {
    eng.freeSequence(s);
  }
}

/** Greedy continuation of the row's prompt, up to maxNew tokens or EOS. */
export function greedyIds(eng: Engine, prompt: number[], maxNew: number, adapter: LoraAdapter | null, eos: readonly number[]): number[] {
  const s = eng.createSequence();
  try {
    const out: number[] = [];
    let toks = prompt;
    for (let i = 0; i < maxNew; i++) {
      const l = eng.step([{ seq: s, tokens: toks, adapter, logits: 'last' }])[0].logits!;
      let best = 0;
      for (let v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
      if (eos.includes(best)) break;
      out.push(best);
      toks = [best];
    }
    return out;
  } finally {
    eng.freeSequence(s);
  }
}

function lcs(a: string[], b: string[]): number {
  const dp = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    let prev = 0;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j];
      dp[j] = a[i - 1] === b[j - 1] ? prev + 1 : Math.max(dp[j], dp[j - 1]);
      prev = tmp;
    }
  }
  return dp[b.length];
}

/** ROUGE-L F1 over whitespace words. */
export function rougeL(candidate: string, reference: string): number {
  const c = candidate.trim().split(/\s+/).filter(Boolean), r = reference.trim().split(/\s+/).filter(Boolean);
  if (!c.length || !r.length) return c.length === r.length ? 1 : 0;
  const l = lcs(c, r);
  if (!l) return 0;
  const p = l / c.length, rec = l / r.length;
  return (2 * p * rec) / (p + rec);
}

interface EvalOptions { maxGenerate?: number; signal?: AbortSignal }

async function turn(signal?: AbortSignal) {
  await new Promise((r) => setImmediate(r));
  if (signal?.aborted) throw new OpenLedgerError('evaluation was cancelled', { code: 'cancelled' });
}

async function scores(eng: Engine, ds: Dataset, rows: DatasetRow[], adapter: LoraAdapter | null, gens: string[], opts: EvalOptions): Promise<EvalScores> {
  let nll = 0, n = 0;
  for (const r of rows) {
    await turn(opts.signal);
    const x = rowLoss(eng, r, adapter);
    nll += x.nll;
    n += x.n;
  }
  const loss = n ? nll / n : NaN;
  const out: EvalScores = { loss, perplexity: Math.exp(loss), tokens: n };
  if (ds.format === 'text') return out;
  const tok = eng.model.tokenizer;
  let em = 0, rl = 0;
  const gen = rows.slice(0, opts.maxGenerate ?? 100);
  for (const r of gen) {
    await turn(opts.signal);
    const refLen = r.example.tokens.length - r.promptTokens;
    const ids = greedyIds(eng, r.example.tokens.slice(0, r.promptTokens), refLen + 4, adapter, tok.eosTokenIds);
    const text = tok.decode(ids, { skipSpecial: true }).trim();
    gens.push(text);
    if (text === r.reference) em++;
    rl += rougeL(text, r.reference);
  }
  if (ds.format === 'labelled') out.accuracy = gen.length ? em / gen.length : 0;
  else {
    out.exact_match = gen.length ? em / gen.length : 0;
    out.rouge_l = gen.length ? rl / gen.length : 0;
  }
  return out;
}

/** Base (no adapter) vs tuned (`adapter`) on the dataset's held-out rows. */
export async function evaluate(eng: Engine, ds: Dataset, adapter: LoraAdapter, opts: EvalOptions = {}): Promise<Evaluation> {
  const rows = ds.eval;
  const baseGen: string[] = [], tunedGen: string[] = [];
  const base = await scores(eng, ds, rows, null, baseGen, opts);
  const tuned = await scores(eng, ds, rows, adapter, tunedGen, opts);
  const samples = rows.slice(0, 5).map((r, i) => ({ prompt: r.prompt, reference: r.reference, base: baseGen[i] ?? '', tuned: tunedGen[i] ?? '' }));
  return { split: 'eval', rows: rows.length, base, tuned, samples };
}
