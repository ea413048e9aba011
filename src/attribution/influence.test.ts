// Gradient influence: the projected scorers against the slow exact spec (identity projection: equal
// to 1e-6; the seeded random projection: same ranking), the feature files (round trip, damage
// detected), and the sign convention (a row identical to the answer is its top proponent).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceKernels } from '../engine/kernels/reference.ts';
import { tinyConfig, tinyModel } from '../engine/model/fixture.ts';
import { TrainableLora } from '../engine/train/index.ts';
import type { TrainExample } from '../engine/train/index.ts';
import { OpenLedgerError } from '../util/errors.ts';
import { gradientRun } from './gradients.ts';
import { Projector } from './projection.ts';
import { datainf, prepareTrak, tracin, trak, type FeatureSet, type Method } from './scorers.ts';
import { exactInfluence, type ExactCheckpoint } from './exact.ts';
import { loadFeatures, queryFeatures, writeFeatures } from './features.ts';
import { spearman } from './stats.ts';

const PAIRS = Array.from({ length: 10 }, (_, i) => ({ key: 65 + i, v: [97 + ((i * 7) % 26), 48 + ((i * 3) % 10)] }));
const ex = (key: number, v: number[]): TrainExample => {
  const tokens = [107, key, 61, ...v, 256];
  return { tokens, lossMask: tokens.map((_, i) => (i >= 3 ? 1 : 0)) };
};
const ROWS = PAIRS.map(({ key, v }) => ex(key, v));
const QUERY = ex(PAIRS[3].key, PAIRS[3].v);

function setup() {
  const model = tinyModel(tinyConfig('llama'), { seed: 5 });
  const ckpts = [1, 2].map((s) => {
    const lora = new TrainableLora(model, { targets: ['q', 'v', 'down'], rank: 2 }, { seed: s });
    for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = Math.sin(i * s + p.N) * 0.1;
    const f = lora.toFactors();
    lora.free();
    return { step: s * 10, eta: 0.01 / s, factors: f };
  });
  return { model, ckpts };
}

function fullGradients(model: ReturnType<typeof setup>['model'], factors: ReturnType<typeof setup>['ckpts'][0]['factors'], examples: TrainExample[]) {
  const run = gradientRun(model, factors, referenceKernels, null);
  const out: Float32Array[] = [];
  run.each(examples, (i, g) => { out[i] = Float32Array.from(g); });
  const layout = run.layout;
  run.free();
  return { out, layout };
}

test('projected scorers equal the exact influence under the identity projection, and keep its ranking under the random one', () => {
  const { model, ckpts } = setup();
  const exact: ExactCheckpoint[] = [];
  let layout = null as unknown as ReturnType<typeof fullGradients>['layout'];
  for (const c of ckpts) {
    const r = fullGradients(model, c.factors, ROWS);
    const q = fullGradients(model, c.factors, [QUERY]);
    layout = r.layout;
    exact.push({ eta: c.eta, rows: r.out, test: q.out[0] });
  }
  const idP = new Projector(layout, { seed: 0, dims: 0, identity: true });
  const ranges = idP.blockDims.map((d, i) => [idP.blockOffset[i], idP.blockOffset[i] + d] as [number, number]);
  const setFor = (p: Projector): { fs: FeatureSet; psi: Float32Array[] } => ({
    fs: {
      n: ROWS.length, k: p.k, blocks: p.blockDims.map((d, i) => ({ offset: p.blockOffset[i], dims: d, fullDims: p.fullDims[i] })),
      checkpoints: exact.map((c, ci) => {
        const phi = new Float32Array(ROWS.length * p.k);
        c.rows.forEach((g, i) => p.project(g, phi.subarray(i * p.k, (i + 1) * p.k)));
        return { step: ckpts[ci].step, eta: c.eta, phi };
      }),
    },
    psi: exact.map((c) => p.project(c.test)),
  });
  const run = (m: Method, s: ReturnType<typeof setFor>) => (m === 'tracin' ? tracin(s.fs, s.psi) : m === 'trak' ? trak(s.fs, s.psi, prepareTrak(s.fs)) : datainf(s.fs, s.psi));
  const id = setFor(idP);
  const rnd = setFor(new Projector(layout, { seed: 7, dims: 1024, nnz: 4 }));
  for (const m of ['tracin', 'trak', 'datainf'] as const) {
    const spec = exactInfluence(m, exact, ranges);
    const fast = run(m, id);
    const scale = Math.max(...spec.map(Math.abs));
    for (let i = 0; i < spec.length; i++) assert.ok(Math.abs(spec[i] - fast[i]) <= 1e-5 * scale, `${m} row ${i}: exact ${spec[i]} vs identity-projected ${fast[i]}`);
    const proj = run(m, rnd);
    const rho = spearman(Array.from(spec), Array.from(proj));
    assert.ok(rho > 0.9, `${m}: Spearman(exact, projected 1024) = ${rho}`);
    // Sign convention: the row the answer repeats verbatim is its top proponent.
    const top = spec.indexOf(Math.max(...spec));
    assert.equal(top, 3, `${m}: top row ${top}`);
  }
});

