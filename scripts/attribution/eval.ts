/**
 * `npm run eval:attribution [-- --json] [-- --quick]`: how right is Proof of Attribution?
 *
 * Builds a synthetic datanet (data.ts: ~26 contributors in the starter model's Q&A domain), fine-
 * tunes tiny LoRA adapters on the starter with the engine's trainer and the factory's attribution
 * hook (train-hook.ts: the same feature files a job writes), then measures, each beside baselines
 * (random, BM25 over the rows, span matching, and the gradient methods against each other):
 *
 *   (a) canaries      top-1 accuracy, MRR and payout share of the planting contributor
 *   (b) LDS           contributor-level linear datamodeling score over retrains on random halves of
 *                     the contributors, with the seed-noise ceiling (each half retrained twice)
 *   (c) sybil         payout after / before when the canary owner splits their rows over a second
 *                     address (same data) or re-uploads near-copies under one (retrained)
 *   (d) poison        ROC AUC of rows planted to contradict background facts
 *
 * Not part of `npm test` (it trains ~2·M + 3 adapters); runs in minutes on 2 cores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/engine/index.ts';
import { selectKernels } from '../../src/engine/kernels/select.ts';
import { evaluate, planGroups, train, type LoraTrainConfig, type TrainHyperparameters } from '../../src/engine/train/index.ts';
import type { LoraFactors } from '../../src/engine/lora/memory.ts';
import { buildDataset, sha256Hex, type SourceRow } from '../../src/factory/dataset.ts';
import { STARTER_DIR } from '../../src/models/starter.ts';
import { rowText } from '../../src/datanets/formats.ts';
import { FeatureRecorder, DEFAULT_FEATURE_CHECKPOINTS } from '../../src/attribution/train-hook.ts';
import { loadFeatures, queryFeatures, DEFAULT_PROJECTION, type LoadedFeatures } from '../../src/attribution/features.ts';
import { METHODS, prepareTrak, score, type Method, type TrakState } from '../../src/attribution/scorers.ts';
import { contributorWeights, mixSignals, PPM } from '../../src/attribution/weights.ts';
import { SpanIndex } from '../../src/attribution/span-index.ts';
import { findSpans, spanRowScores } from '../../src/attribution/spans.ts';
import { rocAuc, spearman } from '../../src/attribution/stats.ts';
import { DEFAULT_WEIGHTING } from '../../src/attribution/config.ts';
import { Bm25 } from './bm25.ts';
import { addr, makeData, type EvalQuery, type EvalRow } from './data.ts';

const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
const QUICK = argv.includes('--quick');
const log = (...a: unknown[]) => { if (!JSON_OUT) console.log(...a); else console.error(...a); };

const CFG = {
  seed: 12,
  contributors: QUICK ? 10 : 16,
  backgroundPerContributor: 4,
  canariesPerRepeat: QUICK ? 2 : 3,
  repeats: [1, 2, 4, 8],
  poisonRows: QUICK ? 6 : 8,
  ldsSubsets: QUICK ? 4 : 6,
  lora: { targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'], rank: 8, alpha: 16 } as LoraTrainConfig,
  hp: { epochs: 6, batchSize: 8, lr: 4e-3, schedule: 'cosine', warmupSteps: 4, maxGradNorm: 1, seed: 1 } as TrainHyperparameters,
};

const t0 = performance.now();
const model = await loadModel(STARTER_DIR);
const kernels = selectKernels(model.heap);
const tok = model.tokenizer;
const data = makeData({ seed: CFG.seed, contributors: CFG.contributors, backgroundPerContributor: CFG.backgroundPerContributor, canariesPerRepeat: CFG.canariesPerRepeat, repeats: CFG.repeats, poisonRows: CFG.poisonRows });
log(`data: ${data.rows.length} rows, ${data.contributors.length} contributors, ${data.queries.length} queries (${data.queries.filter((q) => q.kind === 'canary').length} canaries)`);

const datasetOf = (rows: readonly EvalRow[]) => {
  const src: SourceRow[] = rows.map((r) => ({ datanetId: 1, version: 1, fileId: null, rowId: r.rowId, hash: sha256Hex(`${r.rowId}:${r.instruction}:${r.output}`), contributor: r.contributor, data: { instruction: r.instruction, output: r.output } }));
  return buildDataset('alpaca', src, { tokenizer: tok, contextLength: model.config.contextLength, evalFraction: 0 });
};
const exampleOf = (q: EvalQuery) => datasetOf([{ rowId: 0, contributor: addr(0), instruction: q.prompt, output: q.answer, kind: 'background', fact: null, minhash: new Uint32Array(0) }]).rows[0].example;
const queryExamples = data.queries.map(exampleOf);

interface Trained { factors: Record<string, LoraFactors>; features: LoadedFeatures | null; ms: number; rows: EvalRow[] }

async function trainOn(rows: EvalRow[], seed: number, withFeatures: boolean): Promise<Trained> {
  const ts = performance.now();
  const ds = datasetOf(rows);
  const examples = ds.train.map((r) => r.example);
  const hp = { ...CFG.hp, seed, maxBatchTokens: 512 };
  const T = Math.ceil(planGroups(examples, { epochs: hp.epochs!, batchSize: hp.batchSize!, maxBatchTokens: 512, seed }).length);
  const every = Math.max(1, Math.ceil(T / DEFAULT_FEATURE_CHECKPOINTS));
  const dir = mkdtempSync(join(tmpdir(), 'attr-eval-'));
  try {
    const rec = withFeatures ? new FeatureRecorder({ dir: join(dir, 'attribution'), checkpointPath: join(dir, 'ckpt', 'checkpoint.bin'), checkpointEvery: every, lora: CFG.lora, hyperparameters: hp }) : null;
    const res = await train(model, examples, { lora: CFG.lora, hyperparameters: hp, kernels, checkpoint: rec ? { dir: join(dir, 'ckpt'), every } : undefined, onStep: (m) => rec?.onStep(m) });
    let features: LoadedFeatures | null = null;
    try {
      if (rec) {
        rec.finish(model, kernels, ds.train.map((r, i) => ({ ord: i, example: r.example })), res.totalSteps);
        features = loadFeatures(join(dir, 'attribution'));
      }
      return { factors: res.factors, features, ms: performance.now() - ts, rows };
    } finally {
      res.free();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** −mean token loss of each query's answer under an adapter (the model output f the LDS predicts). */
