/**
 * Engine benchmark: our engine vs llama.cpp (node-llama-cpp 3.21.1, CPU) on the same GGUF files
 * with the shapes of Qwen2.5-0.5B (random weights; testing/bench-model.ts), 2 threads each, plus
 * the machine's memory bandwidth (testing/bandwidth.ts), in one run.
 *
 *   npm run bench:engine [-- --json] [-- --dtypes q8_0,f16] [-- --decode 32] [-- --batched-steps 16]
 *   npm run bench:engine -- --profile [--dtypes q8_0] [--kernels simd128|relaxed-simd]
 *       (ours only: time per op — matmul per shape — in prefill, decode and 8-stream decode)
 *
 * Measures, per dtype:
 * - prefill: one 512-token prompt in one step (tokens/s);
 * - decode: one sequence, greedy, one token per step (tokens/s, after a 16-token prompt);
 * - batched decode: 8 sequences decoding together, one token each per step (aggregate tokens/s).
 *   llama.cpp: one context with 8 sequences stepped in lockstep (one llama_decode of 8 tokens per step).
 * and reports our/llama.cpp ratios and decode as a fraction of the bandwidth ceiling
 * (weight bytes read per token ÷ measured bandwidth). Files are cached under cache/bench-engine/.
 *
 * The machine is shared, so each rate is the best window of 8 consecutive steps (prefill: best of
 * 2), for both engines alike: the capacity of the code, less the noise of other processes. Both
 * engines are measured in `--rounds` interleaved rounds (default 3; llama.cpp first in odd rounds,
 * ours first in even ones), each keeping its best over all rounds, so a slow spell of the machine
 * hits both alike; the JSON also carries each round's batched-decode ratio, the Node version and
 * the kernel path (relaxed-simd / simd128, from the engine's start-up probe; --kernels pins one).
 */
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { DType } from '../src/engine/kernels/types.ts';
import { loadModel } from '../src/engine/model/load.ts';
import { createEngine, type Engine } from '../src/engine/engine.ts';
import { kernelStatus, selectKernels } from '../src/engine/kernels/select.ts';
import { KERNEL_OPS, type Kernels, type WeightTensor } from '../src/engine/kernels/types.ts';
import type { WasmVariant } from '../src/engine/kernels/wasm/module.ts';
import { buildBenchModel, QWEN05_SHAPE, weightBytesPerToken } from '../src/engine/testing/bench-model.ts';
import { measureBandwidth } from '../src/engine/testing/bandwidth.ts';
import { getLlamaCpp } from '../src/engine/parity/llamacpp.ts';
import type { Token } from 'node-llama-cpp';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : def;
};
const JSON_OUT = args.includes('--json');
const DTYPES = opt('dtypes', 'q8_0,f16').split(',') as DType[];
const THREADS = Number(opt('threads', '2'));
const PREFILL = 512;
const PROMPT = 16;
const DECODE = Number(opt('decode', '32'));
const BATCH = 8;
const BATCH_STEPS = Number(opt('batched-steps', '16'));
const ROUNDS = Math.max(1, Number(opt('rounds', '3')));
const CACHE = join(process.cwd(), 'cache', 'bench-engine');
const PROFILE = args.includes('--profile');
const VARIANT = (args.includes('--kernels') ? opt('kernels', '') : undefined) as WasmVariant | undefined;
if (VARIANT !== undefined && VARIANT !== 'simd128' && VARIANT !== 'relaxed-simd') {
  console.error(`--kernels must be simd128 or relaxed-simd, got "${VARIANT}"`);
  process.exit(2);
}

const log = (s: string) => { if (!JSON_OUT) console.log(s); else process.stderr.write(s + '\n'); };

/** Deterministic token ids from the real (non-filler) part of the vocab. */
function tokens(n: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(s % 360);
  }
  return out;
}

const argmax = (x: Float32Array) => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
};

interface Rates { prefill: number; decode: number; batched8: number }

const PREFILL_REPS = 2;
/** Tokens/s over the fastest window of WINDOW consecutive steps (`times[k]` = end of step k; `perStep` tokens each). */
const WINDOW = 8;
function bestRate(times: number[], perStep: number): number {
  const w = Math.min(WINDOW, times.length - 1);
  let best = 0;
  for (let k = 0; k + w < times.length; k++) best = Math.max(best, (w * perStep) / ((times[k + w] - times[k]) / 1000));
  return best;
}

