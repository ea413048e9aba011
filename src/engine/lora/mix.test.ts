// Dynamic merge (Engine.mixAdapters): a request-time weighted sum of LoRA deltas equals the base
// model with both deltas folded into its weights (W' = W + w_a·s_a·B_a·A_a + w_b·s_b·B_b·A_b,
// built independently by mergeTinyLora), and rows with a merged adapter batch beside rows of its
// parts and of the base in one step without changing any of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchGenerator, createEngine, loadModel } from '../index.ts';
import { buildTinyLora, buildTinyModel, mergeTinyLora } from '../testing/index.ts';

const close = (a: Float32Array, b: Float32Array, what: string) => {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  assert.ok(worst < 2e-3, `${what}: worst relative difference ${worst}`);
};

test('merged pair (0.7, 0.3) = the base with both deltas folded in; batched beside its parts and the base', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-mix-'));
  try {
    const base = buildTinyModel('llama', join(dir, 'base'), { format: 'gguf', seed: 5 });
    const a = buildTinyLora(base, join(dir, 'a'), { rank: 2, seed: 1 });
    const b = buildTinyLora(base, join(dir, 'b'), { rank: 4, seed: 2 });
    const wa = 0.7, wb = 0.3;
    const folded = buildTinyModel('llama', join(dir, 'folded'), { format: 'gguf', seed: 5, hfTensors: mergeTinyLora({ ...base, hf: mergeTinyLora(base, a, wa) }, b, wb) });

    const engine = await createEngine(await loadModel(base.ggufPath!), { kvTokens: 1024 });
    const ref = await createEngine(await loadModel(folded.ggufPath!), { kvTokens: 512 });
    const onlyA = await createEngine(await loadModel(base.ggufPath!), { kvTokens: 512 });
    try {
      const la = await engine.loadAdapter(a.peftDir);
      const lb = await engine.loadAdapter(b.peftDir);
      const mix = engine.mixAdapters([{ adapter: la, weight: wa }, { adapter: lb, weight: wb }]);
      assert.equal(mix.bytes, 0);
      assert.equal(mix.rank, 4);
      const ids = [1, 5, 9, 14, 3, 7, 2, 11];

      // alone
      const got = engine.step([{ seq: engine.createSequence(), tokens: ids, adapter: mix, logits: 'all' }])[0].logits!;
      const want = ref.step([{ seq: ref.createSequence(), tokens: ids, logits: 'all' }])[0].logits!;
      close(got, want, 'merged vs folded');

      // in one step with rows of the base, of part A and of the merge: each row as if alone
      const laAlone = await onlyA.loadAdapter(a.peftDir);
      const wantA = onlyA.step([{ seq: onlyA.createSequence(), tokens: ids, adapter: laAlone, logits: 'all' }])[0].logits!;
      const wantBase = onlyA.step([{ seq: onlyA.createSequence(), tokens: ids, logits: 'all' }])[0].logits!;
      const [rMix, rBase, rA] = engine.step([
        { seq: engine.createSequence(), tokens: ids, adapter: mix, logits: 'all' },
        { seq: engine.createSequence(), tokens: ids, logits: 'all' },
        { seq: engine.createSequence(), tokens: ids, adapter: la, logits: 'all' },
      ]);
      close(rMix.logits!, want, 'merged row in a mixed step');
      close(rBase.logits!, wantBase, 'base row in a mixed step');
      close(rA.logits!, wantA, 'adapter A row in a mixed step');

      // weights: 1·A + 0·B is adapter A; a bad weight or a merged part is refused
      const justA = engine.mixAdapters([{ adapter: la, weight: 1 }, { adapter: lb, weight: 0 }]);
      close(engine.step([{ seq: engine.createSequence(), tokens: ids, adapter: justA, logits: 'all' }])[0].logits!, wantA, '1·A + 0·B');
      for (const w of [-0.1, NaN, Infinity]) {
        assert.throws(() => engine.mixAdapters([{ adapter: la, weight: w }]), (e: Error & { code?: string }) => e.code === 'invalid_merge_weight');
      }
      assert.throws(() => engine.mixAdapters([{ adapter: mix, weight: 1 }]), (e: Error & { code?: string }) => e.code === 'invalid_merge');
      // a part unloaded under a merge: the step refuses instead of reading freed memory
      engine.unloadAdapter(lb);
      assert.throws(() => engine.step([{ seq: engine.createSequence(), tokens: ids, adapter: mix, logits: 'last' }]), (e: Error & { code?: string }) => e.code === 'adapter_not_loaded');
    } finally {
      engine.close(); ref.close(); onlyA.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a part unloaded under a running merge fails that request only; the batch goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-mix-'));
  try {
    const base = buildTinyModel('llama', join(dir, 'base'), { format: 'gguf', seed: 5 });
    const engine = await createEngine(await loadModel(base.ggufPath!), { kvTokens: 1024 });
    try {
      const la = await engine.loadAdapter(buildTinyLora(base, join(dir, 'a'), { rank: 2, seed: 1 }).peftDir);
      const lb = await engine.loadAdapter(buildTinyLora(base, join(dir, 'b'), { rank: 2, seed: 2 }).peftDir);
      const mix = engine.mixAdapters([{ adapter: la, weight: 0.5 }, { adapter: lb, weight: 0.5 }]);
      const gen = new BatchGenerator(engine, { maxRunning: 4 });
      const merged = gen.submit({ prompt: [1, 2, 3], maxTokens: 40, ignoreEos: true, adapter: mix, sampling: { temperature: 0 } });
      const plain = gen.submit({ prompt: [1, 2, 3], maxTokens: 40, ignoreEos: true, adapter: la, sampling: { temperature: 0 } });
      let n = 0;
      for await (const _ of plain) if (++n === 3) engine.unloadAdapter(lb);
      assert.equal((await plain.result).completionTokens, 40);
      await assert.rejects(merged.result, (e: Error & { code?: string }) => e.code === 'adapter_not_loaded');
    } finally {
      engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
