// End to end through the public entry (index.ts): a tiny GGUF with its own vocab and chat
// template → loadModel → createEngine (the WASM kernel set) → chat-templated streaming
// generation, embeddings, and the same forward on the reference kernels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, createEngine, generate, embed, referenceKernels, Engine } from './index.ts';
import { buildTinyModel } from './testing/tiny-models.ts';

test('tiny GGUF: chat template → streamed greedy generation; fast kernels agree with the reference', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ol-engine-'));
  try {
    const tm = buildTinyModel('qwen2', join(dir, 'm'), { format: 'gguf' });
    const model = await loadModel(tm.ggufPath!);
    const engine = await createEngine(model, { kvTokens: 512 });
    try {
      const prompt = model.tokenizer.applyChatTemplate([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true });
      assert.match(prompt, /<\|im_start\|>assistant\n$/);
      const stream = generate(engine, { prompt, maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } });
      let text = '';
      for await (const c of stream) text += c.text;
      const r = await stream.result;
      assert.equal(r.completionTokens, 12);
      assert.equal(text, r.text);
      assert.equal(r.text, model.tokenizer.decode(r.tokens, { skipSpecial: true }));
      assert.equal(r.promptTokens, model.tokenizer.encode(prompt).length);
      const viaMessages = generate(engine, { messages: [{ role: 'user', content: 'Hello there' }], maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } });
      assert.deepEqual((await viaMessages.result).tokens, r.tokens);

      // The same prompt on the reference kernels: same greedy tokens, logits within 1e-3.
      const ids = model.tokenizer.encode(prompt);
      const ref = new Engine(model, referenceKernels, { kvTokens: 512 });
      const a = engine.step([{ seq: engine.createSequence(), tokens: ids, logits: 'all' }])[0].logits!;
      const b = ref.step([{ seq: ref.createSequence(), tokens: ids, logits: 'all' }])[0].logits!;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
      assert.ok(worst < 1e-3, `fast vs reference ${worst}`);

      const [e1, e2] = embed(engine, ['Hello there', 'Hello there!']);
      assert.equal(e1.length, model.config.dModel);
      assert.ok(Math.abs(Math.hypot(...e1) - 1) < 1e-5 && Math.abs(Math.hypot(...e2) - 1) < 1e-5);
    } finally {
      engine.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
