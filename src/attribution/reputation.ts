/**
 * Contributor reputation: the share of positive influence among all influence the contributor's
 * rows had on answers, blended with validator outcomes (accepted / decided rows):
 *
 *   influence = P / (P + N)           P, N: Σ normalised positive / negative mass of their rows in records
 *   validator = A / (A + R)           A, R: their accepted / rejected rows (datanet_rows)
 *   score     = (influence·(n_i) + validator·(n_v) + 0.5·2) / (n_i + n_v + 2)     (Laplace prior at 0.5;
 *               n_i = appearances in records, n_v = decided rows: evidence weighs in as it accumulates)
 */
import type { Db } from '../store/index.ts';
import { AttributionRepo } from './repo.ts';

export interface Reputation {
  address: string;
  score: number;
  influence: { positive: number; negative: number; positiveMass: number; negativeMass: number; share: number | null };
  validator: { accepted: number; rejected: number; share: number | null };
  rows: { withInfluence: number; flagged: number };
}

export function reputation(db: Db, address: string): Reputation {
  const s = new AttributionRepo(db).contributorStats(address);
  const v = db.prepare("SELECT COALESCE(SUM(status = 'accepted'), 0) AS a, COALESCE(SUM(status = 'rejected'), 0) AS r FROM datanet_rows WHERE contributor = ? COLLATE NOCASE").get(address) as { a: number; r: number };
  const mass = s.positiveMass + s.negativeMass;
  const inf = mass > 0 ? s.positiveMass / mass : null;
  const val = v.a + v.r > 0 ? v.a / (v.a + v.r) : null;
  const ni = s.positive + s.negative, nv = v.a + v.r;
  const score = ((inf ?? 0) * ni + (val ?? 0) * nv + 1) / (ni + nv + 2);
  return {
    address, score,
    influence: { positive: s.positive, negative: s.negative, positiveMass: s.positiveMass, negativeMass: s.negativeMass, share: inf },
    validator: { accepted: v.a, rejected: v.r, share: val },
    rows: { withInfluence: s.rows, flagged: s.flagged },
  };
}
