// Whole-model LoRA gradients against finite differences of the training loss, per family: the
// f32 training forward + backward (reference kernels) over a packed batch of two documents with
// a loss mask, LoRA on every linear with dropout. For each LoRA tensor, the directional
// derivative along its own gradient must equal ‖g‖ (a wrong, scaled or partly wrong gradient
// fails this), and one random direction over all parameters must match g·v.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceKernels } from '../kernels/reference.ts';
import { tinyConfig, tinyModel } from '../model/fixture.ts';
import { TrainableLora } from './lora.ts';
import { TrainModel, type TrainBatch } from './model.ts';
import { FullParams } from './full.ts';
import { Engine } from '../engine.ts';
import { Xorshift } from './rng.ts';

function batch(seed: number, V: number): TrainBatch {
  const r = new Xorshift(seed);
  const lens = [5, 7];
  const M = lens.reduce((a, b) => a + b);
  const tokens = Int32Array.from({ length: M }, () => Math.floor(r.next() * 250));
  const targets = Int32Array.from({ length: M }, (_, i) => (i % 3 === 0 ? -1 : Math.floor(r.next() * V)));
  return { tokens, targets, docs: [{ start: 0, len: 5 }, { start: 5, len: 7 }] };
}

for (const fam of ['llama', 'gpt2', 'qwen3', 'gemma2', 'falcon40b', 'bloom', 'chatglm', 'gemma', 'gemma3', 'mistral', 'llama3', 'yarn', 'falcon'] as const) {
  test(`${fam}: LoRA gradients of the packed-batch loss match finite differences`, () => {
    const cfg = tinyConfig(fam);
    const model = tinyModel(cfg, { seed: 7 });
    const lora = new TrainableLora(model, { targets: 'all-linear', rank: 2, alpha: 4, dropout: 0.1 }, { seed: 1 });
    // B = 0 (PEFT init) would make every dA zero; use random B so both factors are checked.
    const r = new Xorshift(3);
    for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = (r.next() * 2 - 1) * 0.3;
    const tm = new TrainModel(model, { kernels: referenceKernels, maxTokens: 16, lora, logitRows: 5 });
    const b = batch(11, cfg.vocabSize);
    const loss = () => { const s = tm.step(b, { backward: false, dropoutSeed: 9, dropout: true }); return s.lossSum / s.tokens; };
    lora.zeroGrad();
    const n = tm.step(b, { backward: false }).tokens;
    const res = tm.step(b, { gradScale: 1 / n, dropoutSeed: 9 });
    assert.ok(Math.abs(res.lossSum / n - loss()) < 1e-6, 'the loss does not depend on whether a backward follows');
    assert.ok(Math.abs(tm.step(b, { backward: false }).lossSum / n - loss()) > 1e-6, 'evaluation runs without dropout');
    const params = lora.tensors();
    const grads = params.map((p) => Float32Array.from(p.grad));
    const along = (dirs: Float32Array[], h: number) => {
      const saved = params.map((p) => Float32Array.from(p.value));
      params.forEach((p, i) => { for (let j = 0; j < p.value.length; j++) p.value[j] = saved[i][j] + h * dirs[i][j]; });
      const lp = loss();
      params.forEach((p, i) => { for (let j = 0; j < p.value.length; j++) p.value[j] = saved[i][j] - h * dirs[i][j]; });
      const lm = loss();
      params.forEach((p, i) => p.value.set(saved[i]));
      return (lp - lm) / (2 * h);
    };
    let checked = 0;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i];
      const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
      if (norm < 1e-4) continue; // (a tensor whose gradient is ~0 is covered by the random direction below)
      const dirs = params.map((p, j) => (j === i ? g.map((v) => v / norm) : new Float32Array(p.value.length)));
      const num = along(dirs, 2e-2);
      assert.ok(Math.abs(num - norm) <= 2e-2 * norm + 2e-4, `${params[i].name}: finite difference ${num} vs ‖g‖ ${norm}`);
      checked++;
    }
    assert.ok(checked >= params.length * 0.75, `only ${checked}/${params.length} tensors had a gradient`);
    const rv = new Xorshift(5);
    const dirs = params.map((p) => Float32Array.from({ length: p.value.length }, () => rv.next() * 2 - 1));
    const vn = Math.sqrt(dirs.reduce((s, d) => s + d.reduce((t, v) => t + v * v, 0), 0));
    for (const d of dirs) for (let j = 0; j < d.length; j++) d[j] /= vn;
    const gv = dirs.reduce((s, d, i) => s + d.reduce((t, v, j) => t + v * grads[i][j], 0), 0);
    const num = along(dirs, 2e-2);
    const gn = Math.sqrt(grads.reduce((s, g) => s + g.reduce((t, v) => t + v * v, 0), 0));
    assert.ok(Math.abs(num - gv) <= 2e-2 * gn, `random direction: finite difference ${num} vs g·v ${gv} (‖g‖ ${gn})`);
  });
}