test('feature files: written beside the checkpoints, read back exactly, damage is an error naming the file', () => {
  const { model, ckpts } = setup();
  const dir = mkdtempSync(join(tmpdir(), 'attr-feat-'));
  try {
    const header = writeFeatures(dir, model, referenceKernels, ROWS.map((e, i) => ({ ord: i * 2, example: e })), ckpts, { projection: { seed: 3, dims: 256, nnz: 2 } });
    assert.equal(header.rows.length, ROWS.length);
    assert.equal(header.rows[4].ord, 8);
    const f = loadFeatures(dir);
    assert.equal(f.set.n, ROWS.length);
    assert.equal(f.set.checkpoints.length, 2);
    // The stored features equal a fresh projection of a fresh gradient.
    const { out } = fullGradients(model, ckpts[1].factors, [ROWS[6]]);
    const fresh = f.projector.project(out[0]);
    const stored = f.set.checkpoints[1].phi.subarray(6 * f.set.k, 7 * f.set.k);
    for (let j = 0; j < fresh.length; j++) assert.ok(Math.abs(fresh[j] - stored[j]) < 1e-6);
    const q = queryFeatures(model, referenceKernels, f, QUERY);
    assert.equal(q.psi.length, 2);
    const s = tracin(f.set, q.psi);
    assert.equal(s.indexOf(Math.max(...s)), 3);
    // Flip one byte of a feature file: the checksum names it.
    const p = join(dir, header.checkpoints[0].phi);
    const b = readFileSync(p);
    b[10] ^= 0xff;
    writeFileSync(p, b);
    assert.throws(() => loadFeatures(dir), (e: unknown) => e instanceof OpenLedgerError && e.code === 'features_corrupt' && e.message.includes(header.checkpoints[0].phi) && !!e.hint);
    rmSync(join(dir, 'features.json'));
    assert.throws(() => loadFeatures(dir), (e: unknown) => e instanceof OpenLedgerError && e.code === 'features_missing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('projection: seeded and deterministic, inner products unbiased', () => {
  const layout = [{ name: 'a', layer: 0, sizeA: 300, sizeB: 200 }, { name: 'b', layer: 1, sizeA: 100, sizeB: 400 }];
  const p1 = new Projector(layout, { seed: 11, dims: 128 }), p2 = new Projector(layout, { seed: 11, dims: 128 }), p3 = new Projector(layout, { seed: 12, dims: 128 });
  const g = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 0.37));
  assert.deepEqual(p1.project(g), p2.project(g));
  assert.notDeepEqual(p1.project(g), p3.project(g));
  // ‖Pg‖² ≈ ‖g‖² on average over seeds.
  const n2 = g.reduce((s, v) => s + v * v, 0);
  let mean = 0;
  for (let s = 0; s < 40; s++) { const y = new Projector(layout, { seed: s, dims: 128 }).project(g); mean += y.reduce((a, v) => a + v * v, 0) / 40; }
  assert.ok(Math.abs(mean / n2 - 1) < 0.05, `E‖Pg‖²/‖g‖² = ${mean / n2}`);
  assert.throws(() => new Projector(layout, { seed: 1, dims: 4 }), (e: unknown) => e instanceof OpenLedgerError && e.code === 'invalid_features');
});
