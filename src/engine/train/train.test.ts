// The training loop end to end on tiny models: a planted key → value mapping is learned with
// LoRA and reproduced by greedy generation in the inference engine (the base does not);
// identical losses from identical seeds; a killed run resumes exactly from its checkpoint; NaN
// stops with the checkpoint kept; a failed checkpoint write keeps the previous one; per-example
// attribution gradients are exact; bad input is a clear error; WASM kernels train like the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine.ts';
import { referenceKernels } from '../kernels/reference.ts';
import { selectKernels } from '../kernels/select.ts';
import { tinyConfig, tinyModel } from '../model/fixture.ts';
import type { LoraAdapter } from '../lora/adapter.ts';
import { OpenLedgerError } from '../../util/errors.ts';
import { train, type ExampleGradients } from './train.ts';
import { TrainableLora } from './lora.ts';
import { TrainModel } from './model.ts';
import { batchTargets, packExamples, type TrainExample } from './packing.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { learningRate } from './optim.ts';
import { evaluate } from './evaluate.ts';

// Planted mapping over the byte vocabulary: "k<key>=" → "<v1><v2>" then EOS (256).
const PAIRS = Array.from({ length: 12 }, (_, i) => ({ key: 65 + i, v: [97 + ((i * 7) % 26), 48 + ((i * 3) % 10)] }));
const promptOf = (key: number) => [107, key, 61]; // 'k', key, '='
const EXAMPLES: TrainExample[] = PAIRS.map(({ key, v }) => {
  const tokens = [...promptOf(key), ...v, 256];
  return { tokens, lossMask: tokens.map((_, i) => (i >= 3 ? 1 : 0)) };
});

function greedy(eng: Engine, prompt: number[], n: number, adapter: LoraAdapter | null): number[] {
  const s = eng.createSequence();
  const out: number[] = [];
  let toks = prompt;
  for (let i = 0; i < n; i++) {
    const l = eng.step([{ seq: s, tokens: toks, adapter, logits: 'last' }])[0].logits!;
    let best = 0;
    for (let v = 1; v < l.length; v++) if (l[v] > l[best]) best = v;
    out.push(best);
    toks = [best];
  }
  eng.freeSequence(s);
  return out;
}

const HP = { epochs: 40, batchSize: 6, gradAccum: 1, lr: 1e-2, warmupSteps: 4, schedule: 'cosine' as const, maxGradNorm: 1, weightDecay: 0.01, seed: 3 };

