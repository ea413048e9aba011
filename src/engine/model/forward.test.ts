// Forward pass over every family: a batched step of several sequences at different positions
// equals each sequence run alone; prefill-at-once equals token-by-token decode; chunked prefill
// (maxBatchTokens smaller than the prompt) equals one call; forked sequences continue correctly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../engine.ts';
import { referenceKernels } from '../kernels/reference.ts';
import { tinyConfig, tinyModel, rng } from './fixture.ts';

const VARIANTS = ['llama', 'llama3', 'mistral', 'qwen2', 'yarn', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'gpt2', 'bloom', 'falcon', 'falcon40b', 'chatglm'] as const;

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
const toks = (seed: number, n: number) => { const r = rng(seed); return Array.from({ length: n }, () => Math.floor(r() * 256)); };

for (const fam of VARIANTS) {
  test(`${fam}: batched step == each alone; prefill == decode; chunked prefill`, () => {
    const model = tinyModel(tinyConfig(fam), { seed: 11 });
    const eng = new Engine(model, referenceKernels, { maxBatchTokens: 8, kvTokens: 512, blockSize: 4 });
    const V = model.config.vocabSize;
    const prompts = [toks(1, 9), toks(2, 3), toks(3, 14)];

    // Each alone: prefill, then two decode tokens; keep the logits.
    const alone = prompts.map((p) => {
      const s = eng.createSequence();
      const pre = eng.step([{ seq: s, tokens: p, logits: 'all' }])[0].logits!;
      const d1 = eng.step([{ seq: s, tokens: [65], logits: 'last' }])[0].logits!;
      eng.freeSequence(s);
      return { pre, d1 };
    });
    for (const a of alone) {
      assert.ok(a.pre.every(Number.isFinite));
      assert.ok(maxDiff(a.pre.subarray(0, V), a.pre.subarray(V, 2 * V)) > 1e-3, 'logits depend on the token');
    }

    // Token by token equals prefill.
    const s0 = eng.createSequence();
    for (let t = 0; t < prompts[0].length; t++) {
      const l = eng.step([{ seq: s0, tokens: [prompts[0][t]], logits: 'last' }])[0].logits!;
      assert.ok(maxDiff(l, alone[0].pre.subarray(t * V, (t + 1) * V)) < 2e-4, `decode t=${t}`);
    }
    eng.freeSequence(s0);

    // Batched: sequences at different positions in one step (prefill of one, decode of others).
    const seqs = prompts.map(() => eng.createSequence());
    eng.step([{ seq: seqs[0], tokens: prompts[0], logits: 'none' }]);
    const mixed = eng.step([
      { seq: seqs[1], tokens: prompts[1], logits: 'all' },
      { seq: seqs[0], tokens: [65], logits: 'last' },
      { seq: seqs[2], tokens: prompts[2], logits: 'last' },
    ]);
    assert.ok(maxDiff(mixed[0].logits!, alone[1].pre) < 2e-4, 'seq1 prefill in batch');
    assert.ok(maxDiff(mixed[1].logits!, alone[0].d1) < 2e-4, 'seq0 decode in batch');
    const l2 = alone[2].pre.subarray((prompts[2].length - 1) * V);
    assert.ok(maxDiff(mixed[2].logits!, l2) < 2e-4, 'seq2 (spans two forward calls) last logits');
    const both = eng.step([{ seq: seqs[2], tokens: [65], logits: 'last' }, { seq: seqs[1], tokens: [65], logits: 'last' }]);
    assert.ok(maxDiff(both[0].logits!, alone[2].d1) < 2e-4);
    assert.ok(maxDiff(both[1].logits!, alone[1].d1) < 2e-4);
  });
}

test('quantized weights (q8_0) run and stay close to f32', () => {
  const cfg = tinyConfig('llama');
  const f = new Engine(tinyModel(cfg, { seed: 5 }), referenceKernels, { kvTokens: 64 });
  const q = new Engine(tinyModel(cfg, { seed: 5, dtype: 'q8_0' }), referenceKernels, { kvTokens: 64 });
  const p = toks(7, 6);
  const a = f.step([{ seq: f.createSequence(), tokens: p, logits: 'last' }])[0].logits!;
  const b = q.step([{ seq: q.createSequence(), tokens: p, logits: 'last' }])[0].logits!;
  const d = maxDiff(a, b);
  assert.ok(d > 0 && d < 0.1, `q8_0 vs f32 max diff ${d}`);
});

