/**
 * Training benchmark: LoRA r = 8 on every linear layer, a few optimizer steps of short packed
 * sequences, for a tiny model, for the shipped starter model (models/starter, f32, the Model
 * Factory's default base) and for a model with Qwen2.5-0.5B shapes (random f16 weights,
 * testing/bench-model.ts, cached under cache/bench-engine/), WASM SIMD kernels.
 *
 *   npm run bench:train [-- --json] [-- --tokens 128] [-- --doc 64] [-- --steps 2] [-- --threads 2] [-- --dtype f16|q8_0] [-- --skip-large]
 *
 * (the backward's transposed weights are f16 for any non-f32 base; see train/weights-t.ts)
 *
 * Reports training tokens/s, peak RSS, and the share of the kernel's FLOP/s the step achieves:
 *  - every Kernels.matmul call of a measured step is counted (2·M·N·K) and timed;
 *  - attention FLOPs (causal, per document: forward 2·2·Σ T(T+1)/2·D·H, backward 2× that plus
 *    the recomputed scores) are added as work the step does;
 *  - the kernel's FLOP/s is measured in the same run by re-running each distinct matmul shape
 *    of the step in isolation (same M, N, K, dtype), weighted by its share of the step's FLOPs;
 *  - flops_fraction = (step FLOPs / step seconds) / kernel FLOP/s (the kernel measured twice, the
 *    faster kept: on a shared machine this errs low).
 * With --json: one JSON object; the top-level tokens_per_s, peak_rss_mb and flops_fraction are
 * the larger model's.
 */
import { join } from 'node:path';
import { loadModel, type LoadedModel } from '../src/engine/model/load.ts';
import { selectKernels, type SelectedKernels } from '../src/engine/kernels/select.ts';
import type { DType, Kernels, WeightTensor } from '../src/engine/kernels/types.ts';
import { buildBenchModel } from '../src/engine/testing/bench-model.ts';
import { tinyConfig, tinyModel } from '../src/engine/model/fixture.ts';
import { TrainableLora } from '../src/engine/train/lora.ts';
import { TrainModel } from '../src/engine/train/model.ts';
import { AdamW, clipGradNorm } from '../src/engine/train/optim.ts';
import { packExamples, type PackedBatch } from '../src/engine/train/packing.ts';
import { Xorshift } from '../src/engine/train/rng.ts';
import { STARTER_DIR, starterShipped } from '../src/models/starter.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const JSON_OUT = args.includes('--json');
const TOKENS = Number(opt('tokens', '128'));
const DOC = Number(opt('doc', '64'));
const STEPS = Number(opt('steps', '2'));
const THREADS = Number(opt('threads', '2'));
const DTYPE = opt('dtype', 'f16') as DType; // storage of the larger model's weights (f16 or q8_0)
const CACHE = join(process.cwd(), 'cache', 'bench-engine');
const log = (s: string) => (JSON_OUT ? process.stderr.write(s + '\n') : console.log(s));

/** Kernels that count and time every matmul. */
function counting(k: Kernels) {
  const shapes = new Map<string, { M: number; w: WeightTensor; calls: number; flops: number }>();
  let on = false, mmMs = 0, mmFlops = 0;
  const wrapped: Kernels = {
    ...k,
    matmul(out, x, w, M, acc) {
      if (!on) return k.matmul(out, x, w, M, acc);
      const t = performance.now();
      k.matmul(out, x, w, M, acc);
      mmMs += performance.now() - t;
      const f = 2 * M * w.rows * w.cols;
      mmFlops += f;
      const key = `${M}×${w.rows}×${w.cols}:${w.dtype}`;
      const e = shapes.get(key) ?? { M, w, calls: 0, flops: 0 };
      e.calls++; e.flops += f;
      shapes.set(key, e);
    },
  };
  return {
    kernels: wrapped, shapes,
    start() { on = true; mmMs = 0; mmFlops = 0; shapes.clear(); },
    stop() { on = false; return { mmMs, mmFlops }; },
  };
}

