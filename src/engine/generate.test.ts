import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from './engine.ts';
import { referenceKernels } from './kernels/reference.ts';
import { tinyConfig, tinyModel } from './model/fixture.ts';
import { BatchGenerator, generate, generateText } from './generate.ts';
import { argmax } from './sampling.ts';

// Only printable ASCII may be generated, so text and bytes correspond one to one.
const ASCII: Record<number, number> = {};
for (let t = 0; t < 260; t++) if (t < 32 || t >= 127) ASCII[t] = -1000;

function engine(opts = {}) {
  return new Engine(tinyModel(tinyConfig('qwen2', { contextLength: 128 }), { seed: 21 }), referenceKernels, { kvTokens: 1024, maxBatchTokens: 16, ...opts });
}

test('greedy generation equals a hand-written argmax loop over engine.step', async () => {
  const eng = engine();
  const prompt = [72, 101, 108, 108, 111];
  const r = await generateText(eng, { prompt, maxTokens: 12, sampling: { temperature: 0, logitBias: ASCII } });
  const s = eng.createSequence();
  let logits = eng.step([{ seq: s, tokens: prompt, logits: 'last' }])[0].logits!;
  const want: number[] = [];
  for (let i = 0; i < 12; i++) {
    for (const [k, b] of Object.entries(ASCII)) logits[Number(k)] += b;
    const t = argmax(logits);
    want.push(t);
    logits = eng.step([{ seq: s, tokens: [t], logits: 'last' }])[0].logits!;
  }
  assert.deepEqual(r.tokens, want);
  assert.equal(r.finishReason, 'length');
  assert.equal(r.text, String.fromCharCode(...want));
  assert.equal(r.completionTokens, 12);
  assert.equal(r.promptTokens, 5);
  assert.ok(r.timings.firstTokenMs! >= r.timings.admittedMs && r.timings.totalMs >= r.timings.firstTokenMs!);
});

test('seeded sampling reproduces, alone or batched with other requests', async () => {
  const eng = engine();
  const req = (seed: number) => ({ prompt: 'abc', maxTokens: 10, sampling: { seed, temperature: 1.2, topK: 40, topP: 0.95, logitBias: ASCII } });
  const a = await generateText(eng, req(7));
  const b = await generateText(eng, req(7));
  assert.deepEqual(a.tokens, b.tokens);
  const all = await Promise.all([generateText(eng, req(9)), generateText(eng, req(7)), generateText(eng, { ...req(7), prompt: 'a longer prompt here' })]);
  assert.deepEqual(all[1].tokens, a.tokens);
  assert.notDeepEqual(all[0].tokens, a.tokens);
});

test('continuous batching: more requests than slots, different lengths, all equal to running alone', async () => {
  const eng = engine();
  const prompts = ['one', 'two two', 'three three three', 'f', 'five five five five five'];
  const alone: Awaited<ReturnType<typeof generateText>>[] = [];
  for (const p of prompts) alone.push(await generateText(eng, { prompt: p, maxTokens: 6 + p.length % 4, sampling: { temperature: 0, logitBias: ASCII } }));
  const gen = new BatchGenerator(eng, { maxRunning: 2, tokenBudget: 8 });
  const streams = prompts.map((p) => gen.submit({ prompt: p, maxTokens: 6 + p.length % 4, sampling: { temperature: 0, logitBias: ASCII } }));
  assert.equal(gen.waitingCount, 5);
  const res = await Promise.all(streams.map(async (s) => { let t = ''; for await (const c of s) t += c.text; return { t, r: await s.result }; }));
  res.forEach(({ t, r }, i) => {
    assert.deepEqual(r.tokens, alone[i].tokens, `request ${i}`);
    assert.equal(t, r.text);
  });
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
});

test('stop sequences match across token boundaries and are not returned', async () => {
  const eng = engine();
  const base = await generateText(eng, { prompt: 'xyz', maxTokens: 24, sampling: { temperature: 0, logitBias: ASCII } });
  const stop = base.text.slice(9, 12); // spans three tokens
  const cut = base.text.indexOf(stop);
  const s = generate(eng, { prompt: 'xyz', maxTokens: 24, stop: ['#never#', stop], sampling: { temperature: 0, logitBias: ASCII } });
  const deltas: string[] = [];
  for await (const c of s) deltas.push(c.text);
  const r = await s.result;
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.stopSequence, stop);
  assert.equal(r.text, base.text.slice(0, cut));
  assert.equal(deltas.join(''), r.text, 'no stop text leaked into the stream');
});

test('EOS ends with "stop" (unless ignoreEos); stopTokenIds too', async () => {
  const eng = engine();
  const r = await generateText(eng, { prompt: 'hi', maxTokens: 5, sampling: { temperature: 0, logitBias: { 256: 1000 } } });
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.text, '');
  assert.deepEqual(r.tokens, [256]);
  const r2 = await generateText(eng, { prompt: 'hi', maxTokens: 5, ignoreEos: true, sampling: { temperature: 0, logitBias: { 256: 1000 } } });
  assert.equal(r2.finishReason, 'length');
  assert.equal(r2.tokens.length, 5);
  const r3 = await generateText(eng, { prompt: 'hi', maxTokens: 5, stopTokenIds: [65], sampling: { temperature: 0, logitBias: { 65: 1000 } } });
  assert.equal(r3.finishReason, 'stop');
});