// ------------------------------------------------------------------ ours

async function benchOurs(path: string): Promise<Rates> {
  const model = await loadModel(path);
  const kernels = selectKernels(model.heap, { threads: THREADS, variant: VARIANT });
  kernels.waitReady(10_000);
  let engine: Engine | null = null;
  try {
    engine = await createEngine(model, { kernels, maxBatchTokens: PREFILL, kvTokens: PREFILL + 64 + BATCH * (PROMPT + BATCH_STEPS + 16), maxContext: 1024 });
    const e = engine;
    // Warm-up: one short step (first-touch of scratch, worker spin-up).
    const w = e.createSequence();
    e.step([{ seq: w, tokens: tokens(8, 9), logits: 'last' }]);
    e.freeSequence(w);

    let prefill = 0;
    for (let rep = 0; rep < PREFILL_REPS; rep++) {
      const p = e.createSequence();
      const t0 = performance.now();
      e.step([{ seq: p, tokens: tokens(PREFILL, 1 + rep), logits: 'last' }]);
      const s = (performance.now() - t0) / 1000;
      prefill = Math.max(prefill, PREFILL / s);
      e.freeSequence(p);
      if (s > 10) break; // slow enough that noise is small; keep the whole run near 5 minutes
    }

    const d = e.createSequence();
    let [r] = e.step([{ seq: d, tokens: tokens(PROMPT, 2), logits: 'last' }]);
    let next = argmax(r.logits!);
    const times = [performance.now()];
    for (let i = 0; i < DECODE; i++) {
      [r] = e.step([{ seq: d, tokens: [next], logits: 'last' }]);
      next = argmax(r.logits!);
      times.push(performance.now());
    }
    const decode = bestRate(times, 1);
    e.freeSequence(d);

    const seqs = Array.from({ length: BATCH }, () => e.createSequence());
    let outs = e.step(seqs.map((seq, i) => ({ seq, tokens: tokens(PROMPT, 10 + i), logits: 'last' as const })));
    let nexts = outs.map((o) => argmax(o.logits!));
    const btimes = [performance.now()];
    for (let s = 0; s < BATCH_STEPS; s++) {
      outs = e.step(seqs.map((seq, i) => ({ seq, tokens: [nexts[i]], logits: 'last' as const })));
      nexts = outs.map((o) => argmax(o.logits!));
      btimes.push(performance.now());
    }
    const batched8 = bestRate(btimes, BATCH);
    for (const s of seqs) e.freeSequence(s);
    return { prefill, decode, batched8 };
  } finally {
    kernels.close();
  }
}

// ------------------------------------------------------------------ llama.cpp

