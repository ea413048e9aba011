/** Small statistics used by the evaluation and the tests: ranks, Spearman, ROC AUC. */

/** Average ranks (ties share their mean rank), 1-based. */
export function ranks(x: readonly number[]): number[] {
  const idx = x.map((_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Array<number>(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    for (let t = i; t <= j; t++) r[idx[t]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}

export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n, mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

export function spearman(a: readonly number[], b: readonly number[]): number {
  return pearson(ranks(a), ranks(b));
}

/** ROC AUC of `score` for positives (label true): P(score_pos > score_neg), ties ½. */
export function rocAuc(score: readonly number[], label: readonly boolean[]): number {
  const r = ranks(score);
  let np = 0, sum = 0;
  for (let i = 0; i < r.length; i++) if (label[i]) { np++; sum += r[i]; }
  const nn = r.length - np;
  if (!np || !nn) return NaN;
  return (sum - (np * (np + 1)) / 2) / (np * nn);
}