test('fork shares the prefix, copy-on-write keeps both continuations right', () => {
  const model = tinyModel(tinyConfig('qwen2'), { seed: 3 });
  const eng = new Engine(model, referenceKernels, { blockSize: 4, kvTokens: 64 });
  const p = toks(9, 6); // ends mid-block: the fork shares a partial block
  const s = eng.createSequence();
  eng.step([{ seq: s, tokens: p, logits: 'none' }]);
  const free0 = eng.kv.freeBlocks;
  const f = eng.forkSequence(s);
  assert.equal(eng.kv.freeBlocks, free0, 'fork allocates nothing');
  const [a, b] = eng.step([{ seq: s, tokens: [1, 2], logits: 'last' }, { seq: f, tokens: [3, 4], logits: 'last' }]);
  const r1 = eng.createSequence(), r2 = eng.createSequence();
  const [ra, rb] = eng.step([{ seq: r1, tokens: [...p, 1, 2], logits: 'last' }, { seq: r2, tokens: [...p, 3, 4], logits: 'last' }]);
  assert.ok(maxDiff(a.logits!, ra.logits!) < 2e-4);
  assert.ok(maxDiff(b.logits!, rb.logits!) < 2e-4);
  for (const x of [s, f, r1, r2]) eng.freeSequence(x);
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks, 'all blocks returned');
});

test('bad input: context exceeded, KV full, bad token, freed sequence, config/weights mismatch', () => {
  const model = tinyModel(tinyConfig('llama'), { seed: 1 });
  const eng = new Engine(model, referenceKernels, { kvTokens: 80, blockSize: 16 });
  const s = eng.createSequence();
  assert.throws(() => eng.step([{ seq: s, tokens: toks(1, 65), logits: 'last' }]), (e: any) => e.code === 'context_length_exceeded' && /context length of 64/.test(e.message));
  assert.equal(s.length, 0);
  assert.throws(() => eng.step([{ seq: s, tokens: [300], logits: 'last' }]), (e: any) => e.code === 'invalid_token');
  const a = eng.createSequence(), b = eng.createSequence();
  eng.step([{ seq: a, tokens: toks(1, 60), logits: 'none' }]); // 4 of 5 blocks
  assert.throws(() => eng.step([{ seq: b, tokens: toks(1, 20), logits: 'none' }]), (e: any) => e.code === 'kv_cache_full');
  eng.freeSequence(a);
  assert.throws(() => eng.step([{ seq: a, tokens: [1], logits: 'none' }]), (e: any) => e.code === 'sequence_freed');
  eng.step([{ seq: b, tokens: toks(1, 20), logits: 'none' }]);
  const bad = tinyModel(tinyConfig('llama', { ffnDim: 64 }), { seed: 1 });
  bad.config.ffnDim = 96;
  const bad2 = tinyModel(tinyConfig('llama'), { seed: 1 });
  bad2.tensors.delete('blk.1.attn_k.weight');
  assert.throws(() => new Engine(bad2, referenceKernels), /missing tensor blk\.1\.attn_k\.weight/);
  assert.throws(() => new Engine(bad, referenceKernels), /ffn_gate\.weight is 64×64, config expects 96×64/);
  assert.throws(() => new Engine(model, referenceKernels, { maxBatchTokens: 0 }), (e: any) => e.param === 'maxBatchTokens');
});

test('a forward tape sees every layer\'s activations with their shapes', () => {
  const model = tinyModel(tinyConfig('qwen2'), { seed: 2 });
  const eng = new Engine(model, referenceKernels, { kvTokens: 64 });
  const seen = new Map<string, number[]>();
  let final: Float32Array | null = null;
  const tape = { record(l: number, name: string, d: Float32Array, shape: readonly number[]) {
    seen.set(`${l}.${name}`, [...shape]);
    assert.equal(d.length, shape.reduce((a, b) => a * b, 1), `${name} length matches its shape`);
    if (name === 'final') final = d.slice();
  } };
  const s = eng.createSequence();
  const kvSeq = (s as unknown as { kv: import('../kv-cache.ts').SeqKv }).kv;
  eng.kv.reserve(kvSeq, 3);
  const hid = eng.runner.forward({ M: 3, tokens: [1, 2, 3], seqs: [{ rowStart: 0, rows: 3, pos0: 0, kv: kvSeq }], lora: [], outRows: [0, 2] }, tape);
  assert.deepEqual(seen.get('0.q'), [3, 4, 16]);
  assert.deepEqual(seen.get('1.act'), [3, 96]);
  assert.deepEqual(seen.get('-1.final'), [2, 64]);
  for (const n of ['x', 'attn_in', 'k', 'v', 'attn', 'ffn_in', 'gate', 'up']) assert.ok(seen.has(`1.${n}`), n);
  assert.deepEqual(final, hid.slice());
});