async function benchLlamaCpp(path: string): Promise<Rates> {
  const llama = await getLlamaCpp();
  if ('error' in llama) throw new Error(`node-llama-cpp cannot load: ${llama.error}`);
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  try {
    const ctx = await model.createContext({ contextSize: 1024, batchSize: PREFILL, threads: THREADS, sequences: 1 });
    let prefill: number, decode: number;
    try {
      const seq = ctx.getSequence();
      await seq.evaluateWithoutGeneratingNewTokens(tokens(8, 9) as Token[]); // warm-up
      await seq.clearHistory();
      prefill = 0;
      for (let rep = 0; rep < PREFILL_REPS; rep++) {
        const t0 = performance.now();
        await seq.evaluateWithoutGeneratingNewTokens(tokens(PREFILL, 1 + rep) as Token[]);
        prefill = Math.max(prefill, PREFILL / ((performance.now() - t0) / 1000));
        await seq.clearHistory();
      }

      const prompt = tokens(PROMPT, 2) as Token[];
      await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
      // The first yielded token costs the last prompt token; time the DECODE steps after it.
      const times: number[] = [];
      for await (const _ of seq.evaluate(prompt.slice(-1), { temperature: 0 })) {
        times.push(performance.now());
        if (times.length > DECODE) break;
      }
      decode = bestRate(times, 1);
    } finally {
      await ctx.dispose();
    }

    const ctx8 = await model.createContext({ contextSize: BATCH * 128, batchSize: PREFILL, threads: THREADS, sequences: BATCH });
    let batched8: number;
    try {
      const seqs = Array.from({ length: BATCH }, () => ctx8.getSequence());
      const prompts = seqs.map((_, i) => tokens(PROMPT, 10 + i) as Token[]);
      await Promise.all(seqs.map((s, i) => s.evaluateWithoutGeneratingNewTokens(prompts[i].slice(0, -1))));
      // Lockstep: each step queues one token per sequence in the same tick, so node-llama-cpp's
      // "nextCycle" dispatch sends all 8 in one llama_decode (free-running generators fragment
      // the batch as their samplers finish at different times).
      const ask = { generateNext: { token: true, options: { temperature: 0 } } } as const;
      let nexts = prompts.map((p) => p[p.length - 1]);
      const times: number[] = [];
      for (let st = 0; st <= BATCH_STEPS; st++) {
        const outs = await Promise.all(seqs.map((s, i) => s.controlledEvaluate([[nexts[i] as Token, ask]])));
        nexts = outs.map((o) => o[0]!.next.token!);
        times.push(performance.now());
      }
      batched8 = bestRate(times, BATCH);
    } finally {
      await ctx8.dispose();
    }
    return { prefill, decode, batched8 };
  } finally {
    await model.dispose();
  }
}

// ------------------------------------------------------------------ --profile

/** `k` with every op timed: ms and calls per op, matmul per (dtype, N×K, M); `acc` is cleared per phase. */
function profiled(k: Kernels & { close?: () => void }) {
  const acc = new Map<string, { ms: number; calls: number }>();
  const out: Record<string, unknown> = { ...k };
  for (const op of KERNEL_OPS) {
    const f = (k as unknown as Record<string, (...a: unknown[]) => void>)[op];
    out[op] = (...a: unknown[]) => {
      const t0 = performance.now();
      f(...a);
      const ms = performance.now() - t0;
      const w = a[2] as WeightTensor;
      const key = op === 'matmul' ? `matmul ${w.dtype} ${w.rows}×${w.cols} M=${a[3]}` : op;
      const e = acc.get(key);
      if (e) { e.ms += ms; e.calls++; } else acc.set(key, { ms, calls: 1 });
    };
  }
  return { kernels: out as unknown as Kernels, acc };
}

