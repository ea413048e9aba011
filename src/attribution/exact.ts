/**
 * The slow exact influences: the spec the projected scorers (scorers.ts) are held to. Full,
 * unprojected gradients G_c (n, D) in float64, formulas written the plain way:
 *
 *   TracIn    τ_i = Σ_c η_c ⟨g_test,c, g_i,c⟩
 *   TRAK      τ = (1/C) Σ_c Σ_l (G_l G_lᵀ + λ_l I)⁻¹ G_l g_test,l       (kernel form, n × n per layer:
 *             λ_l = damping · mean_i ‖g_il‖²                             the identity Φ(ΦᵀΦ+λ)⁻¹ = (ΦΦᵀ+λ)⁻¹Φ)
 *   DataInf   τ_i = (1/C) Σ_c Σ_l h_l · g_il,  h_l = (1/(nλ_l)) Σ_j [v − (v·g_j)/(λ_l+‖g_j‖²) g_j],  λ_l = mean_j ‖g_jl‖²/(10·D_l)
 *
 * O(n²·D) and O(n³): only for tests and the evaluation's small runs.
 */
import { cholesky, cholSolve, TRAK_DAMPING, type Method } from './scorers.ts';

export interface ExactCheckpoint {
  eta: number;
  /** Per training row, its full gradient (D). */
  rows: Float32Array[];
  /** The answer's full gradient (D). */
  test: Float32Array;
}

/** Layer blocks as [start, end) ranges of the full gradient. */
export type LayerRanges = Array<[number, number]>;

const dot = (a: Float32Array, b: Float32Array, s: number, e: number) => {
  let t = 0;
  for (let j = s; j < e; j++) t += a[j] * b[j];
  return t;
};

export function exactInfluence(method: Method, ckpts: readonly ExactCheckpoint[], layers: LayerRanges, damping = TRAK_DAMPING): Float64Array {
  const n = ckpts[0].rows.length, out = new Float64Array(n), C = ckpts.length;
  for (const c of ckpts) {
    if (method === 'tracin') {
      const D = c.test.length;
      for (let i = 0; i < n; i++) out[i] += c.eta * dot(c.rows[i], c.test, 0, D);
      continue;
    }
    for (const [s, e] of layers) {
      const norms = c.rows.map((g) => dot(g, g, s, e));
      const mean = norms.reduce((a, b) => a + b, 0) / n;
      if (method === 'trak') {
        const lambda = Math.max(damping * mean, 1e-12);
        const K = new Float64Array(n * n);
        for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) K[i * n + j] = dot(c.rows[i], c.rows[j], s, e) + (i === j ? lambda : 0);
        cholesky(K, n);
        const v = Float64Array.from(c.rows.map((g) => dot(g, c.test, s, e)));
        cholSolve(K, n, v);
        for (let i = 0; i < n; i++) out[i] += v[i] / C;
      } else {
        const lambda = Math.max(mean / (10 * (e - s)), 1e-20);
        const h = new Float64Array(e - s);
        for (let j = 0; j < n; j++) {
          const cj = dot(c.test, c.rows[j], s, e) / (lambda + norms[j]);
          for (let a = s; a < e; a++) h[a - s] += c.test[a] - cj * c.rows[j][a];
        }
        for (let i = 0; i < n; i++) {
          let t = 0;
          for (let a = s; a < e; a++) t += h[a - s] * c.rows[i][a];
          out[i] += t / (n * lambda) / C;
        }
      }
    }
  }
  return out;
}