/** FLOP/s of the kernel on the step's shape mix: each shape alone, FLOP-weighted (time = Σ flops / rate). */
function kernelRate(k: Kernels, model: LoadedModel, shapes: Map<string, { M: number; w: WeightTensor; calls: number; flops: number }>): number {
  let flops = 0, ms = 0;
  const maxIn = Math.max(...[...shapes.values()].map((s) => s.M * s.w.cols));
  const maxOut = Math.max(...[...shapes.values()].map((s) => s.M * s.w.rows));
  const x = model.heap.f32(maxIn), out = model.heap.f32(maxOut);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i) * 0.5;
  for (const s of shapes.values()) {
    const xs = x.subarray(0, s.M * s.w.cols), os = out.subarray(0, s.M * s.w.rows);
    k.matmul(os, xs, s.w, s.M); // warm
    const f1 = 2 * s.M * s.w.rows * s.w.cols;
    const reps = Math.max(1, Math.min(20, Math.round(2e9 / f1)));
    let best = Infinity;
    for (let r = 0; r < 2; r++) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) k.matmul(os, xs, s.w, s.M);
      best = Math.min(best, (performance.now() - t) / reps);
    }
    flops += s.flops;
    ms += (best * s.flops) / f1;
  }
  model.heap.free(x); model.heap.free(out);
  return flops / (ms / 1000);
}

function attentionFlops(b: PackedBatch, H: number, D: number, layers: number): number {
  let pairs = 0;
  for (const d of b.docs) pairs += (d.len * (d.len + 1)) / 2;
  // forward QK and PV (2 FLOPs each per pair·dim), backward recomputes QK and does dP, dV, dQ, dK
  return layers * H * D * pairs * 2 * (2 + 5);
}

interface Result {
  model: string; params_m: number; lora_params: number; tokens_per_step: number; steps: number;
  tokens_per_s: number; step_s: number; flops_per_step_g: number; achieved_gflops: number; kernel_gflops: number;
  flops_fraction: number; matmul_share_of_time: number; setup_s: number; peak_rss_mb: number; loss: number[];
}

function run(name: string, model: LoadedModel, kernels: SelectedKernels): Result {
  const cfg = model.config;
  const t0 = performance.now();
  const cnt = counting(kernels);
  const lora = new TrainableLora(model, { targets: 'all-linear', rank: 8, alpha: 16 }, { seed: 1 });
  const tm = new TrainModel(model, { kernels: cnt.kernels, maxTokens: TOKENS, lora });
  const setup = (performance.now() - t0) / 1000;
  const params = lora.tensors();
  const adam = new AdamW(params, { weightDecay: 0.01 });
  const r = new Xorshift(7);
  const nDocs = Math.max(1, Math.floor(TOKENS / DOC));
  const batches = Array.from({ length: STEPS + 1 }, () => {
    const ex = Array.from({ length: nDocs }, () => ({ tokens: Array.from({ length: Math.min(DOC, TOKENS) + 1 }, () => Math.floor(r.next() * Math.min(cfg.vocabSize, 300))) }));
    return packExamples(ex, ex.map((_, i) => i), { maxTokens: TOKENS })[0];
  });
  const losses: number[] = [];
  const stepOnce = (b: PackedBatch) => {
    lora.zeroGrad();
    const n = b.targets.length - b.docs.length * 0;
    const res = tm.step(b, { gradScale: 1 / n });
    clipGradNorm(params, 1);
    adam.step(1e-4);
    losses.push(res.lossSum / res.tokens);
  };
  stepOnce(batches[0]); // warm-up (kernel scratch, JIT)
  let totalMs = 0, mmMs = 0, mmFlops = 0, attF = 0;
  const shapes = new Map<string, { M: number; w: WeightTensor; calls: number; flops: number }>();
  for (let s = 1; s <= STEPS; s++) {
    cnt.start();
    const t = performance.now();
    stepOnce(batches[s]);
    totalMs += performance.now() - t;
    const c = cnt.stop();
    mmMs += c.mmMs; mmFlops += c.mmFlops;
    for (const [k, v] of cnt.shapes) {
      const e = shapes.get(k);
      if (e) { e.calls += v.calls; e.flops += v.flops; } else shapes.set(k, { ...v });
    }
    attF += attentionFlops(batches[s], cfg.nHeads, cfg.headDim, cfg.nLayers);
    log(`  ${name} step ${s}: ${((performance.now() - t) / 1000).toFixed(2)} s, loss ${losses[losses.length - 1].toFixed(4)}`);
  }
  // The machine is shared: measure the kernel after the steps and once more, and keep the faster
  // (the fraction is then conservative).
  const rate = Math.max(kernelRate(kernels, model, shapes), kernelRate(kernels, model, shapes));
  const stepFlops = (mmFlops + attF) / STEPS;
  const stepS = totalMs / 1000 / STEPS;
  tm.free(); lora.free();
  const p = [...model.tensors.values()].reduce((s, t) => s + (t instanceof Float32Array ? t.length : t.rows * t.cols), 0);
  return {
    model: name, params_m: +(p / 1e6).toFixed(1), lora_params: lora.numParams, tokens_per_step: TOKENS, steps: STEPS,
    tokens_per_s: +(TOKENS / stepS).toFixed(2), step_s: +stepS.toFixed(3), flops_per_step_g: +(stepFlops / 1e9).toFixed(2),
    achieved_gflops: +(stepFlops / stepS / 1e9).toFixed(2), kernel_gflops: +(rate / 1e9).toFixed(2),
    flops_fraction: +((stepFlops / stepS) / rate).toFixed(3), matmul_share_of_time: +(mmMs / totalMs).toFixed(3),
    setup_s: +setup.toFixed(1), peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), loss: losses.map((l) => +l.toFixed(4)),
  };
}

