/**
 * Span attribution (OLMoTrace, Liu et al. 2025) over a span index: no gradients, so it works for
 * imported adapters, base models and any size.
 *
 *   1. m_i = longest prefix of answer[i …] found verbatim in the index      (one binary search per i)
 *   2. maximal spans: (i, m_i) with m_i ≥ minTokens not inside an earlier one (i + m_i > max_{j<i} j + m_j)
 *   3. keep the K spans of lowest unigram probability Π_t p(t), K = max(minKeep, ⌈0.05·L⌉)
 *      (long and rare spans are evidence; common phrases are not)
 *   4. per span: count = occurrences; up to `docsPerSpan` documents (rows) holding it
 *   5. span weight w_s = len(s) / count, split evenly over the rows retrieved for it
 *      (a unique long match is near-certain provenance; a phrase seen 500 times is not)
 */
import type { IndexRow, SpanIndex } from './span-index.ts';

export interface SpanOptions {
  minTokens?: number;
  minKeep?: number;
  keepFraction?: number;
  docsPerSpan?: number;
  maxLen?: number;
}

export interface SpanMatch {
  /** [start, end) in the answer's tokens. */
  start: number;
  end: number;
  count: number;
  logUnigram: number;
  weight: number;
  rows: IndexRow[];
}

export function findSpans(index: SpanIndex, answer: ArrayLike<number>, opts: SpanOptions = {}): SpanMatch[] {
  const L = answer.length;
  const minTokens = opts.minTokens ?? 4, docsPerSpan = opts.docsPerSpan ?? 10, maxLen = opts.maxLen ?? 512;
  const K = Math.max(opts.minKeep ?? 3, Math.ceil((opts.keepFraction ?? 0.05) * L));
  const candidates: Array<{ start: number; end: number; logUnigram: number }> = [];
  let reach = 0;
  for (let i = 0; i < L; i++) {
    // m_{i} ≥ m_{i−1} − 1: a match found at i − 1 that reaches past i + minTokens still needs its own search,
    // since it may extend further; no shortcut is taken.
    const m = index.longestPrefix(answer, i, maxLen);
    if (m >= minTokens && i + m > reach) {
      let lu = 0;
      for (let t = i; t < i + m; t++) lu += Math.log(index.unigram(answer[t]));
      candidates.push({ start: i, end: i + m, logUnigram: lu });
    }
    reach = Math.max(reach, i + m);
  }
  candidates.sort((a, b) => a.logUnigram - b.logUnigram);
  return candidates.slice(0, K).map((c) => {
    const len = c.end - c.start;
    const count = index.count(answer, c.start, len);
    const docs = index.documents(answer, c.start, len, docsPerSpan);
    return { ...c, count, weight: count > 0 ? len / count : 0, rows: docs.map((d) => d.row) };
  }).sort((a, b) => a.start - b.start);
}

/** Per row: Σ over spans of w_s / (rows retrieved for s). */
export function spanRowScores(spans: readonly SpanMatch[]): Map<number, { score: number; contributor: string }> {
  const out = new Map<number, { score: number; contributor: string }>();
  for (const s of spans) {
    if (!s.rows.length) continue;
    const share = s.weight / s.rows.length;
    for (const r of s.rows) {
      const e = out.get(r.rowId) ?? { score: 0, contributor: r.contributor };
      e.score += share;
      out.set(r.rowId, e);
    }
  }
  return out;
}
