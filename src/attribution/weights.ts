/**
 * Contributor weights of one inference, from per-row scores (gradient influence and/or spans):
 *
 *   1. exclude   rows not accepted, rows any validator voted to reject, rows flagged for
 *                consistently negative influence (reputation.ts)
 *   2. clip      s⁺_i = max(s_i, 0): only positive influence is paid (negatives are kept for review)
 *   3. cluster   near-duplicates (the datanets' MinHash, Jaccard ≥ threshold, LSH) form one cluster,
 *                paid once, as its earliest row (lowest row id = first submitted): value = s⁺ of that
 *                row, to its contributor; later copies add nothing, whatever they score (a copy
 *                that scores higher must not raise the cluster's pay)
 *   4. sum       w_c = Σ values of the clusters credited to contributor c
 *   5. cap       w_c ≤ cap · Σ w (water-filling: excess goes to the others pro rata; a cap only binds
 *                with ≥ ⌈1/cap⌉ contributors holding mass)
 *   6. normalise integer parts per million, Σ = 1_000_000 exactly (largest remainders)
 *
 * Splitting one's rows over several addresses leaves steps 1–4 unchanged (they are per row), so it
 * can only gain where the cap binds (a capped contributor split in two escapes it); the evaluation
 * measures this (`sybil_payout_gain`).
 */
import { LshIndex, DEFAULT_MINHASH } from '../datanets/minhash.ts';

export interface RowEvidence {
  rowId: number;
  contributor: string;
  /** Signed score (influence or span weight); > 0 = helped this answer. */
  score: number;
  status?: 'accepted' | 'pending' | 'rejected';
  /** Validators' reject votes on the row. */
  rejectVotes?: number;
  flagged?: boolean;
  /** MinHash signature (datanet_rows.minhash); rows without one are their own cluster. */
  minhash?: Uint32Array | null;
}

export interface WeightOptions {
  /** Largest share one contributor may get, in ppm (default 1_000_000: no cap). */
  capPpm?: number;
  /** Jaccard threshold of a near-duplicate cluster (default the datanets' 0.8). */
  dedupThreshold?: number;
}

export interface ContributorWeight {
  address: string;
  weightPpm: number;
}

export interface WeightResult {
  weights: ContributorWeight[];
  /** Row → cluster representative (the earliest row), for rows in a cluster of ≥ 2. */
  clusters: Map<number, number>;
  excluded: Array<{ rowId: number; reason: 'not_accepted' | 'rejected_by_validator' | 'flagged' }>;
  /** Σ positive value before normalisation (0 → weights empty: the caller falls back to pro rata). */
  mass: number;
}

export const PPM = 1_000_000;

export function contributorWeights(rows: readonly RowEvidence[], opts: WeightOptions = {}): WeightResult {
  const excluded: WeightResult['excluded'] = [];
  const live: RowEvidence[] = [];
  for (const r of rows) {
    if (r.status && r.status !== 'accepted') excluded.push({ rowId: r.rowId, reason: 'not_accepted' });
    else if ((r.rejectVotes ?? 0) > 0) excluded.push({ rowId: r.rowId, reason: 'rejected_by_validator' });
    else if (r.flagged) excluded.push({ rowId: r.rowId, reason: 'flagged' });
    else live.push(r);
  }
  // Clusters: earliest row first, each joins the cluster of its best earlier near-duplicate.
  live.sort((a, b) => a.rowId - b.rowId);
  const lsh = new LshIndex<number>({ ...DEFAULT_MINHASH, threshold: opts.dedupThreshold ?? DEFAULT_MINHASH.threshold });
  const rep = new Map<number, number>();
  const value = new Map<number, { value: number; contributor: string }>();
  for (const r of live) {
    let root = r.rowId;
    if (r.minhash && r.minhash.length === DEFAULT_MINHASH.perms) {
      const m = lsh.query(r.minhash);
      if (m) root = rep.get(m.key) ?? m.key;
      lsh.add(r.rowId, r.minhash);
    }
    rep.set(r.rowId, root);
    const v = Math.max(r.score, 0);
    if (!value.has(root)) value.set(root, { value: Number.isFinite(v) ? v : 0, contributor: r.contributor }); // later copies add nothing
  }
  const by = new Map<string, number>();
  let mass = 0;
  for (const { value: v, contributor } of value.values()) {
    if (v <= 0) continue;
    by.set(contributor, (by.get(contributor) ?? 0) + v);
    mass += v;
  }
  const clusters = new Map<number, number>();
  const size = new Map<number, number>();
  for (const root of rep.values()) size.set(root, (size.get(root) ?? 0) + 1);
  for (const [row, root] of rep) if ((size.get(root) ?? 0) > 1) clusters.set(row, root);
  if (mass <= 0) return { weights: [], clusters, excluded, mass: 0 };
  const capped = waterFill([...by.entries()], (opts.capPpm ?? PPM) / PPM);
  return { weights: toPpm(capped), clusters, excluded, mass };
}