const results: Result[] = [];
{
  const model = tinyModel(tinyConfig('llama', { contextLength: 256 }), { seed: 1 });
  const k = selectKernels(model.heap, { threads: THREADS });
  k.waitReady();
  log(`tiny llama (C=64, L=2), ${k.name}`);
  results.push(run('tiny-llama', model, k));
  k.close();
}
if (starterShipped()) {
  const model = await loadModel(STARTER_DIR);
  const k = selectKernels(model.heap, { threads: THREADS });
  k.waitReady();
  const c = model.config;
  log(`starter (C=${c.dModel}, L=${c.nLayers}, V=${c.vocabSize}, f32), ${k.name}`);
  results.push(run('starter', model, k));
  k.close();
} else log('starter: models/starter is not built (npm run train:starter); row skipped');
if (!args.includes('--skip-large')) {
  const path = buildBenchModel(CACHE, DTYPE, log);
  const model = await loadModel(path);
  const k = selectKernels(model.heap, { threads: THREADS });
  k.waitReady();
  log(`Qwen2.5-0.5B shapes (${DTYPE}, random weights), ${k.name}`);
  results.push(run(`qwen2.5-0.5b-shape-${DTYPE}`, model, k));
  k.close();
}

const big = results[results.length - 1];
if (JSON_OUT) {
  console.log(JSON.stringify({ tokens_per_s: big.tokens_per_s, peak_rss_mb: big.peak_rss_mb, flops_fraction: big.flops_fraction, threads: THREADS, results }));
} else {
  console.log('\nmodel                      tok/s   step s  GFLOP/step  achieved  kernel  fraction  matmul time  setup s  peak RSS MB');
  for (const r of results) {
    console.log(`${r.model.padEnd(26)} ${String(r.tokens_per_s).padStart(6)} ${String(r.step_s).padStart(8)} ${String(r.flops_per_step_g).padStart(11)} ${String(r.achieved_gflops).padStart(9)} ${String(r.kernel_gflops).padStart(7)} ${String(r.flops_fraction).padStart(9)} ${String(r.matmul_share_of_time).padStart(12)} ${String(r.setup_s).padStart(8)} ${String(r.peak_rss_mb).padStart(12)}`);
  }
}