async function queryLogLik(factors: Record<string, LoraFactors>): Promise<number[]> {
  const r = await evaluate(model, queryExamples, { factors, kernels });
  return r.examples.map((e) => -e.loss);
}

type Scorer = Method | 'combined' | 'span' | 'bm25' | 'random';
const SCORERS: Scorer[] = [...METHODS, 'combined', 'span', 'bm25', 'random'];

/** Per query, per scorer: signed score per row (rows in `t.rows` order). */
function rowScores(t: Trained, queries: readonly EvalQuery[], qIdx: readonly number[]): Map<Scorer, number[][]> {
  const out = new Map<Scorer, number[][]>(SCORERS.map((s) => [s, []]));
  const f = t.features!;
  let trak: TrakState | null = null;
  const trakState = () => (trak ??= prepareTrak(f.set));
  const bm = new Bm25(t.rows.map((r) => rowText('alpaca', { instruction: r.instruction, output: r.output })));
  const dir = mkdtempSync(join(tmpdir(), 'attr-eval-sa-'));
  const ix = SpanIndex.build(join(dir, 'ix'), 'eval', t.rows.map((r) => ({ rowId: r.rowId, contributor: r.contributor, tokens: tok.encode(rowText('alpaca', { instruction: r.instruction, output: r.output }), { addSpecial: false }) })), { vocab: model.config.vocabSize });
  const byRowId = new Map(t.rows.map((r, i) => [r.rowId, i]));
  let seed = 99;
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  queries.forEach((q, j) => {
    const { psi } = queryFeatures(model, kernels, f, queryExamples[qIdx[j]]);
    const grads = new Map<Method, number[]>();
    for (const m of METHODS) {
      const s = Array.from(score(m, f.set, psi, trakState));
      grads.set(m, s);
      out.get(m)!.push(s);
    }
    const spans = findSpans(ix, tok.encode(q.answer, { addSpecial: false }));
    const sp = new Array<number>(t.rows.length).fill(0);
    for (const [rowId, v] of spanRowScores(spans)) sp[byRowId.get(rowId)!] = v.score;
    out.get('span')!.push(sp);
    const g = grads.get(DEFAULT_WEIGHTING.method)!;
    // What the node pays by (attribute.ts): the default gradient method and spans, mixed.
    const mixed = mixSignals([
      { weight: DEFAULT_WEIGHTING.gradientShare, scores: new Map(g.map((v, i) => [i, v])) },
      { weight: 1 - DEFAULT_WEIGHTING.gradientShare, scores: new Map(sp.map((v, i) => [i, v])) },
    ]);
    out.get('combined')!.push(g.map((_, i) => mixed.get(i) ?? 0));
    out.get('bm25')!.push(bm.scores(`${q.prompt} ${q.answer}`));
    out.get('random')!.push(t.rows.map(() => rand() - 0.5));
  });
  ix.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

const weightsOf = (rows: readonly EvalRow[], s: readonly number[]) =>
  contributorWeights(rows.map((r, i) => ({ rowId: r.rowId, contributor: r.contributor, score: s[i], minhash: r.minhash })), { capPpm: DEFAULT_WEIGHTING.capPpm }).weights;

function rankOf(weights: ReturnType<typeof weightsOf>, who: string, all: readonly string[]): number {
  const w = new Map(weights.map((x) => [x.address, x.weightPpm]));
  const mine = w.get(who) ?? 0;
  let greater = 0, ties = 0;
  for (const c of all) { if (c === who) continue; const v = w.get(c) ?? 0; if (v > mine) greater++; else if (v === mine) ties++; }
  return 1 + greater + ties / 2;
}

// ---- full run --------------------------------------------------------------------------------
const full = await trainOn(data.rows, 1, true);
log(`full run: ${data.rows.length} rows trained in ${(full.ms / 1000).toFixed(1)} s (features at ${full.features!.set.checkpoints.length} checkpoints, ${full.features!.set.k} dims)`);
const allIdx = data.queries.map((_, i) => i);
const tq = performance.now();
const scores = rowScores(full, data.queries, allIdx);
const perQueryMs = (performance.now() - tq) / data.queries.length;
log(`attribution: ${perQueryMs.toFixed(0)} ms per query (all scorers, span index included)`);

// (a) canaries
const canaryIdx = data.queries.map((q, i) => (q.kind === 'canary' ? i : -1)).filter((i) => i >= 0);
const canary: Record<string, { top1_by_repeat: Record<string, number>; top1_repeat2plus: number; mrr: number; payout_share: number }> = {};
for (const s of SCORERS) {
  const byRep: Record<string, number[]> = {};
  let rr = 0, share = 0, hits2 = 0, n2 = 0;
  for (const i of canaryIdx) {
    const q = data.queries[i];
    const w = weightsOf(full.rows, scores.get(s)![i]);
    const rank = rankOf(w, q.owner, data.contributors);
    const top1 = rank === 1 ? 1 : 0;
    (byRep[q.repeats] ??= []).push(top1);
    rr += 1 / rank;
    share += (w.find((x) => x.address === q.owner)?.weightPpm ?? 0) / PPM;
    if (q.repeats >= 2) { n2++; hits2 += top1; }
  }
  canary[s] = {
    top1_by_repeat: Object.fromEntries(Object.entries(byRep).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0) / v.length])),
    top1_repeat2plus: hits2 / n2, mrr: rr / canaryIdx.length, payout_share: share / canaryIdx.length,
  };
}
log('\n(a) canaries: top-1 accuracy (by repeats), MRR, payout share of the planting contributor');
for (const s of SCORERS) log(`  ${s.padEnd(9)} top1 ≥2×: ${canary[s].top1_repeat2plus.toFixed(3)}  by repeat ${JSON.stringify(canary[s].top1_by_repeat)}  MRR ${canary[s].mrr.toFixed(3)}  share ${canary[s].payout_share.toFixed(3)}`);