test('cancellation by AbortSignal and by leaving the loop frees the sequence', async () => {
  const eng = engine();
  const ac = new AbortController();
  const s = generate(eng, { prompt: 'abc', maxTokens: 100, signal: ac.signal, sampling: { temperature: 0, logitBias: ASCII } });
  let n = 0;
  for await (const c of s) { n += c.tokens.length; if (n === 3) ac.abort(); }
  const r = await s.result;
  assert.equal(r.finishReason, 'abort');
  assert.ok(r.tokens.length < 10, `stopped after ${r.tokens.length}`);
  const s2 = generate(eng, { prompt: 'abc', maxTokens: 100, sampling: { temperature: 0 } });
  for await (const _ of s2) break;
  assert.equal((await s2.result).finishReason, 'abort');
  const pre = new AbortController();
  pre.abort();
  assert.equal((await generateText(eng, { prompt: 'abc', signal: pre.signal })).finishReason, 'abort');
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
});

test('logprobs per token; bad requests fail at submit with clear errors', async () => {
  const eng = engine();
  const r = await generateText(eng, { prompt: 'abc', maxTokens: 3, sampling: { temperature: 0, logprobs: 2 } });
  assert.equal(r.logprobs!.length, 3);
  for (const lp of r.logprobs!) {
    assert.ok(lp.logprob! <= 0);
    assert.equal(lp.top!.length, 2);
    assert.equal(lp.top![0].token, lp.token); // greedy: chosen = most likely
  }
  assert.throws(() => generate(eng, { prompt: 'x'.repeat(128) }), (e: any) => e.code === 'context_length_exceeded');
  assert.throws(() => generate(eng, { prompt: [] }), (e: any) => e.code === 'empty_prompt');
  assert.throws(() => generate(eng, { prompt: 'a', sampling: { topP: 2 } }), (e: any) => e.param === 'top_p');
  // max tokens capped by the context
  const long = await generateText(eng, { prompt: 'y'.repeat(120), maxTokens: 50, sampling: { temperature: 0 } });
  assert.equal(long.completionTokens + long.promptTokens <= 128, true);
});

test('an adapter unloaded mid-generation fails only its own request', async () => {
  const eng = engine();
  const r = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.1);
  const ad = eng.createAdapter({ 'blk.0.attn_q.weight': { a: r(2 * 64), b: r(64 * 2), rank: 2, alpha: 4 } });
  const withAd = generate(eng, { prompt: 'abc', maxTokens: 40, adapter: ad, sampling: { temperature: 0 } });
  const plain = generateText(eng, { prompt: 'abd', maxTokens: 20, sampling: { temperature: 0 } });
  await assert.rejects((async () => {
    for await (const c of withAd) if (c.tokens.length) eng.unloadAdapter(ad);
  })(), (e: any) => e.code === 'adapter_not_loaded');
  await assert.rejects(withAd.result, (e: any) => e.code === 'adapter_not_loaded');
  assert.equal((await plain).completionTokens, 20);
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
});

test('a failure while handling one request fails that request only; the generator keeps running', async () => {
  const eng = engine();
  const tk = eng.tokenizer as { decodeIncremental: (o?: object) => (id: number) => string };
  const real = tk.decodeIncremental;
  tk.decodeIncremental = () => () => { throw new Error('cannot decode'); };
  const bad = generate(eng, { prompt: 'abc', maxTokens: 5, sampling: { temperature: 0 } });
  tk.decodeIncremental = real;
  const good = generateText(eng, { prompt: 'abd', maxTokens: 5, sampling: { temperature: 0 } });
  await assert.rejects(bad.result, /cannot decode/);
  assert.equal((await good).completionTokens, 5);
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
});

test('stress: 30 requests over 4 adapters and the base, tight KV, random cancels — every stream ends, KV comes back', async () => {
  const eng = new Engine(tinyModel(tinyConfig('llama', { contextLength: 128 }), { seed: 2 }), referenceKernels, { kvTokens: 160, maxBatchTokens: 24, blockSize: 8 });
  const r = (seed: number, n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 0.2);
  const adapters = [1, 2, 3, 4].map((k) => eng.createAdapter({ [`blk.${k % 2}.attn_v.weight`]: { a: r(k, 2 * 64), b: r(k + 9, 32 * 2), rank: 2, alpha: 4 } }));
  const gen = new BatchGenerator(eng, { maxRunning: 6 });
  const jobs = Array.from({ length: 30 }, (_, i) => {
    const ac = new AbortController();
    const s = gen.submit({
      prompt: 'request number ' + i + ' '.repeat(i % 7), maxTokens: 5 + (i * 7) % 30, adapter: i % 5 === 0 ? null : adapters[i % 4],
      signal: ac.signal, sampling: { seed: i, temperature: 0.9, topP: 0.9 },
    });
    return (async () => {
      let n = 0;
      for await (const c of s) { n += c.tokens.length; if (i % 6 === 1 && n >= 2) ac.abort(); }
      return s.result;
    })();
  });
  const res = await Promise.all(jobs);
  res.forEach((x, i) => {
    if (i % 6 === 1) assert.ok(x.finishReason === 'abort' || x.completionTokens <= 3, `request ${i} cancelled`);
    else assert.ok(x.finishReason === 'length' || x.finishReason === 'stop', `request ${i}: ${x.finishReason}`);
  });
  assert.equal(gen.runningCount + gen.waitingCount, 0);
  assert.equal(eng.kv.freeBlocks, eng.kv.numBlocks);
});
