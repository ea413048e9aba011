/**
 * Gradient feature files, written next to a job's checkpoints (<jobDir>/attribution/):
 *
 *   features.json            header: format, projection {seed, dims, nnz}, gradient layout, the
 *                            training rows (their `ord` in the job's dataset, factory_job_rows),
 *                            and per checkpoint {step, eta, factors, phi, sha256 of both}
 *   factors-<step>.bin       the LoRA factors at that checkpoint (to take an answer's gradient there)
 *   phi-<step>.f32           (n, k) float32: φ_i = P·∇ℓ(row i) at that checkpoint
 *
 * Each file is written to a temp name and renamed; the header last, so a header always names
 * complete files. Reading checks sizes and hashes: a damaged file is an error naming it (the
 * attribution then falls back to spans and says so), never wrong numbers.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kernels } from '../engine/kernels/types.ts';
import type { LoadedModel } from '../engine/model/load.ts';
import type { LoraFactors } from '../engine/lora/memory.ts';
import type { TrainExample } from '../engine/train/index.ts';
import { OpenLedgerError, invalid } from '../util/errors.ts';
import { gradientRun } from './gradients.ts';
import { Projector, type LayoutModule, type ProjectionSpec } from './projection.ts';
import type { FeatureSet } from './scorers.ts';

export const FEATURES_FORMAT = 'openledger-grad-features-v1';
/** Default projection: 2048 dims (split over the layers), 4 nonzeros per coordinate, a published seed. */
export const DEFAULT_PROJECTION: ProjectionSpec = { seed: 0x0a77_1b, dims: 2048, nnz: 4 };

export interface FeatureHeader {
  format: typeof FEATURES_FORMAT;
  projection: ProjectionSpec;
  layout: LayoutModule[];
  /** Per training row (in φ's row order): its index in the job's dataset and its target tokens. */
  rows: Array<{ ord: number; tokens: number }>;
  checkpoints: Array<{ step: number; eta: number; factors: string; phi: string; sha256: string; meanLoss: number }>;
  createdAt: number;
}

