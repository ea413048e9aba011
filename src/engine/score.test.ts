import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from './engine.ts';
import { referenceKernels } from './kernels/reference.ts';
import { tinyConfig, tinyModel } from './model/fixture.ts';
import { scoreTokens } from './score.ts';

test('scoreTokens: per-token log-probabilities equal log-softmax of one full step, chunked or not; adapters change them', () => {
  const m = tinyModel(tinyConfig('gemma2'), { seed: 6 });
  const eng = new Engine(m, referenceKernels, { kvTokens: 256, maxBatchTokens: 16 });
  const toks = [...new TextEncoder().encode('the quick brown fox jumps over the lazy dog')];
  const V = m.config.vocabSize;
  const all = eng.step([{ seq: eng.createSequence(), tokens: toks, logits: 'all' }])[0].logits!;
  const want = toks.slice(1).map((next, t) => {
    const row = all.subarray(t * V, (t + 1) * V);
    const mx = Math.max(...row);
    return row[next] - mx - Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
  });
  for (const chunk of [5, 64]) {
    const r = scoreTokens(eng, toks, { chunk });
    assert.equal(r.logprobs.length, toks.length - 1);
    r.logprobs.forEach((lp, i) => assert.ok(Math.abs(lp - want[i]) < 1e-4, `chunk ${chunk} pos ${i}`));
    assert.ok(Math.abs(r.nll + want.reduce((a, b) => a + b)) < 1e-3);
  }
  const ad = eng.createAdapter({ 'blk.0.ffn_down.weight': { a: Float32Array.from({ length: 2 * 96 }, (_, i) => Math.sin(i)), b: Float32Array.from({ length: 64 * 2 }, (_, i) => Math.cos(i)), rank: 2, alpha: 2 } });
  assert.notEqual(scoreTokens(eng, toks, { adapter: ad }).nll, scoreTokens(eng, toks).nll);
  assert.throws(() => scoreTokens(eng, [1]), /at least two tokens/);
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks - 3); // only the unscored first sequence holds blocks
});