/** Shares Σ = 1 with no share above cap (when feasible: cap · count ≥ 1). */
function waterFill(entries: Array<[string, number]>, cap: number): Array<[string, number]> {
  const total = entries.reduce((s, [, v]) => s + v, 0);
  let shares = entries.map(([a, v]) => [a, v / total] as [string, number]);
  if (cap >= 1 || cap * entries.length < 1) return shares;
  const fixed = new Set<string>();
  for (let iter = 0; iter < entries.length; iter++) {
    const over = shares.filter(([a, s]) => !fixed.has(a) && s > cap + 1e-15);
    if (!over.length) break;
    for (const [a] of over) fixed.add(a);
    const freeMass = 1 - fixed.size * cap;
    const freeSum = shares.filter(([a]) => !fixed.has(a)).reduce((s, [, v]) => s + v, 0);
    shares = shares.map(([a, s]) => [a, fixed.has(a) ? cap : freeSum > 0 ? (s / freeSum) * freeMass : 0]);
  }
  return shares;
}

/** Largest-remainder rounding to ppm, Σ = 1_000_000; zero weights dropped; sorted by weight desc, address. */
export function toPpm(shares: ReadonlyArray<[string, number]>): ContributorWeight[] {
  const raw = shares.map(([a, s]) => ({ address: a, exact: s * PPM }));
  const out = raw.map((r) => ({ address: r.address, weightPpm: Math.floor(r.exact), rem: r.exact - Math.floor(r.exact) }));
  let left = PPM - out.reduce((s, r) => s + r.weightPpm, 0);
  const order = out.map((_, i) => i).sort((a, b) => out[b].rem - out[a].rem || out[a].address.localeCompare(out[b].address));
  for (let i = 0; left > 0 && out.length; i = (i + 1) % order.length, left--) out[order[i]].weightPpm++;
  return out.filter((r) => r.weightPpm > 0).map(({ address, weightPpm }) => ({ address, weightPpm }))
    .sort((a, b) => b.weightPpm - a.weightPpm || a.address.localeCompare(b.address));
}

/**
 * Mix per-row scores of several signals. Positives: each signal's positive mass is normalised to 1,
 * so the mixing weights are shares of the payout (gradient 0.75 / span 0.25 by default); a signal
 * with no positive mass drops out and the others take its share. Negatives (only the gradient has
 * them) keep their sign on the same scale (÷ that signal's positive mass, or its negative mass when
 * it has no positive one): never paid, but ranked, recorded and counted for flags.
 */
export function mixSignals(signals: ReadonlyArray<{ weight: number; scores: ReadonlyMap<number, number> }>): Map<number, number> {
  const mass = signals.map((s) => {
    let pos = 0, neg = 0;
    for (const v of s.scores.values()) { if (v > 0) pos += v; else if (v < 0) neg -= v; }
    return { pos, neg };
  });
  const wLive = signals.reduce((a, s, i) => a + (s.weight > 0 && mass[i].pos > 0 ? s.weight : 0), 0);
  const wAll = signals.reduce((a, s) => a + Math.max(s.weight, 0), 0);
  const out = new Map<number, number>();
  signals.forEach((s, i) => {
    if (s.weight <= 0) return;
    const { pos, neg } = mass[i];
    for (const [row, v] of s.scores) {
      let x = 0;
      if (v > 0) x = (s.weight / wLive) * (v / pos);
      else if (v < 0) x = (s.weight / wAll) * (v / (pos > 0 ? pos : neg));
      if (x !== 0 || !out.has(row)) out.set(row, (out.get(row) ?? 0) + x);
    }
  });
  return out;
}
