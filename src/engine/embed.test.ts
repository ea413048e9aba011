import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from './engine.ts';
import { referenceKernels } from './kernels/reference.ts';
import { tinyConfig, tinyModel } from './model/fixture.ts';
import { embed } from './embed.ts';

test('pooled embeddings: mean/last/cls from the final hidden states, normalised, batched == alone', () => {
  const eng = new Engine(tinyModel(tinyConfig('llama'), { seed: 4 }), referenceKernels, { kvTokens: 256, maxBatchTokens: 8 });
  const texts = ['hello world', 'a', 'hello world!'];
  const [a, b, c] = embed(eng, texts);
  assert.equal(a.length, 64);
  for (const v of [a, b, c]) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  const alone = embed(eng, 'hello world')[0];
  for (let i = 0; i < 64; i++) assert.ok(Math.abs(alone[i] - a[i]) < 1e-5);
  const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0);
  assert.ok(dot(a, c) > dot(a, b), 'similar texts are closer');
  // last/cls pooling equal the hidden row the step returns for that position
  const s = eng.createSequence();
  const h = eng.step([{ seq: s, tokens: [...new TextEncoder().encode('hello')], logits: 'none', hidden: true }])[0].hidden!;
  eng.freeSequence(s);
  const last = embed(eng, 'hello', { pooling: 'last', normalize: false })[0];
  const cls = embed(eng, 'hello', { pooling: 'cls', normalize: false })[0];
  for (let i = 0; i < 64; i++) {
    assert.ok(Math.abs(last[i] - h[4 * 64 + i]) < 1e-6);
    assert.ok(Math.abs(cls[i] - h[i]) < 1e-6);
  }
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
  assert.throws(() => embed(eng, 'x'.repeat(65)), (e: any) => e.code === 'context_length_exceeded');
});