// (d) poison: rows contradicting background facts. A poison row hurts one answer (its place's) and looks
// like any other row of its template elsewhere, so a row's score is its most negative standardised
// influence over the background queries: −min_q τ_i(q)/rms(τ(q)) (what the flagging rule looks at too).
const bgIdx = data.queries.map((q, i) => (q.kind === 'background' ? i : -1)).filter((i) => i >= 0);
const isPoison = full.rows.map((r) => r.kind === 'poison');
const poison: Record<string, number> = {};
for (const s of SCORERS) {
  const worst = new Array<number>(full.rows.length).fill(Infinity);
  for (const i of bgIdx) {
    const v = scores.get(s)![i];
    const sd = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length) || 1;
    v.forEach((x, r) => (worst[r] = Math.min(worst[r], x / sd)));
  }
  poison[s] = rocAuc(worst.map((x) => -x), isPoison);
}
{
  const ev = await evaluate(model, datasetOf(full.rows).train.map((r) => r.example), { factors: full.factors, kernels });
  poison.self_loss = rocAuc(ev.examples.map((e) => e.loss), isPoison);
}
log('\n(d) poison ROC AUC:', Object.entries(poison).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', '));

// (c) sybil: the owner of a 4× canary splits their rows over a second address, or re-uploads near-copies under one
const victimQ = data.queries.find((q) => q.kind === 'canary' && q.repeats === 4)!;
const attacker = victimQ.owner;
const payout = (rows: readonly EvalRow[], sc: number[][], who: readonly string[]) => sc.reduce((a, s) => a + weightsOf(rows, s).filter((w) => who.includes(w.address)).reduce((x, w) => x + w.weightPpm, 0), 0);
const sybil: Record<string, { split: number; duplicate: number }> = {};
let k = 0;
const splitRows = full.rows.map((r) => (r.contributor === attacker && k++ % 2 === 1 ? { ...r, contributor: addr(990) } : r));
const dupRows = [...data.rows, ...data.rows.filter((r) => r.contributor === attacker).map((r, i) => ({ ...r, rowId: 10_000 + i, contributor: addr(991), kind: 'duplicate' as const, output: r.output.replace(/\.$/, '!'), minhash: r.minhash }))];
const dup = await trainOn(dupRows, 1, true);
const dupScores = rowScores(dup, data.queries, allIdx);
for (const s of SCORERS) {
  const before = payout(full.rows, scores.get(s)!, [attacker]);
  sybil[s] = {
    split: before > 0 ? payout(splitRows, scores.get(s)!, [attacker, addr(990)]) / before : 1,
    duplicate: before > 0 ? payout(dupRows, dupScores.get(s)!, [attacker, addr(991)]) / before : 1,
  };
}
log('\n(c) sybil payout gain (after / before; split, duplicate):', Object.entries(sybil).map(([k2, v]) => `${k2} ${v.split.toFixed(3)}/${v.duplicate.toFixed(3)}`).join(', '));
log(`partial: ${JSON.stringify({ canary, poison, sybil })}`);

