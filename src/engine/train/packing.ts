/**
 * Training examples and sequence packing.
 *
 * An example is a token sequence with a loss mask: lossMask[t] = 1 where token t is part of the
 * response (what the model must learn to produce), 0 for the prompt / chat template. As a
 * document in a batch, row t reads tokens[t] and predicts tokens[t+1] when lossMask[t+1] = 1:
 *
 *   tokens   t0 t1 t2 t3 t4          (n tokens → n−1 rows; the last token is only a target)
 *   targets  t1 t2 t3 t4             (−1 where the next token's mask is 0)
 *
 * Packing puts documents back to back into batches of at most `maxTokens` rows (attention is
 * masked at the boundaries, see TrainBatch), in the order given, so the order — and therefore
 * every loss — is a function of the seed alone.
 */
import { invalid } from '../../util/errors.ts';
import type { TrainBatch } from './model.ts';

export interface TrainExample {
  tokens: ArrayLike<number>;
  /** Same length as tokens; 1 = learn to predict this token. Omitted: every token after the first. */
  lossMask?: ArrayLike<number> | null;
}

export interface PackedBatch extends TrainBatch {
  /** Index of the example in each document (same order as docs). */
  exampleIds: number[];
}

/** Check examples up front: each a clear error naming the row. */
export function checkExamples(examples: readonly TrainExample[], contextLength: number, vocabSize: number): void {
  if (!examples.length) throw invalid('the training dataset is empty', { param: 'training_file', code: 'empty_dataset', hint: 'add rows to the dataset (or pick a datanet version with accepted rows)' });
  examples.forEach((e, i) => {
    const n = e.tokens.length;
    if (n < 2) throw invalid(`training row ${i} has ${n} token(s); a row needs at least 2`, { param: 'training_file', code: 'row_too_short' });
    if (n - 1 > contextLength) {
      throw invalid(`training row ${i} has ${n} tokens, more than the model's context of ${contextLength} + 1`, {
        param: 'training_file', code: 'context_length_exceeded', hint: 'truncate or split long rows before training', details: { row: i, tokens: n, context: contextLength },
      });
    }
    if (e.lossMask && e.lossMask.length !== n) throw invalid(`training row ${i}: loss mask has ${e.lossMask.length} entries for ${n} tokens`, { param: 'training_file', code: 'invalid_loss_mask' });
    let any = !e.lossMask;
    for (let t = 0; t < n; t++) {
      const id = e.tokens[t];
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw invalid(`training row ${i}: token id ${id} is outside the vocabulary (${vocabSize})`, { param: 'training_file', code: 'invalid_token' });
      if (e.lossMask && t > 0 && e.lossMask[t]) any = true;
    }
    if (!any) throw invalid(`training row ${i} has no response tokens to learn (its loss mask is all 0 after the first token)`, { param: 'training_file', code: 'empty_loss_mask' });
  });
}

/**
 * Group examples `order` (indices into `examples`) into micro-batches of ≤ maxTokens rows and ≤
 * maxExamples documents, greedily in order. Only indices: a plan over a large dataset stays small,
 * and each batch is materialized when it is trained on (packBatch).
 */
export function groupExamples(examples: readonly TrainExample[], order: readonly number[], opts: { maxTokens: number; maxExamples?: number }): number[][] {
  const out: number[][] = [];
  let cur: number[] = [], rows = 0;
  for (const i of order) {
    const n = examples[i].tokens.length - 1;
    if (n > opts.maxTokens) throw invalid(`training row ${i} has ${n + 1} tokens; micro-batches hold ${opts.maxTokens}`, { param: 'training_file', code: 'context_length_exceeded', hint: 'raise max tokens per micro-batch or shorten the row' });
    if (cur.length && (rows + n > opts.maxTokens || (opts.maxExamples && cur.length >= opts.maxExamples))) { out.push(cur); cur = []; rows = 0; }
    cur.push(i);
    rows += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/** The packed batch of examples `ids`, back to back. */
export function packBatch(examples: readonly TrainExample[], ids: readonly number[]): PackedBatch {
  const M = ids.reduce((s, i) => s + examples[i].tokens.length - 1, 0);
  const tokens = new Int32Array(M), targets = new Int32Array(M);
  const docs: Array<{ start: number; len: number }> = [];
  let r = 0;
  for (const i of ids) {
    const e = examples[i], n = e.tokens.length - 1;
    docs.push({ start: r, len: n });
    for (let t = 0; t < n; t++, r++) {
      tokens[r] = e.tokens[t];
      targets[r] = !e.lossMask || e.lossMask[t + 1] ? e.tokens[t + 1] : -1;
    }
  }
  return { tokens, targets, docs, exampleIds: [...ids] };
}

/** groupExamples then packBatch for every group. */
export function packExamples(examples: readonly TrainExample[], order: readonly number[], opts: { maxTokens: number; maxExamples?: number }): PackedBatch[] {
  return groupExamples(examples, order, opts).map((g) => packBatch(examples, g));
}

/** Weighted target count of a batch (the loss denominator). */
export function batchTargets(b: TrainBatch): number {
  let n = 0;
  for (let i = 0; i < b.targets.length; i++) if (b.targets[i] >= 0) n += b.weights ? b.weights[i] : 1;
  return n;
}