test('a tiny llama learns a planted key → value mapping with LoRA; the adapter is served by the engine', async () => {
  const model = tinyModel(tinyConfig('llama'), { seed: 5 });
  const losses: number[] = [], evals: number[] = [];
  const r = await train(model, EXAMPLES, {
    kernels: referenceKernels, lora: { targets: 'all-linear', rank: 8, alpha: 16 }, hyperparameters: HP, onStep: (m) => losses.push(m.loss),
    evaluation: { examples: EXAMPLES.slice(0, 4), every: 20, onEval: (e) => evals.push(e.loss) },
  });
  assert.equal(r.steps, 80);
  assert.equal(evals.length, 4);
  assert.ok(evals[3] < 0.5 * evals[0] && evals[3] < 0.3, `held-out loss ${evals}`);
  const first = losses.slice(0, 4).reduce((a, b) => a + b) / 4, last = losses.slice(-4).reduce((a, b) => a + b) / 4;
  assert.ok(last < 0.1 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  const eng = new Engine(model, referenceKernels, { kvTokens: 256 });
  const adapter = eng.createAdapter(r.factors);
  let tuned = 0, base = 0;
  for (const { key, v } of PAIRS) {
    const want = [...v, 256];
    if (greedy(eng, promptOf(key), 3, adapter).every((t, i) => t === want[i])) tuned++;
    if (greedy(eng, promptOf(key), 3, null).every((t, i) => t === want[i])) base++;
  }
  assert.equal(tuned, PAIRS.length, `the tuned model reproduces ${tuned}/${PAIRS.length} pairs`);
  assert.equal(base, 0, 'the base model does not know the mapping');
  // Held-out style evaluation: base vs tuned loss and perplexity through the training forward.
  const eBase = await evaluate(model, EXAMPLES, { kernels: referenceKernels });
  const eTuned = await evaluate(model, EXAMPLES, { kernels: referenceKernels, factors: r.factors });
  assert.equal(eBase.tokens, 36);
  assert.ok(eTuned.loss < 0.1 * eBase.loss, `eval loss ${eBase.loss} → ${eTuned.loss}`);
  assert.ok(Math.abs(eTuned.perplexity - Math.exp(eTuned.loss)) < 1e-9);
  assert.ok(eTuned.examples.every((e, i) => e.tokens === 3 && e.loss < eBase.examples[i].loss));
  r.free();
});

test('full fine-tuning of a small model learns the mapping too (the model itself is trained); quantized weights are refused', async () => {
  const model = tinyModel(tinyConfig('llama'), { seed: 5 });
  const losses: number[] = [];
  const r = await train(model, EXAMPLES, { method: 'full', kernels: referenceKernels, hyperparameters: { ...HP, epochs: 25, lr: 3e-3 }, onStep: (m) => losses.push(m.loss) });
  assert.ok(losses[losses.length - 1] < 0.1 * losses[0], `loss ${losses[0]} → ${losses[losses.length - 1]}`);
  assert.equal(r.lora, null);
  const eng = new Engine(model, referenceKernels, { kvTokens: 256 });
  let ok = 0;
  for (const { key, v } of PAIRS) if (greedy(eng, promptOf(key), 3, null).every((t, i) => t === [...v, 256][i])) ok++;
  assert.equal(ok, PAIRS.length, `the trained model reproduces ${ok}/${PAIRS.length} pairs`);
  r.free();
  await assert.rejects(train(tinyModel(tinyConfig('llama'), { dtype: 'q8_0' }), EXAMPLES, { method: 'full', kernels: referenceKernels }),
    (e: unknown) => e instanceof OpenLedgerError && e.code === 'unsupported_training' && /f32/.test(e.hint ?? ''));
});

test('train() and evaluate() give back every heap byte they took (free, and on error)', async () => {
  const model = tinyModel(tinyConfig('qwen3'), { seed: 5 });
  new TrainModel(model, { kernels: referenceKernels, maxTokens: 8, lora: null, backward: false }).free(); // resolve weights once (qk-norm copies stay)
  const before = model.heap.allocatedBytes;
  const r = await train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 4, dropout: 0.1 }, hyperparameters: { ...HP, epochs: 1 } });
  r.free();
  await evaluate(model, EXAMPLES, { kernels: referenceKernels });
  const f = await train(model, EXAMPLES, { method: 'full', kernels: referenceKernels, hyperparameters: { ...HP, epochs: 1 } });
  f.free();
  const ac = new AbortController(); // an error after everything is allocated
  await assert.rejects(train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 4 }, hyperparameters: HP, signal: ac.signal, onStep: () => ac.abort() }));
  assert.equal(model.heap.allocatedBytes, before);
});