// Full fine-tuning: every tensor (embeddings, norms, biases, projections, output head) gets a
// gradient; each is checked the same way.
for (const fam of ['llama', 'gpt2', 'qwen3', 'gemma2', 'falcon40b', 'bloom'] as const) {
  test(`${fam}: full fine-tuning gradients of every tensor match finite differences`, () => {
    const cfg = tinyConfig(fam);
    const model = tinyModel(cfg, { seed: 7 });
    const full = new FullParams(model, model.heap);
    const tm = new TrainModel(model, { kernels: referenceKernels, maxTokens: 16, lora: null, full, logitRows: 5 });
    const b = batch(12, cfg.vocabSize);
    const loss = () => { const s = tm.step(b, { backward: false }); return s.lossSum / s.tokens; };
    const n = tm.step(b, { backward: false }).tokens;
    full.zeroGrad();
    tm.step(b, { gradScale: 1 / n });
    const params = full.tensors();
    const grads = params.map((p) => Float32Array.from(p.grad));
    let checked = 0;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i], p = params[i];
      const norm = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
      if (norm < 1e-4) continue;
      const saved = Float32Array.from(p.value);
      const h = 2e-2;
      for (let j = 0; j < saved.length; j++) p.value[j] = saved[j] + (h * g[j]) / norm;
      tm.refreshWeights();
      const lp = loss();
      for (let j = 0; j < saved.length; j++) p.value[j] = saved[j] - (h * g[j]) / norm;
      tm.refreshWeights();
      const lm = loss();
      p.value.set(saved);
      tm.refreshWeights();
      const num = (lp - lm) / (2 * h);
      assert.ok(Math.abs(num - norm) <= 3e-2 * norm + 2e-4, `${p.name}: finite difference ${num} vs ‖g‖ ${norm}`);
      checked++;
    }
    assert.ok(checked >= params.length - 2, `only ${checked}/${params.length} tensors had a gradient`);
    tm.free(); full.free();
  });
}

// The training forward must compute what the inference forward computes: per family, with an
// adapter, the loss of each packed document equals cross-entropy of Engine.step's logits for
// that document alone (attention masked at boundaries, positions restarting).
for (const fam of ['llama', 'gpt2', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'mistral', 'llama3', 'yarn', 'falcon', 'falcon40b', 'bloom', 'chatglm'] as const) {
  test(`${fam}: the training forward equals the inference forward (packed documents, LoRA)`, () => {
    const cfg = tinyConfig(fam);
    const model = tinyModel(cfg, { seed: 7 });
    const lora = new TrainableLora(model, { targets: 'all-linear', rank: 2, alpha: 4 }, { seed: 1 });
    const r = new Xorshift(4);
    for (const p of lora.params.values()) for (let i = 0; i < p.b.length; i++) p.b[i] = (r.next() * 2 - 1) * 0.3;
    const tm = new TrainModel(model, { kernels: referenceKernels, maxTokens: 16, lora, backward: false });
    const b = batch(13, cfg.vocabSize);
    const res = tm.step(b, { backward: false });
    const eng = new Engine(model, referenceKernels, { kvTokens: 64 });
    const ad = eng.createAdapter(lora.toFactors());
    const V = cfg.vocabSize;
    b.docs.forEach((d, di) => {
      const s = eng.createSequence();
      const toks = Array.from(b.tokens as Int32Array).slice(d.start, d.start + d.len);
      const logits = eng.step([{ seq: s, tokens: toks, adapter: ad, logits: 'all' }])[0].logits!;
      eng.freeSequence(s);
      let want = 0;
      for (let t = 0; t < d.len; t++) {
        const y = b.targets[d.start + t];
        if (y < 0) continue;
        const row = logits.subarray(t * V, (t + 1) * V);
        let mx = -Infinity;
        for (const v of row) mx = Math.max(mx, v);
        let z = 0;
        for (const v of row) z += Math.exp(v - mx);
        want += mx + Math.log(z) - row[y];
      }
      assert.ok(Math.abs(res.docLoss[di] - want) < 1e-4 * Math.max(1, want), `doc ${di}: training ${res.docLoss[di]} vs inference ${want}`);
    });
    tm.free();
  });
}
