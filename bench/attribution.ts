/**
 * Attribution performance (a benchmark, not a timed test): `npm run bench:attribution [-- --json]`
 * (≈15 min on 2 cores; `--span-tokens N` to size the span index, default 100M; `--skip-grad` for the span
 * index and serving parts only).
 *
 *   grad_attr_ms_p50_10k        one inference's gradient attribution over 10k rows of the starter's
 *                               adapter: the answer's gradient at each feature checkpoint, projection,
 *                               scoring with the default method (its one-time factorisation reported
 *                               apart), contributor weights. The 10k rows' features are the real
 *                               projected gradients of 250 rows, tiled (scoring cost does not depend on
 *                               the values).
 *   feature_bytes_per_row       what one row costs on disk (checkpoints × dims × 4 bytes)
 *   span_build_tokens_per_s     suffix-array build (sharded files, checksums) over generated text
 *   span_lookup_ms_p50_100m     OLMoTrace spans of one 64-token answer over that index (files read lazily)
 *   serving_throughput_ratio_attr_on   completions/s through the node's API (a fine-tuned model on a real
 *                               node) with the attribution hook + worker thread on, over off
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/engine/index.ts';
import { selectKernels } from '../src/engine/kernels/select.ts';
import { TrainableLora } from '../src/engine/train/index.ts';
import { STARTER_DIR } from '../src/models/starter.ts';
import { buildDataset } from '../src/factory/dataset.ts';
import { writeFeatures, loadFeatures, queryFeatures } from '../src/attribution/features.ts';
import { prepareTrak, score } from '../src/attribution/scorers.ts';
import { contributorWeights } from '../src/attribution/weights.ts';
import { DEFAULT_WEIGHTING } from '../src/attribution/config.ts';
import { SpanIndex } from '../src/attribution/span-index.ts';
import { findSpans } from '../src/attribution/spans.ts';

const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
const SERVING_ONLY = argv.includes('--serving-only');
const SKIP_GRAD = argv.includes('--skip-grad') || SERVING_ONLY; // rerun only the span index and the serving ratio
const SPAN_TOKENS = Number(argv[argv.indexOf('--span-tokens') + 1]) > 0 && argv.includes('--span-tokens') ? Number(argv[argv.indexOf('--span-tokens') + 1]) : 100_000_000;
const log = (...a: unknown[]) => (JSON_OUT ? console.error(...a) : console.log(...a));
const p50 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const dir = mkdtempSync(join(tmpdir(), 'attr-bench-'));
const out: Record<string, unknown> = { load_avg_1m_start: +loadavg()[0].toFixed(2), method: DEFAULT_WEIGHTING.method };

try {
  // ---- gradient attribution over 10k rows -----------------------------------------------------
  if (!SKIP_GRAD) {
  const model = await loadModel(STARTER_DIR);
  const kernels = selectKernels(model.heap);
  const tok = model.tokenizer;
  const row = (i: number) => ({ instruction: `What is fact number ${i} about the town of Lorvel?`, output: `Fact ${i}: the town of Lorvel has ${i % 97} bridges and ${i % 13} mills.` });
  const ds = buildDataset('alpaca', Array.from({ length: 250 }, (_, i) => ({ datanetId: 1, version: 1, fileId: null, rowId: i + 1, hash: `0x${i}`, contributor: `0x${(i % 25).toString(16).padStart(40, '0')}`, data: row(i) })), { tokenizer: tok, contextLength: model.config.contextLength, evalFraction: 0 });
  const ckpts = [1, 2, 3].map((c) => {
    const lora = new TrainableLora(model, { targets: 'all-linear', rank: 8 }, { seed: c });
    for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = Math.sin(i * 0.7 + c) * 0.01;
    const f = lora.toFactors();
    lora.free();
    return { step: c * 10, eta: 1e-3, factors: f };
  });
  let t = performance.now();
  writeFeatures(join(dir, 'feat'), model, kernels, ds.train.map((r, i) => ({ ord: i, example: r.example })), ckpts);
  const featMsPerRow = (performance.now() - t) / ds.train.length;
  const f = loadFeatures(join(dir, 'feat'));
  const N = 10_000, k = f.set.k;
  for (const c of f.set.checkpoints) {
    const big = new Float32Array(N * k);
    for (let i = 0; i < N; i++) big.set(c.phi.subarray((i % f.set.n) * k, ((i % f.set.n) + 1) * k), i * k);
    c.phi = big;
  }
  f.set.n = N;
  out.feature_bytes_per_row = f.set.checkpoints.length * k * 4;
  out.feature_dims = k;
  out.feature_checkpoints = f.set.checkpoints.length;
  out.feature_write_ms_per_row = +featMsPerRow.toFixed(2);
  t = performance.now();
  const trak = DEFAULT_WEIGHTING.method === 'trak' ? prepareTrak(f.set) : null;
  out.trak_prepare_ms_10k_once = trak ? Math.round(performance.now() - t) : null;
  const contributors = Array.from({ length: N }, (_, i) => `0x${(i % 25).toString(16).padStart(40, '0')}`);
  const times: number[] = [], gradTimes: number[] = [];
  for (let q = 0; q < 9; q++) {
    const ex = buildDataset('alpaca', [{ datanetId: null, version: null, fileId: 'q', rowId: 0, hash: '0x', contributor: null, data: row(q * 31) }], { tokenizer: tok, contextLength: model.config.contextLength, evalFraction: 0 }).rows[0].example;
    const t0 = performance.now();
    const { psi } = queryFeatures(model, kernels, f, ex);
    gradTimes.push(performance.now() - t0);
    const s = score(DEFAULT_WEIGHTING.method, f.set, psi, () => trak ?? prepareTrak(f.set));
    contributorWeights(Array.from(s, (v, i) => ({ rowId: i + 1, contributor: contributors[i], score: v })));
    times.push(performance.now() - t0);
  }
  out.grad_attr_ms_p50_10k = Math.round(p50(times));
  out.answer_gradient_ms_p50 = Math.round(p50(gradTimes));
  log(`gradient attribution over ${N} rows (${DEFAULT_WEIGHTING.method}, ${f.set.checkpoints.length} checkpoints × ${k} dims): p50 ${out.grad_attr_ms_p50_10k} ms (answer gradients ${out.answer_gradient_ms_p50} ms); ${out.feature_bytes_per_row} bytes/row; features written at ${featMsPerRow.toFixed(1)} ms/row`);
  kernels.close();
  }

  // ---- span index over ≥ 100M generated tokens --------------------------------------------------
  if (!SERVING_ONLY) {
  // Generated text: documents of 50–400 tokens from a Zipf(1.1) unigram over the starter's 2048-token
  // vocabulary with phrases (8–32 tokens) reused across documents, so answers have long verbatim matches.
  let s = 12345;
  const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
  const V = 2048, cdf = new Float64Array(V);
  let acc = 0;
  for (let v = 0; v < V; v++) { acc += 1 / (v + 1) ** 1.1; cdf[v] = acc; }
  const zipf = () => { const x = rnd() * acc; let lo = 0, hi = V - 1; while (lo < hi) { const m = (lo + hi) >> 1; if (cdf[m] < x) lo = m + 1; else hi = m; } return lo; };
  const phrases = Array.from({ length: 50_000 }, () => Uint16Array.from({ length: 8 + Math.floor(rnd() * 24) }, zipf));
  function* docs() {
    let total = 0, id = 0;
    while (total < SPAN_TOKENS) {
      const len = 50 + Math.floor(rnd() * 350);
      const d = new Uint16Array(len);
      for (let j = 0; j < len;) {
        if (rnd() < 0.3) { const p = phrases[Math.floor(rnd() * phrases.length)]; for (let q = 0; q < p.length && j < len; q++) d[j++] = p[q]; } else d[j++] = zipf();
      }
      total += len;
      yield { rowId: ++id, contributor: `0x${(id % 1000).toString(16).padStart(40, '0')}`, tokens: d };
    }
  }
  const all = [...docs()];
  const totalTokens = all.reduce((a, d) => a + d.tokens.length, 0);
  let t = performance.now();
  const ix = SpanIndex.build(join(dir, 'spans'), 'bench', all, { vocab: V });
  const buildS = (performance.now() - t) / 1000;
  out.span_index_tokens = totalTokens;
  out.span_index_shards = ix.shards.length;
  out.span_build_s = +buildS.toFixed(1);
  out.span_build_tokens_per_s = Math.round(totalTokens / buildS);
  ix.close();
  const ix2 = SpanIndex.open(join(dir, 'spans'), 'bench'); // as a node opens it: checksums verified, nothing loaded
  const lookups: number[] = [];
  for (let q = 0; q < 21; q++) {
    const d = all[Math.floor(rnd() * all.length)].tokens;
    const st = Math.floor(rnd() * Math.max(1, d.length - 40));
    const answer = [...Array.from({ length: 12 }, zipf), ...d.slice(st, st + 40), ...Array.from({ length: 12 }, zipf)];
    const t0 = performance.now();
    findSpans(ix2, answer);
    lookups.push(performance.now() - t0);
  }
  out.span_lookup_ms_p50_100m = +p50(lookups).toFixed(1);
  out.span_answer_tokens = 64;
  log(`span index: ${totalTokens} tokens in ${ix2.shards.length} shards built in ${buildS.toFixed(1)} s (${out.span_build_tokens_per_s} tokens/s); OLMoTrace spans of a 64-token answer p50 ${out.span_lookup_ms_p50_100m} ms`);
  ix2.close();
  all.length = 0;
  }

  // ---- serving throughput with attribution on vs off -------------------------------------------
  const { servingRatio } = await import('./attribution-serving.ts');
  Object.assign(out, await servingRatio(log));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
out.load_avg_1m_end = +loadavg()[0].toFixed(2);
if (JSON_OUT) console.log(JSON.stringify(out, null, 2));
else log(out);