test('same seed, same losses; a different seed differs; LoRA dropout and rsLoRA run', async () => {
  const run = async (seed: number) => {
    const model = tinyModel(tinyConfig('gpt2'), { seed: 5 });
    const losses: number[] = [];
    const r = await train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: ['q', 'v', 'up'], rank: 4, dropout: 0.1, rsLora: true }, hyperparameters: { ...HP, epochs: 3, seed }, onStep: (m) => losses.push(m.loss) });
    r.free();
    return losses;
  };
  const a = await run(1), b = await run(1), c = await run(2);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('a killed run resumes exactly from its checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-train-'));
  try {
    const opts = (ckdir: string | null, maxSteps?: number) => ({
      kernels: referenceKernels, lora: { targets: 'all-linear' as const, rank: 4 },
      hyperparameters: { ...HP, epochs: 12, gradAccum: 2, maxSteps },
      checkpoint: ckdir ? { dir: ckdir, every: 3 } : undefined,
    });
    const full: number[] = [];
    const model = tinyModel(tinyConfig('llama'), { seed: 5 });
    const ref = await train(model, EXAMPLES, { ...opts(null), onStep: (m) => full.push(m.loss) });
    // "Kill" after step 5 (an abort at step 6 leaves the step-3 checkpoint), then resume.
    const ac = new AbortController();
    const seen: number[] = [];
    await assert.rejects(train(model, EXAMPLES, { ...opts(dir), signal: ac.signal, onStep: (m) => { seen.push(m.loss); if (m.step === 5) ac.abort(); } }), (e: unknown) => e instanceof OpenLedgerError && e.code === 'cancelled');
    assert.equal(loadCheckpoint(join(dir, 'checkpoint.bin'))!.meta.step, 3);
    const resumed: number[] = [];
    const r2 = await train(model, EXAMPLES, { ...opts(dir), onStep: (m) => resumed.push(m.loss) });
    assert.equal(r2.resumedFrom, 3);
    assert.deepEqual(resumed, full.slice(3), 'steps after the checkpoint repeat bit for bit');
    for (const [name, f] of Object.entries(ref.factors)) {
      assert.deepEqual(r2.factors[name].a, f.a);
      assert.deepEqual(r2.factors[name].b, f.b);
    }
    // A checkpoint from another run is refused.
    await assert.rejects(train(model, EXAMPLES.slice(1), opts(dir)), (e: unknown) => e instanceof OpenLedgerError && e.code === 'checkpoint_mismatch');
    ref.free(); r2.free();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-train-'));
  try {
    const model = tinyModel(tinyConfig('llama'), { seed: 5 });
    // Poison one weight after step 2 (as an overflowing run would): the next loss is NaN.
    const w = model.tensors.get('blk.1.ffn_down.weight') as { data: Uint8Array };
    const f = new Float32Array(w.data.buffer, w.data.byteOffset, 4);
    const saved = f[0];
    await assert.rejects(
      train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 4 }, hyperparameters: { ...HP, epochs: 3 }, checkpoint: { dir, every: 1 }, onStep: (m) => { if (m.step === 2) f[0] = NaN; } }),
      (e: unknown) => e instanceof OpenLedgerError && e.code === 'nan_loss' && /step 3/.test(e.message) && /checkpoint \(step 2\)/.test(e.hint ?? ''),
    );
    f[0] = saved;
    const ck = loadCheckpoint(join(dir, 'checkpoint.bin'))!;
    assert.equal(ck.meta.step, 2);
    for (const t of ck.tensors.values()) assert.ok(t.value.every(Number.isFinite));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a checkpoint write that fails leaves the previous checkpoint intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-train-'));
  try {
    const model = tinyModel(tinyConfig('llama'), { seed: 5 });
    const path = join(dir, 'checkpoint.bin');
    let before: Buffer | null = null;
    await assert.rejects(
      train(model, EXAMPLES, {
        kernels: referenceKernels, lora: { targets: ['q'], rank: 2 }, hyperparameters: { ...HP, epochs: 2 }, checkpoint: { dir, every: 1 },
        // After step 1's checkpoint, block the temp file's path (a directory), so step 2's write fails.
        onStep: (m) => { if (m.step === 1) { before = readFileSync(path); mkdirSync(`${path}.tmp`); } },
      }),
      (e: unknown) => e instanceof OpenLedgerError && e.code === 'checkpoint_write_failed' && /previous checkpoint is intact/.test(e.hint ?? ''),
    );
    assert.deepEqual(readFileSync(path), before);
    assert.equal(loadCheckpoint(path)!.meta.step, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('per-example gradients: exact, sum to the step gradient, and only on the steps asked for', async () => {
  const model = tinyModel(tinyConfig('llama'), { seed: 5 });
  const lora = new TrainableLora(model, { targets: ['q', 'down'], rank: 2 }, { seed: 1 });
  for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = Math.sin(i + p.N) * 0.2;
  const tm = new TrainModel(model, { kernels: referenceKernels, maxTokens: 64, lora });
  const [batch] = packExamples(EXAMPLES, [0, 1, 2], { maxTokens: 64 });
  const n = batchTargets(batch);
  lora.zeroGrad();
  const r = tm.step(batch, { gradScale: 1 / n, docGrads: true });
  const name = 'blk.0.attn_q.weight', p = lora.params.get(name)!;
  // Σ_d (tokens_d / n)·g_d = g (the batch's mean-loss gradient)
  const g = r.docGrads!.modules.get(name)!;
  const sumB = new Float64Array(p.gb.length);
  g.dB.forEach((d, i) => d.forEach((v, j) => (sumB[j] += (v * r.docGrads!.tokens[i]) / n)));
  for (let j = 0; j < sumB.length; j++) assert.ok(Math.abs(sumB[j] - p.gb[j]) < 1e-5);
  // g_1 equals the gradient of example 1 trained alone.
  const [alone] = packExamples(EXAMPLES, [1], { maxTokens: 64 });
  lora.zeroGrad();
  const n1 = r.docGrads!.tokens[1];
  tm.step(alone, { gradScale: 1 / n1 });
  for (let j = 0; j < p.ga.length; j++) assert.ok(Math.abs(g.dA[1][j] - p.ga[j]) < 1e-5, `dA[${j}]`);
  for (let j = 0; j < p.gb.length; j++) assert.ok(Math.abs(g.dB[1][j] - p.gb[j]) < 1e-5, `dB[${j}]`);
  tm.free(); lora.free();
  // Through train(): only the chosen steps report, every example once per epoch.
  const got: ExampleGradients[] = [];
  const res = await train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: 'all-linear', rank: 2 }, hyperparameters: { ...HP, epochs: 1 }, attribution: { steps: (s) => s === 2, onExampleGradients: (e) => got.push(e) } });
  assert.ok(got.length >= 1 && got.every((e) => e.step === 2));
  assert.equal(got.flatMap((e) => e.exampleIds).length, 6);
  assert.equal(got[0].modules.size, res.lora!.params.size);
  res.free();
});

