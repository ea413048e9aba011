/**
 * Influence scorers over projected gradient features. Sign convention for every method: a score
 * > 0 means the training row pushed the model toward this answer (it lowered the answer's loss);
 * < 0 means it pushed away. Notation (one checkpoint c, layer block l, n training rows):
 *
 *   φ_i,c     (k)        projected gradient of row i's mean loss at checkpoint c
 *   ψ_c       (k)        projected gradient of the answer's mean loss at checkpoint c
 *   η_c                  mean learning rate of the steps checkpoint c stands for
 *
 *   TracIn    τ_i = Σ_c η_c · ⟨ψ_c, φ_i,c⟩                                   (Pruthi et al. 2020, TracInCP)
 *   TRAK      τ_i = (1/C) Σ_c Σ_l φ_il,cᵀ (Φ_l,cᵀΦ_l,c + λ_l,c I)⁻¹ ψ_l,c      (Park et al. 2023; damped projected
 *             λ_l,c = damping · mean_i ‖φ_il,c‖²  (damping 0.1)                 Gauss–Newton, block-diagonal per layer,
 *                                                                            checkpoints as the ensemble)
 *   DataInf   τ_i = (1/C) Σ_c Σ_l h_l,c · φ_il,c                              (Kwon et al. 2024, LoRA layer-wise)
 *             h_l = (1/(n·λ_l)) Σ_j [ ψ_l − (ψ_l·φ_jl)/(λ_l + ‖φ_jl‖²) · φ_jl ]  ≈ (Ĥ_l + λ_l I)⁻¹ ψ_l
 *             λ_l = mean_j ‖φ_jl‖² / (10 · D_l)   (D_l: the layer's unprojected dims, so λ is the same
 *                                                 before and after projection)
 *
 * The exact versions (exact.ts) compute the same quantities on the full gradients, TRAK through
 * the n×n kernel form (GGᵀ + λI)⁻¹Gg; the test holds them together.
 */
import { invalid } from '../util/errors.ts';

export const METHODS = ['tracin', 'trak', 'datainf'] as const;
export type Method = (typeof METHODS)[number];

export interface Block {
  /** Offset and width in φ, and the layer's unprojected dims D_l. */
  offset: number;
  dims: number;
  fullDims: number;
}

export interface FeatureCheckpoint {
  step: number;
  eta: number;
  /** (n, k) row-major: φ_i at this checkpoint. */
  phi: Float32Array;
}

export interface FeatureSet {
  n: number;
  k: number;
  blocks: Block[];
  checkpoints: FeatureCheckpoint[];
}

export const TRAK_DAMPING = 0.1;

export function checkQuery(fs: FeatureSet, psi: readonly Float32Array[]): void {
  if (psi.length !== fs.checkpoints.length) throw invalid(`the answer has gradients at ${psi.length} checkpoints, the features ${fs.checkpoints.length}`, { code: 'features_mismatch' });
  for (const p of psi) if (p.length !== fs.k) throw invalid(`the answer's features have ${p.length} dims, the rows ${fs.k}`, { code: 'features_mismatch' });
}

export function tracin(fs: FeatureSet, psi: readonly Float32Array[]): Float64Array {
  checkQuery(fs, psi);
  const { n, k } = fs, out = new Float64Array(n);
  fs.checkpoints.forEach((c, ci) => {
    const q = psi[ci], phi = c.phi;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * k;
      for (let j = 0; j < k; j++) s += phi[o + j] * q[j];
      out[i] += c.eta * s;
    }
  });
  return out;
}

/** Per checkpoint and block: the Cholesky factor of (ΦᵀΦ + λI) (dims × dims, lower, f64). Built once per feature set. */
export interface TrakState {
  chol: Float64Array[][];
}

export function prepareTrak(fs: FeatureSet, damping = TRAK_DAMPING): TrakState {
  const { n, k } = fs;
  const chol = fs.checkpoints.map((c) => fs.blocks.map((b) => {
    const d = b.dims, A = new Float64Array(d * d);
    let norms = 0;
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const o = i * k + b.offset;
      for (let a = 0; a < d; a++) row[a] = c.phi[o + a];
      for (let a = 0; a < d; a++) {
        const ra = row[a];
        if (ra === 0) continue;
        norms += ra * ra;
        const base = a * d;
        for (let e = 0; e <= a; e++) A[base + e] += ra * row[e];
      }
    }
    const lambda = Math.max(damping * (norms / Math.max(1, n)), 1e-12);
    for (let a = 0; a < d; a++) A[a * d + a] += lambda;
    cholesky(A, d);
    return A;
  }));
  return { chol };
}