// (b) LDS over random halves of the contributors, each retrained with two seeds
const rngL = (() => { let s = 777; return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; }; })();
const subsets: string[][] = [];
for (let m = 0; m < CFG.ldsSubsets; m++) {
  const c = [...data.contributors];
  for (let i = c.length - 1; i > 0; i--) { const j = Math.floor(rngL() * (i + 1)); [c[i], c[j]] = [c[j], c[i]]; }
  subsets.push(c.slice(0, Math.floor(c.length / 2)));
}
const fA: number[][] = [], fB: number[][] = [];
for (const [m, S] of subsets.entries()) {
  const set = new Set(S), rows = data.rows.filter((r) => set.has(r.contributor));
  const a = await trainOn(rows, 1, false), b = await trainOn(rows, 2, false);
  fA.push(await queryLogLik(a.factors));
  fB.push(await queryLogLik(b.factors));
  log(`  LDS subset ${m + 1}/${subsets.length}: ${rows.length} rows, ${((a.ms + b.ms) / 1000).toFixed(1)} s`);
}
const lds: Record<string, number> = {};
const perQ = (f: (q: number) => number) => { const v = allIdx.map(f).filter((x) => Number.isFinite(x)); return v.reduce((a, b) => a + b, 0) / v.length; };
const ceiling = perQ((q) => spearman(subsets.map((_, m) => fA[m][q]), subsets.map((_, m) => fB[m][q])));
for (const s of SCORERS) {
  lds[s] = perQ((q) => {
    const tau = new Map<string, number>();
    scores.get(s)![q].forEach((v, r) => tau.set(full.rows[r].contributor, (tau.get(full.rows[r].contributor) ?? 0) + v));
    const pred = subsets.map((S) => S.reduce((a, c) => a + (tau.get(c) ?? 0), 0));
    const actual = subsets.map((_, m) => (fA[m][q] + fB[m][q]) / 2);
    return spearman(pred, actual);
  });
}
log(`\n(b) LDS (contributor level, ${subsets.length} halves × 2 seeds): noise ceiling ${ceiling.toFixed(3)};`, Object.entries(lds).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', '));