test('bad input: empty data, overlong rows, out-of-range hyperparameters, bad targets', async () => {
  const model = tinyModel(tinyConfig('llama'), { seed: 5 });
  const lora = { targets: 'all-linear' as const, rank: 4 };
  const code = (c: string) => (e: unknown) => e instanceof OpenLedgerError && e.code === c && !!e.hint;
  await assert.rejects(train(model, [], { kernels: referenceKernels, lora }), code('empty_dataset'));
  await assert.rejects(train(model, [{ tokens: Array(80).fill(5) }], { kernels: referenceKernels, lora }), code('context_length_exceeded'));
  await assert.rejects(train(model, [{ tokens: [1, 2, 3], lossMask: [1, 0, 0] }], { kernels: referenceKernels, lora }), (e: unknown) => e instanceof OpenLedgerError && e.code === 'empty_loss_mask');
  await assert.rejects(train(model, EXAMPLES, { kernels: referenceKernels, lora: { ...lora, rank: 0 } }), code('invalid_hyperparameter'));
  await assert.rejects(train(model, EXAMPLES, { kernels: referenceKernels, lora, hyperparameters: { lr: -1e-4 } }), code('invalid_hyperparameter'));
  await assert.rejects(train(model, EXAMPLES, { kernels: referenceKernels, lora, hyperparameters: { epochs: 0 } }), code('invalid_hyperparameter'));
  await assert.rejects(train(model, EXAMPLES, { kernels: referenceKernels, lora: { targets: ['gate'], rank: 2, dropout: 1 } }), (e: unknown) => e instanceof OpenLedgerError && e.code === 'invalid_hyperparameter');
  await assert.rejects(train(tinyModel(tinyConfig('gpt2')), EXAMPLES, { kernels: referenceKernels, lora: { targets: ['gate'], rank: 2 } }), (e: unknown) => e instanceof OpenLedgerError && /no gate projection/.test(e.message));
});

test('schedules: warmup then cosine / linear to 0', () => {
  assert.equal(learningRate('cosine', 1, 0, 10, 2), 0.5);
  assert.equal(learningRate('cosine', 1, 1, 10, 2), 1);
  assert.equal(learningRate('cosine', 1, 2, 10, 2), 1);
  assert.ok(Math.abs(learningRate('cosine', 1, 6, 10, 2) - 0.5) < 1e-12);
  assert.ok(learningRate('cosine', 1, 10, 10, 2) < 1e-12);
  assert.ok(Math.abs(learningRate('linear', 1, 6, 10, 2) - 0.5) < 1e-12);
  assert.equal(learningRate('constant', 0.3, 9, 10, 2), 0.3);
});

test('WASM SIMD kernels train like the reference kernels', () => {
  const model = tinyModel(tinyConfig('qwen2'), { seed: 5 });
  const lora = new TrainableLora(model, { targets: 'all-linear', rank: 4 }, { seed: 1 });
  for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = Math.cos(i) * 0.1;
  const [batch] = packExamples(EXAMPLES, [0, 3, 5, 7], { maxTokens: 64 });
  const grads = (k: typeof referenceKernels) => {
    const tm = new TrainModel(model, { kernels: k, maxTokens: 64, lora });
    lora.zeroGrad();
    const r = tm.step(batch, { gradScale: 0.1 });
    const g = lora.tensors().map((t) => Float32Array.from(t.grad));
    tm.free();
    return { loss: r.lossSum, g };
  };
  const wasm = selectKernels(model.heap);
  try {
    const a = grads(referenceKernels), b = grads(wasm), b2 = grads(wasm);
    assert.equal(b.loss, b2.loss, 'WASM runs are deterministic (each output has one owner thread)');
    b.g.forEach((g, i) => assert.deepEqual(g, b2.g[i]));
    assert.ok(Math.abs(a.loss - b.loss) < 1e-3 * Math.abs(a.loss), `loss ${a.loss} vs ${b.loss}`);
    let num = 0, den = 0;
    a.g.forEach((g, i) => g.forEach((v, j) => { num += (v - b.g[i][j]) ** 2; den += v * v; }));
    assert.ok(Math.sqrt(num / den) < 1e-3, `relative gradient difference ${Math.sqrt(num / den)}`);
  } finally {
    wasm.close();
    lora.free();
  }
});
