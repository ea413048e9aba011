/**
 * Embeddings: pooled final hidden states (after output_norm, as llama.cpp's embedding mode).
 *   mean — average over the tokens; last — the last token (decoder models, e.g. Qwen3-Embedding);
 *   cls — the first token. L2-normalised by default.
 * Inputs run as temporary sequences through the same batched `engine.step` (so an adapter can be
 * applied) and are freed at once; the call is synchronous.
 */
import type { Engine } from './engine.ts';
import type { LoraAdapter } from './lora/adapter.ts';
import { invalid, OpenLedgerError } from '../util/errors.ts';

export interface EmbedOptions {
  pooling?: 'mean' | 'last' | 'cls';
  /** Scale each vector to unit L2 norm (default true). */
  normalize?: boolean;
  adapter?: LoraAdapter | null;
  /** Text inputs: add the tokenizer's special tokens (default true). */
  addSpecial?: boolean;
}

/** One vector (C) per input. */
export function embed(engine: Engine, inputs: string | readonly string[] | readonly (readonly number[])[], opts: EmbedOptions = {}): Float32Array[] {
  const list: ReadonlyArray<string | readonly number[]> = typeof inputs === 'string' ? [inputs] : inputs;
  const C = engine.config.dModel, bs = engine.kv.blockSize;
  const ids = list.map((x, i) => {
    const t = typeof x === 'string' ? engine.tokenizer.encode(x, { addSpecial: opts.addSpecial ?? true }) : [...x];
    if (t.length === 0) throw invalid(`input ${i} is empty`, { param: 'input', code: 'empty_input' });
    if (t.length > engine.maxContext) {
      throw new OpenLedgerError(`input ${i} has ${t.length} tokens; the context holds ${engine.maxContext}`, {
        param: 'input', code: 'context_length_exceeded', hint: 'split or shorten the input',
      });
    }
    return t;
  });
  const pooling = opts.pooling ?? 'mean';
  const out: Float32Array[] = [];
  let i = 0;
  while (i < ids.length) {
    // As many inputs as the free KV blocks hold.
    const group: number[] = [];
    let blocks = 0;
    while (i < ids.length) {
      const need = Math.ceil(ids[i].length / bs);
      if (blocks + need > engine.kv.freeBlocks) break;
      blocks += need;
      group.push(i++);
    }
    if (!group.length) {
      throw new OpenLedgerError(`input ${i} needs ${Math.ceil(ids[i].length / bs)} KV blocks, ${engine.kv.freeBlocks} are free`, {
        type: 'rate_limit_error', code: 'kv_cache_full', hint: 'retry later or give the engine a larger kvTokens budget',
      });
    }
    const seqs = group.map(() => engine.createSequence());
    try {
      const res = engine.step(group.map((g, k) => ({ seq: seqs[k], tokens: ids[g], adapter: opts.adapter ?? null, logits: 'none' as const, hidden: true })));
      for (let k = 0; k < group.length; k++) {
        const h = res[k].hidden!, T = ids[group[k]].length;
        const v = new Float32Array(C);
        if (pooling === 'mean') {
          for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) v[c] += h[t * C + c];
          for (let c = 0; c < C; c++) v[c] /= T;
        } else v.set(h.subarray(pooling === 'last' ? (T - 1) * C : 0, pooling === 'last' ? T * C : C));
        if (opts.normalize ?? true) {
          let n = 0;
          for (let c = 0; c < C; c++) n += v[c] * v[c];
          n = Math.sqrt(n) || 1;
          for (let c = 0; c < C; c++) v[c] /= n;
        }
        out.push(v);
      }
    } finally {
      for (const s of seqs) engine.freeSequence(s);
    }
  }
  return out;
}