const D = DEFAULT_WEIGHTING.method;
const result = {
  default_method: D,
  canary_top1_repeat2plus: canary.combined.top1_repeat2plus,
  canary_mrr: canary.combined.mrr,
  canary_payout_share: canary.combined.payout_share,
  sybil_payout_gain: Math.max(sybil.combined.split, sybil.combined.duplicate),
  lds: lds.combined,
  lds_noise_ceiling: ceiling,
  lds_fraction_of_ceiling: lds.combined / ceiling,
  poison_auc: poison.combined,
  baselines: { canary, lds, sybil, poison },
  goals: {
    canary_top1_repeat2plus_ge_0_90: canary.combined.top1_repeat2plus >= 0.9,
    // ≤ 1 up to the integer-ppm rounding: each extra address can take at most 1 ppm more per inference.
    sybil_payout_gain_le_1: Math.max(sybil.combined.split, sybil.combined.duplicate) <= 1 + data.queries.length / payout(full.rows, scores.get('combined')!, [attacker]),
    lds_ge_half_ceiling: lds.combined >= 0.5 * ceiling,
  },
  setup: {
    rows: data.rows.length, contributors: data.contributors.length, queries: data.queries.length, canaries: canaryIdx.length, lds_subsets: subsets.length,
    lora: CFG.lora, hyperparameters: CFG.hp, projection: DEFAULT_PROJECTION, feature_checkpoints: full.features!.set.checkpoints.length,
    weighting: DEFAULT_WEIGHTING, train_s_full: full.ms / 1000, attribution_ms_per_query_all_scorers: perQueryMs, total_s: (performance.now() - t0) / 1000,
  },
};
if (JSON_OUT) console.log(JSON.stringify(result, null, 2));
else {
  log(`\nreported (method "combined" = ${D} ${DEFAULT_WEIGHTING.gradientShare} + span ${1 - DEFAULT_WEIGHTING.gradientShare}):`);
  log(`  canary_top1_repeat2plus ${result.canary_top1_repeat2plus.toFixed(3)} (goal ≥ 0.90)  canary_mrr ${result.canary_mrr.toFixed(3)}  sybil_payout_gain ${result.sybil_payout_gain.toFixed(3)} (goal ≤ 1.0)`);
  log(`  lds ${result.lds.toFixed(3)} / ceiling ${ceiling.toFixed(3)} = ${result.lds_fraction_of_ceiling.toFixed(2)} (goal ≥ 0.5)  poison_auc ${result.poison_auc.toFixed(3)}  total ${result.setup.total_s.toFixed(0)} s`);
}
kernels.close();