export function trak(fs: FeatureSet, psi: readonly Float32Array[], st: TrakState): Float64Array {
  checkQuery(fs, psi);
  const { n, k } = fs, out = new Float64Array(n);
  const C = fs.checkpoints.length;
  fs.checkpoints.forEach((c, ci) => {
    const x = new Float64Array(k);
    fs.blocks.forEach((b, bi) => {
      const v = new Float64Array(b.dims);
      for (let a = 0; a < b.dims; a++) v[a] = psi[ci][b.offset + a];
      cholSolve(st.chol[ci][bi], b.dims, v);
      x.set(v, b.offset);
    });
    for (let i = 0; i < n; i++) {
      let s = 0;
      const o = i * k;
      for (let j = 0; j < k; j++) s += c.phi[o + j] * x[j];
      out[i] += s / C;
    }
  });
  return out;
}

export function datainf(fs: FeatureSet, psi: readonly Float32Array[]): Float64Array {
  checkQuery(fs, psi);
  const { n, k } = fs, out = new Float64Array(n);
  const C = fs.checkpoints.length;
  fs.checkpoints.forEach((c, ci) => {
    for (const b of fs.blocks) {
      const d = b.dims, q = psi[ci];
      const norm2 = new Float64Array(n), dot = new Float64Array(n);
      let mean = 0;
      for (let i = 0; i < n; i++) {
        let s = 0, t = 0;
        const o = i * k + b.offset;
        for (let a = 0; a < d; a++) { const g = c.phi[o + a]; s += g * g; t += g * q[b.offset + a]; }
        norm2[i] = s; dot[i] = t; mean += s;
      }
      mean /= n;
      const lambda = Math.max(mean / (10 * b.fullDims), 1e-20);
      // h = (1/(nλ)) Σ_j [ψ − c_j φ_j],  c_j = (ψ·φ_j)/(λ + ‖φ_j‖²)
      const h = new Float64Array(d);
      for (let a = 0; a < d; a++) h[a] = n * q[b.offset + a];
      for (let j = 0; j < n; j++) {
        const cj = dot[j] / (lambda + norm2[j]);
        if (cj === 0) continue;
        const o = j * k + b.offset;
        for (let a = 0; a < d; a++) h[a] -= cj * c.phi[o + a];
      }
      const inv = 1 / (n * lambda);
      for (let i = 0; i < n; i++) {
        let s = 0;
        const o = i * k + b.offset;
        for (let a = 0; a < d; a++) s += h[a] * c.phi[o + a];
        out[i] += (s * inv) / C;
      }
    }
  });
  return out;
}

export function score(method: Method, fs: FeatureSet, psi: readonly Float32Array[], trakState?: () => TrakState): Float64Array {
  if (method === 'tracin') return tracin(fs, psi);
  if (method === 'datainf') return datainf(fs, psi);
  if (method === 'trak') return trak(fs, psi, trakState ? trakState() : prepareTrak(fs));
  throw invalid(`unknown attribution method ${method as string}`, { param: 'method', code: 'invalid_method', hint: `use one of ${METHODS.join(', ')}` });
}

/** In-place Cholesky A = L·Lᵀ of a symmetric positive definite (d, d) matrix given by its lower triangle; L overwrites it. */
export function cholesky(A: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j];
    for (let p = 0; p < j; p++) s -= A[j * d + p] * A[j * d + p];
    if (!(s > 0)) throw invalid('the damped Gauss–Newton matrix is not positive definite', { code: 'numerical_error', hint: 'raise the TRAK damping' });
    const ljj = Math.sqrt(s);
    A[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j];
      const ri = i * d, rj = j * d;
      for (let p = 0; p < j; p++) t -= A[ri + p] * A[rj + p];
      A[ri + j] = t / ljj;
    }
    for (let p = j + 1; p < d; p++) A[j * d + p] = 0;
  }
}

/** Solve L·Lᵀ·x = v in place (L from cholesky). */
export function cholSolve(L: Float64Array, d: number, v: Float64Array): void {
  for (let i = 0; i < d; i++) {
    let s = v[i];
    const r = i * d;
    for (let p = 0; p < i; p++) s -= L[r + p] * v[p];
    v[i] = s / L[r + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = v[i];
    for (let p = i + 1; p < d; p++) s -= L[p * d + i] * v[p];
    v[i] = s / L[i * d + i];
  }
}
