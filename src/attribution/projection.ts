/**
 * Random projection of per-example LoRA gradients, one block per transformer layer.
 *
 *   g        (D)      the flattened LoRA gradient of one example: for each module in layer order,
 *                     dA (R·K) then dB (N·R)            D = Σ_l D_l
 *   φ = P·g  (k)      k = Σ_l k_l; block l sees only layer l's coordinates:
 *                     φ_l[h_r(j)] += s_r(j)/√S · g_j     for j in layer l, r = 0 … S−1
 *
 * P is a sparse Johnson–Lindenstrauss matrix (S nonzeros ±1/√S per column, positions and signs from
 * a seeded integer hash), so E[⟨Pg, Pg'⟩] = ⟨g, g'⟩ and the error of one inner product is
 * ≈ ‖g‖‖g'‖·√(2/k_l) per block. Nothing is stored but the seed: the feature file names (seed, k, S,
 * layout) and the same P is rebuilt to project the gradient of an answer at query time.
 * Blocks per layer keep the layer-wise methods (DataInf, block-diagonal TRAK) possible after projection.
 *
 * `identity: true` is P = I (k_l = D_l): the exact spec the projected scorers are tested against.
 */
import { invalid } from '../util/errors.ts';

/** One LoRA module of the gradient layout, in flattening order. */
export interface LayoutModule {
  name: string;
  layer: number;
  /** R·K (dA) and N·R (dB). */
  sizeA: number;
  sizeB: number;
}

export interface ProjectionSpec {
  /** Seed of the hash (published with the features). */
  seed: number;
  /** Total projected dimensions k (split evenly over the layer blocks). Ignored with identity. */
  dims: number;
  /** Nonzeros per coordinate S (default 4). */
  nnz?: number;
  identity?: boolean;
}

/** 32-bit integer mix (lowbias32): the projection's only source of randomness. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

export class Projector {
  readonly layers: number[];
  /** Per block: full dims D_l, projected dims k_l, offset of the block in φ. */
  readonly fullDims: number[];
  readonly blockDims: number[];
  readonly blockOffset: number[];
  readonly D: number;
  readonly k: number;
  readonly nnz: number;
  /** Module order within g (layer-major). */
  readonly modules: LayoutModule[];
  /** (D·S) target index in φ, sign in the top bit. Null for identity. */
  private readonly table: Int32Array | null;
  private readonly scale: number;

  constructor(layout: readonly LayoutModule[], readonly spec: ProjectionSpec) {
    if (!layout.length) throw invalid('the gradient layout is empty', { code: 'invalid_features' });
    this.modules = [...layout].sort((a, b) => a.layer - b.layer);
    this.layers = [...new Set(this.modules.map((m) => m.layer))];
    this.fullDims = this.layers.map((l) => this.modules.filter((m) => m.layer === l).reduce((s, m) => s + m.sizeA + m.sizeB, 0));
    this.D = this.fullDims.reduce((a, b) => a + b, 0);
    this.nnz = spec.identity ? 1 : spec.nnz ?? 4;
    if (spec.identity) this.blockDims = [...this.fullDims];
    else {
      const per = Math.floor(spec.dims / this.layers.length);
      if (!Number.isInteger(spec.dims) || per < 8) throw invalid(`projection dims ${spec.dims} is too small for ${this.layers.length} layers`, { code: 'invalid_features', hint: 'use at least 8 dims per layer, e.g. 2048' });
      this.blockDims = this.layers.map(() => per);
    }
    this.blockOffset = [];
    let off = 0;
    for (const d of this.blockDims) { this.blockOffset.push(off); off += d; }
    this.k = off;
    this.scale = 1 / Math.sqrt(this.nnz);
    if (spec.identity) { this.table = null; return; }
    const S = this.nnz, t = new Int32Array(this.D * S);
    let j = 0;
    for (let b = 0; b < this.layers.length; b++) {
      const kb = this.blockDims[b], ob = this.blockOffset[b];
      for (let c = 0; c < this.fullDims[b]; c++, j++) {
        for (let r = 0; r < S; r++) {
          const h = mix32((Math.imul(spec.seed | 0, 0x9e3779b1) ^ Math.imul(j * S + r + 1, 0x85ebca6b)) >>> 0);
          const target = ob + (h % kb);
          t[j * S + r] = (h & 0x80000000) !== 0 ? ~target : target;
        }
      }
    }
    this.table = t;
  }

  /** Flatten one example's module gradients into g (D), layer-major. */
  flatten(grads: ReadonlyMap<string, { dA: Float32Array[]; dB: Float32Array[] }>, e: number, g = new Float32Array(this.D)): Float32Array {
    let o = 0;
    for (const m of this.modules) {
      const x = grads.get(m.name);
      if (!x) throw invalid(`the gradient lacks module ${m.name}`, { code: 'features_mismatch', hint: 'the adapter and the feature file describe different LoRA modules' });
      g.set(x.dA[e], o); o += m.sizeA;
      g.set(x.dB[e], o); o += m.sizeB;
    }
    return g;
  }

  /** φ = P·g into out (k). */
  project(g: Float32Array, out: Float32Array = new Float32Array(this.k)): Float32Array {
    if (g.length !== this.D) throw invalid(`gradient has ${g.length} values, the layout ${this.D}`, { code: 'features_mismatch' });
    if (!this.table) { out.set(g); return out; }
    out.fill(0);
    const t = this.table, S = this.nnz, s = this.scale;
    for (let j = 0; j < this.D; j++) {
      const v = g[j] * s;
      if (v === 0) continue;
      for (let r = 0; r < S; r++) {
        const x = t[j * S + r];
        if (x >= 0) out[x] += v; else out[~x] -= v;
      }
    }
    return out;
  }
}