export interface LoadedFeatures {
  dir: string;
  header: FeatureHeader;
  projector: Projector;
  set: FeatureSet;
  factors: Array<Record<string, LoraFactors>>;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function atomicWrite(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** [u32 header length][JSON header][f32 A, B of each module in header order]. */
export function encodeFactors(factors: Record<string, LoraFactors>): Buffer {
  const names = Object.keys(factors).sort();
  const head = Buffer.from(JSON.stringify({ modules: names.map((n) => ({ name: n, rank: factors[n].rank, alpha: factors[n].alpha, rsLora: !!factors[n].rsLora, a: factors[n].a.length, b: factors[n].b.length })) }));
  const parts: Buffer[] = [Buffer.alloc(4), head];
  parts[0].writeUInt32LE(head.length, 0);
  for (const n of names) {
    parts.push(Buffer.from(factors[n].a.buffer, factors[n].a.byteOffset, factors[n].a.byteLength));
    parts.push(Buffer.from(factors[n].b.buffer, factors[n].b.byteOffset, factors[n].b.byteLength));
  }
  return Buffer.concat(parts);
}

export function decodeFactors(buf: Buffer): Record<string, LoraFactors> {
  const len = buf.readUInt32LE(0);
  const head = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as { modules: Array<{ name: string; rank: number; alpha: number; rsLora: boolean; a: number; b: number }> };
  let o = 4 + len;
  const out: Record<string, LoraFactors> = {};
  const f32 = (n: number) => {
    if (o + n * 4 > buf.length) throw new Error('truncated');
    const v = new Float32Array(n);
    new Uint8Array(v.buffer).set(buf.subarray(o, o + n * 4));
    o += n * 4;
    return v;
  };
  for (const m of head.modules) out[m.name] = { a: f32(m.a), b: f32(m.b), rank: m.rank, alpha: m.alpha, rsLora: m.rsLora };
  if (o !== buf.length) throw new Error('trailing bytes');
  return out;
}

export interface FeatureCheckpointInput {
  step: number;
  eta: number;
  factors: Record<string, LoraFactors>;
}

/**
 * Project every training row's gradient at each checkpoint and write the feature files.
 * `rows[i]` is training example i with its dataset `ord`.
 */
export function writeFeatures(dir: string, model: LoadedModel, kernels: Kernels, rows: ReadonlyArray<{ ord: number; example: TrainExample }>, checkpoints: readonly FeatureCheckpointInput[], opts: { projection?: ProjectionSpec; maxTokens?: number; signal?: AbortSignal } = {}): FeatureHeader {
  if (!rows.length) throw invalid('no training rows to write features for', { code: 'empty_dataset' });
  if (!checkpoints.length) throw invalid('no checkpoints to write features at', { code: 'invalid_features' });
  mkdirSync(dir, { recursive: true });
  const spec = opts.projection ?? DEFAULT_PROJECTION;
  const examples = rows.map((r) => r.example);
  const tokens = new Array<number>(rows.length).fill(0);
  let projector: Projector | null = null;
  const entries: FeatureHeader['checkpoints'] = [];
  let layout: LayoutModule[] = [];
  const run = gradientRun(model, checkpoints[0].factors, kernels, null, { maxTokens: opts.maxTokens });
  try {
  for (const c of checkpoints) {
    if (opts.signal?.aborted) throw new OpenLedgerError('feature writing was cancelled', { code: 'cancelled' });
    run.load(c.factors);
    {
      layout = run.layout;
      projector ??= new Projector(layout, spec);
      const p = projector;
      const phi = new Float32Array(rows.length * p.k);
      const gFlat = new Float32Array(p.D);
      let lossSum = 0;
      run.each(examples, (i, g, loss) => {
        // gradientRun flattens in layout order; the projector wants layer-major: same order (layout is layer-major).
        gFlat.set(g);
        p.project(gFlat, phi.subarray(i * p.k, (i + 1) * p.k));
        lossSum += loss;
      });
      for (let i = 0; i < examples.length; i++) {
        const m = examples[i].lossMask;
        let t = 0;
        if (m) for (let j = 1; j < m.length; j++) t += m[j] ? 1 : 0; else t = examples[i].tokens.length - 1;
        tokens[i] = t;
      }
      const fBuf = encodeFactors(c.factors);
      const pBuf = Buffer.from(phi.buffer, phi.byteOffset, phi.byteLength);
      const factorsName = `factors-${c.step}.bin`, phiName = `phi-${c.step}.f32`;
      atomicWrite(join(dir, factorsName), fBuf);
      atomicWrite(join(dir, phiName), pBuf);
      entries.push({ step: c.step, eta: c.eta, factors: factorsName, phi: phiName, sha256: sha(Buffer.concat([fBuf, pBuf])), meanLoss: lossSum / examples.length });
    }
  }
  } finally {
    run.free();
  }
  const header: FeatureHeader = {
    format: FEATURES_FORMAT, projection: spec, layout, rows: rows.map((r, i) => ({ ord: r.ord, tokens: tokens[i] })), checkpoints: entries, createdAt: Math.floor(Date.now() / 1000),
  };
  atomicWrite(join(dir, 'features.json'), JSON.stringify(header));
  return header;
}

export function featuresExist(dir: string): boolean {
  return existsSync(join(dir, 'features.json'));
}

/** Read and check a feature directory; errors are `features_missing` / `features_corrupt` naming the file. */
export function loadFeatures(dir: string): LoadedFeatures {
  const hp = join(dir, 'features.json');
  if (!existsSync(hp)) throw new OpenLedgerError('this model has no gradient features', { type: 'not_found_error', code: 'features_missing', hint: 'only adapters trained by this node\'s Model Factory have them; span attribution still works' });
  const corrupt = (file: string, why: string) => new OpenLedgerError(`gradient feature file ${file} is damaged: ${why}`, { type: 'internal_error', code: 'features_corrupt', hint: 'retrain the model to rewrite its features; span attribution still works' });
  let header: FeatureHeader;
  try {
    header = JSON.parse(readFileSync(hp, 'utf8')) as FeatureHeader;
  } catch (e) {
    throw corrupt('features.json', (e as Error).message);
  }
  if (header.format !== FEATURES_FORMAT || !Array.isArray(header.checkpoints) || !Array.isArray(header.rows) || !Array.isArray(header.layout)) throw corrupt('features.json', 'unknown format');
  const projector = new Projector(header.layout, header.projection);
  const n = header.rows.length;
  const factors: Array<Record<string, LoraFactors>> = [];
  const checkpoints = header.checkpoints.map((c) => {
    const safe = (f: string) => { if (!/^[\w.-]+$/.test(f)) throw corrupt('features.json', `bad file name ${f}`); return join(dir, f); };
    let fBuf: Buffer, pBuf: Buffer;
    try {
      fBuf = readFileSync(safe(c.factors));
      pBuf = readFileSync(safe(c.phi));
    } catch (e) {
      if ((e as OpenLedgerError).code === 'features_corrupt') throw e;
      throw corrupt(`${c.factors} / ${c.phi}`, (e as Error).message);
    }
    if (sha(Buffer.concat([fBuf, pBuf])) !== c.sha256) throw corrupt(c.phi, 'checksum mismatch');
    if (pBuf.length !== n * projector.k * 4) throw corrupt(c.phi, `expected ${n * projector.k * 4} bytes, found ${pBuf.length}`);
    try {
      factors.push(decodeFactors(fBuf));
    } catch (e) {
      throw corrupt(c.factors, (e as Error).message);
    }
    const phi = new Float32Array(n * projector.k);
    new Uint8Array(phi.buffer).set(pBuf);
    return { step: c.step, eta: c.eta, phi };
  });
  const set: FeatureSet = {
    n, k: projector.k, checkpoints,
    blocks: projector.blockDims.map((d, i) => ({ offset: projector.blockOffset[i], dims: d, fullDims: projector.fullDims[i] })),
  };
  return { dir, header, projector, set, factors };
}

/** ψ_c for an answer: its projected gradient at each checkpoint of the features. */
export function queryFeatures(model: LoadedModel, kernels: Kernels, f: LoadedFeatures, example: TrainExample): { psi: Float32Array[]; loss: number[] } {
  const psi: Float32Array[] = [], loss: number[] = [];
  // One trainer per feature set, kept while the set is (its transposed base weights cost more than a query).
  let run = runs.get(f);
  if (!run || run.kernels !== kernels || run.maxTokens < example.tokens.length) {
    run?.run.free();
    const maxTokens = Math.max(example.tokens.length, Math.min(512, model.config.contextLength));
    run = { run: gradientRun(model, f.factors[0], kernels, null, { maxTokens }), kernels, maxTokens };
    runs.set(f, run);
  }
  for (const factors of f.factors) {
    run.run.load(factors);
    run.run.each([example], (_, g, l) => { psi.push(f.projector.project(g)); loss.push(l); });
  }
  return { psi, loss };
}

const runs = new WeakMap<LoadedFeatures, { run: ReturnType<typeof gradientRun>; kernels: Kernels; maxTokens: number }>();

/** Free the trainer `queryFeatures` keeps for a feature set (call when dropping the set). */
export function releaseFeatures(f: LoadedFeatures): void {
  runs.get(f)?.run.free();
  runs.delete(f);
}