function printProfile(title: string, acc: Map<string, { ms: number; calls: number }>, wallMs: number, cpuMs: number, tokens: number) {
  const rowsP = [...acc.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rowsP.reduce((s, [, e]) => s + e.ms, 0);
  // CPU time (all threads of this process) is the load-independent figure on a shared machine
  console.log(`\n${title}: ${wallMs.toFixed(1)} ms wall, ${(tokens / (wallMs / 1000)).toFixed(1)} tok/s; ` +
    `${cpuMs.toFixed(1)} ms CPU, ${(tokens / (cpuMs / 1000)).toFixed(1)} tok per CPU-second; kernels ${total.toFixed(1)} ms (${(100 * total / wallMs).toFixed(0)}% of wall)`);
  console.log(`${'op'.padEnd(34)} ${'calls'.padStart(6)} ${'ms'.padStart(9)} ${'%'.padStart(5)} ${'µs/call'.padStart(9)}`);
  for (const [key, e] of rowsP) {
    if (e.ms < total * 0.002) continue;
    console.log(`${key.padEnd(34)} ${String(e.calls).padStart(6)} ${e.ms.toFixed(1).padStart(9)} ${(100 * e.ms / total).toFixed(1).padStart(5)} ${(1000 * e.ms / e.calls).toFixed(1).padStart(9)}`);
  }
}

async function profileOurs(dtype: DType, path: string): Promise<void> {
  const model = await loadModel(path);
  const base = selectKernels(model.heap, { threads: THREADS, variant: VARIANT });
  base.waitReady(10_000);
  const p = profiled(base);
  const engine = await createEngine(model, { kernels: p.kernels, maxBatchTokens: PREFILL, kvTokens: PREFILL + 64 + BATCH * (PROMPT + BATCH_STEPS + 16), maxContext: 1024 });
  try {
    const run = (title: string, tokensPerRun: number, fn: () => void) => {
      p.acc.clear();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      fn();
      const c = process.cpuUsage(c0);
      printProfile(`${dtype} ${title} (${base.kernelPath}, ${THREADS} threads, Node ${process.version})`, p.acc, performance.now() - t0, (c.user + c.system) / 1000, tokensPerRun);
    };
    const w = engine.createSequence();
    engine.step([{ seq: w, tokens: tokens(8, 9), logits: 'last' }]);
    engine.freeSequence(w);
    run(`prefill ${PREFILL}`, PREFILL, () => {
      const s = engine.createSequence();
      engine.step([{ seq: s, tokens: tokens(PREFILL, 1), logits: 'last' }]);
      engine.freeSequence(s);
    });
    const d = engine.createSequence();
    let [r] = engine.step([{ seq: d, tokens: tokens(PROMPT, 2), logits: 'last' }]);
    run(`decode ×1, ${DECODE} steps`, DECODE, () => {
      for (let i = 0; i < DECODE; i++) [r] = engine.step([{ seq: d, tokens: [argmax(r.logits!)], logits: 'last' }]);
    });
    engine.freeSequence(d);
    const seqs = Array.from({ length: BATCH }, () => engine.createSequence());
    let outs = engine.step(seqs.map((seq, i) => ({ seq, tokens: tokens(PROMPT, 10 + i), logits: 'last' as const })));
    run(`decode ×8, ${BATCH_STEPS} steps`, BATCH * BATCH_STEPS, () => {
      for (let st = 0; st < BATCH_STEPS; st++) outs = engine.step(seqs.map((seq, i) => ({ seq, tokens: [argmax(outs[i].logits!)], logits: 'last' as const })));
    });
    for (const s of seqs) engine.freeSequence(s);
  } finally {
    engine.close();
  }
}

if (PROFILE) {
  const ks = kernelStatus();
  console.log(`profile: Node ${process.version} (V8 ${ks.v8}), kernel path ${VARIANT ?? ks.kernelPath}${ks.relaxedSimdReason && !VARIANT ? ` (relaxed SIMD off: ${ks.relaxedSimdReason})` : ''}, load average ${loadavg()[0].toFixed(2)} on ${availableParallelism()} CPUs`);
  for (const dtype of DTYPES) await profileOurs(dtype, buildBenchModel(CACHE, dtype, log));
  process.exit(0);
}

// ------------------------------------------------------------------ main

const fmt = (x: number) => x.toFixed(1);
const result: Record<string, number | string> & { load_avg_1m?: number; cpus?: number } = {
  model: `Qwen2.5-0.5B shapes (C=${QWEN05_SHAPE.dModel}, L=${QWEN05_SHAPE.nLayers}, V=${QWEN05_SHAPE.vocabSize}), random weights`,
  threads: THREADS,
  node_version: process.version,
  kernel_path: VARIANT ?? kernelStatus().kernelPath,
};
const started = performance.now();
const paths = Object.fromEntries(DTYPES.map((d) => [d, buildBenchModel(CACHE, d, log)]));

log(`measuring memory bandwidth (${THREADS} threads) …`);
// Measured before and after the engines (best of both): other processes can depress either one.
const bw = await measureBandwidth({ threads: THREADS, bufferBytes: 1 << 30, trials: 10 });

const rows: string[][] = [];
const rates: Record<string, { ours: Rates; ref: Rates }> = {};
const best = (a: Rates | null, b: Rates): Rates =>
  a ? { prefill: Math.max(a.prefill, b.prefill), decode: Math.max(a.decode, b.decode), batched8: Math.max(a.batched8, b.batched8) } : b;
for (const dtype of DTYPES) {
  let ours: Rates | null = null, ref: Rates | null = null;
  const roundRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let o: Rates, r: Rates;
    if (round % 2 === 0) {
      log(`${dtype} round ${round + 1}/${ROUNDS}: llama.cpp …`); r = await benchLlamaCpp(paths[dtype]);
      log(`${dtype} round ${round + 1}/${ROUNDS}: ours …`); o = await benchOurs(paths[dtype]);
    } else {
      log(`${dtype} round ${round + 1}/${ROUNDS}: ours …`); o = await benchOurs(paths[dtype]);
      log(`${dtype} round ${round + 1}/${ROUNDS}: llama.cpp …`); r = await benchLlamaCpp(paths[dtype]);
    }
    roundRatios.push(Number((o.batched8 / r.batched8).toFixed(3)));
    ours = best(ours, o);
    ref = best(ref, r);
  }
  rates[dtype] = { ours: ours!, ref: ref! };
  result[`batched8_${dtype === 'q8_0' ? 'q8' : dtype}_round_ratios`] = roundRatios.join(' ');
}
const bw2 = await measureBandwidth({ threads: THREADS, bufferBytes: 1 << 30, trials: 10 });
bw.bytesPerSecond = Math.max(bw.bytesPerSecond, bw2.bytesPerSecond);
result.bandwidth_gbps = Number((bw.bytesPerSecond / 1e9).toFixed(2));
for (const dtype of DTYPES) {
  const { ours, ref } = rates[dtype];
  const bytes = weightBytesPerToken(dtype);
  const ceiling = bw.bytesPerSecond / bytes;
  const key = dtype === 'q8_0' ? 'q8' : dtype;
  result[`weight_mb_per_token_${key}`] = Number((bytes / 1e6).toFixed(1));
  result[`decode_ceiling_tps_${key}`] = Number(ceiling.toFixed(1));
  for (const k of ['prefill', 'decode', 'batched8'] as const) {
    result[`ours_${k}_${key}_tps`] = Number(ours[k].toFixed(2));
    result[`llamacpp_${k}_${key}_tps`] = Number(ref[k].toFixed(2));
    result[`${k}_${key}_ratio_vs_llamacpp`] = Number((ours[k] / ref[k]).toFixed(3));
    rows.push([dtype, k === 'batched8' ? 'decode ×8 (aggregate)' : k === 'prefill' ? `prefill ${PREFILL}` : 'decode ×1', fmt(ours[k]), fmt(ref[k]), (ours[k] / ref[k]).toFixed(2)]);
  }
  result[`decode_bandwidth_fraction_${key}`] = Number((ours.decode / ceiling).toFixed(3));
  result[`llamacpp_decode_bandwidth_fraction_${key}`] = Number((ref.decode / ceiling).toFixed(3));
}
if (result.decode_q8_ratio_vs_llamacpp !== undefined) result.decode_bandwidth_fraction = result.decode_bandwidth_fraction_q8;
result.seconds = Number(((performance.now() - started) / 1000).toFixed(1));
// Other processes skew the numbers (llama.cpp's spinning thread pool collapses when cores are
// oversubscribed), so the load is part of the result.
result.load_avg_1m = Number(loadavg()[0].toFixed(2));
result.cpus = availableParallelism();
const busy = result.load_avg_1m > result.cpus;
if (busy) result.warning = `load average ${result.load_avg_1m} on ${result.cpus} CPUs: other processes competed for the cores; rates and ratios are not representative`;

if (JSON_OUT) {
  console.log(JSON.stringify(result));
} else {
  const head = ['dtype', 'phase', 'ours tok/s', 'llama.cpp tok/s', 'ours/llama.cpp'];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  console.log(`\n${result.model}, ${THREADS} threads; memory bandwidth ${result.bandwidth_gbps} GB/s; Node ${process.version}, kernel path ${result.kernel_path}\n`);
  for (const r of all) console.log(r.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
  for (const dtype of DTYPES) {
    const key = dtype === 'q8_0' ? 'q8' : dtype;
    console.log(`${dtype}: ${result[`weight_mb_per_token_${key}`]} MB of weights per token → decode ceiling ${result[`decode_ceiling_tps_${key}`]} tok/s; ` +
      `ours at ${(100 * Number(result[`decode_bandwidth_fraction_${key}`])).toFixed(0)}%, llama.cpp at ${(100 * Number(result[`llamacpp_decode_bandwidth_fraction_${key}`])).toFixed(0)}%`);
  }
  console.log(`(${result.seconds} s; load average ${result.load_avg_1m} on ${result.cpus} CPUs)`);
  if (busy) console.log(`WARNING: ${result.warning}`);
}
process.exit(0);
