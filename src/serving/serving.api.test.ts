// Serving end to end against a real node (embedded Anvil, real store, the factory's import
// route) through the HTTP API: a tiny base model in the catalog, two LoRA adapters imported (one
// registered on chain). Greedy outputs through the API equal the engine's own; two adapters
// share batch steps; streams concatenate to the plain answer; bad input is a 4xx; capacity is a
// 429; a client that disconnects frees its sequence.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalAccount } from 'viem/accounts';
import { importAdapterFile, siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { ModelCatalog } from '../models/index.ts';
import { FactoryRepo } from '../factory/index.ts';
import { buildTinyLora, buildTinyModel } from '../engine/testing/index.ts';
import { createEngine, generateText, loadModel, type Engine, type GenerateRequest, type LoraAdapter } from '../engine/index.ts';
import { ModelServer, type UsageRecord } from './index.ts';
import { actions } from '../chain/index.ts';
import { depositToEscrow } from '../rewards/index.ts';

let node: RunningNode & { dataDir: string };
let server: ModelServer;
let owner: LocalAccount;
let token = '';
let engine: Engine;
let loraA: LoraAdapter, loraB: LoraAdapter;
let nameA = '', nameB = '', idA = '';
let ggufPath = '';
const usage: UsageRecord[] = [];

const post = (url: string, payload: unknown, auth = true) =>
  node.app.inject({ method: 'POST', url, payload: payload as never, headers: auth ? { authorization: `Bearer ${token}` } : {} });
const get = (url: string, auth = false) => node.app.inject({ method: 'GET', url, headers: auth ? { authorization: `Bearer ${token}` } : {} });
const stats = () => server.stats().bases.find((b) => b.base === 'tiny-llama')!;
const MESSAGES = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is the code of alpha?' }];
const direct = (req: GenerateRequest) => generateText(engine, { ignoreEos: true, sampling: { temperature: 0 }, ...req });

/** Parse an SSE body into its data payloads (the last is "[DONE]"). */
const frames = (body: string) => body.split('\n\n').filter((f) => f.startsWith('data: ')).map((f) => f.slice(6));

before(async () => {
  node = await startTestNode({
    listen: true,
    // Small bounds so the capacity test can fill them: 2 sequences running, 1 queued.
    extend: (s) => {
      server = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo: new FactoryRepo(s.store.db), config: { maxRunning: 2, maxQueued: 1, kvTokens: 16384, maxAdapters: 4 } });
      s.modules.serving = server;
    },
  });
  server.events.on('usage', (u: UsageRecord) => usage.push(u));
  owner = node.services.keyring!.accounts[1];
  token = await siweToken(node, owner);
  // payable: adapter A has a price, so the caller prepays into InferenceEscrow and authorizes the node to charge it
  await depositToEscrow(node.services.chain, { account: owner, amount: 10n ** 18n });
  await actions.approveSpend(node.services.chain, { account: owner, cap: 10n ** 18n, expiry: BigInt(Math.floor(Date.now() / 1000) + 86_400) });

  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 4096 } });
  ggufPath = tiny.ggufPath!;
  await new ModelCatalog(node.dataDir).add(ggufPath, 'tiny-llama');
  const a = buildTinyLora(tiny, join(node.dataDir, 'lora-a'), { rank: 2, seed: 1 });
  const b = buildTinyLora(tiny, join(node.dataDir, 'lora-b'), { rank: 4, seed: 2 });
  const ia = await importAdapterFile(node, token, a.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:a:0001', price_per_1k_input: '5' });
  assert.equal(ia.statusCode, 201, ia.body);
  const ib = await importAdapterFile(node, token, b.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:b:0002', register: false });
  assert.equal(ib.statusCode, 201, ib.body);
  nameA = ia.json().name; idA = ia.json().model_id; nameB = ib.json().name;
  assert.ok(idA);

  // The engine's own answers, for comparison: same files, loaded outside the node.
  engine = await createEngine(await loadModel(tiny.ggufPath!));
  loraA = await engine.loadAdapter(a.ggufPath!);
  loraB = await engine.loadAdapter(b.ggufPath);
});
after(async () => {
  engine?.close();
  await node?.stop();
});

describe('serving API', () => {
  test('GET /v1/models: the catalog base and the imported adapters with their base and on-chain id (the unregistered one for its owner only)', async () => {
    const anon = (await get('/v1/models')).json().data.map((m: any) => m.id);
    assert.ok(anon.includes(nameA) && !anon.includes(nameB), 'an unregistered fine-tuned model is private to its owner');
    const res = await get('/v1/models', true);
    assert.equal(res.statusCode, 200);
    const list = res.json();
    assert.equal(list.object, 'list');
    const by = new Map(list.data.map((m: any) => [m.id, m]));
    for (const id of ['ft:tiny-llama:a:0001', 'ft:tiny-llama:b:0002', 'tiny-llama']) assert.ok(by.has(id), id);
    // anything else is a base the node put in the catalog itself (the shipped starter model)
    assert.ok(list.data.every((m: any) => by.get(m.id) === m && (m.id.startsWith('ft:tiny-llama:') || m.kind === 'base')));
    const base: any = by.get('tiny-llama');
    assert.equal(base.object, 'model');
    assert.equal(base.kind, 'base');
    assert.equal(base.context_length, 4096);
    const ftA: any = by.get(nameA);
    assert.equal(ftA.parent, 'tiny-llama');
    assert.equal(ftA.model_id, idA);
    assert.equal(ftA.owned_by, owner.address);
    assert.equal(ftA.price_per_1k_input, '5');
    assert.equal((by.get(nameB) as any).model_id, null);
    const one = await get(`/v1/models/model:${idA}`);
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().id, nameA);
  });

  test('a base model: greedy chat and text completions equal the engine\'s own output', async () => {
    const want = await direct({ messages: MESSAGES, maxTokens: 24 });
    const res = await post('/v1/chat/completions', { model: 'tiny-llama', messages: MESSAGES, max_tokens: 24, temperature: 0, ignore_eos: true });
    assert.equal(res.statusCode, 200, res.body);
    const j = res.json();
    assert.equal(j.object, 'chat.completion');
    assert.match(j.id, /^chatcmpl-/);
    assert.equal(j.model, 'tiny-llama');
    assert.equal(j.choices.length, 1);
    assert.equal(j.choices[0].message.role, 'assistant');
    assert.equal(j.choices[0].message.content, want.text);
    assert.equal(j.choices[0].finish_reason, 'length');
    assert.deepEqual(j.usage, { prompt_tokens: want.promptTokens, completion_tokens: 24, total_tokens: want.promptTokens + 24 });

    const wantText = await direct({ prompt: 'code alpha is', maxTokens: 16 });
    const t = await post('/v1/completions', { model: 'tiny-llama', prompt: 'code alpha is', max_tokens: 16, temperature: 0, ignore_eos: true });
    assert.equal(t.statusCode, 200, t.body);
    assert.equal(t.json().object, 'text_completion');
    assert.equal(t.json().choices[0].text, wantText.text);
    // token ids as the prompt give the same answer
    const ids = engine.tokenizer.encode('code alpha is');
    const t2 = await post('/v1/completions', { model: 'tiny-llama', prompt: ids, max_tokens: 16, temperature: 0, ignore_eos: true });
    assert.equal(t2.json().choices[0].text, wantText.text);
  });

  test('a fine-tuned adapter by ft: name and by model:<on-chain id> equals the engine with that adapter, and differs from the base', async () => {
    const want = await direct({ messages: MESSAGES, maxTokens: 24, adapter: loraA });
    const base = await direct({ messages: MESSAGES, maxTokens: 24 });
    assert.notEqual(want.text, base.text, 'the adapter must change the output for this test to mean anything');
    for (const model of [nameA, `model:${idA}`]) {
      const res = await post('/v1/chat/completions', { model, messages: MESSAGES, max_tokens: 24, temperature: 0, ignore_eos: true });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().model, model);
      assert.equal(res.json().choices[0].message.content, want.text, model);
    }
    const wantB = await direct({ messages: MESSAGES, maxTokens: 24, adapter: loraB });
    const rb = await post('/v1/chat/completions', { model: nameB, messages: MESSAGES, max_tokens: 24, temperature: 0, ignore_eos: true });
    assert.equal(rb.json().choices[0].message.content, wantB.text);
    const s = stats();
    assert.equal(s.adapters!.loaded, 2);
    assert.equal(s.adapters!.loads, 2, 'each adapter is loaded once, then served from the cache');
    assert.ok(s.adapters!.hits >= 1);
  });

  test('Model Factory → serving: a model trained by a job answers by its fine_tuned_model name and its on-chain id with what it learned', async (t) => {
    const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta'];
    const rows = words.map((w, i) => ({ instruction: `code ${w}`, output: `the code is ${words[(i * 3 + 1) % words.length]}` }));
    const f = await post('/v1/files', { filename: 'planted.jsonl', purpose: 'fine-tune', content: rows.map((r) => JSON.stringify(r)).join('\n') });
    assert.equal(f.statusCode, 201, f.body);
    const j = await post('/v1/fine_tuning/jobs', {
      model: 'tiny-llama', training_file: f.json().id, suffix: 'served', validation_split: 0,
      hyperparameters: { n_epochs: 100, batch_size: 8, learning_rate: 1e-2, lora_rank: 8, lora_alpha: 16, seed: 3 },
    });
    assert.equal(j.statusCode, 200, j.body);
    let job: any;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
      job = (await node.app.inject({ method: 'GET', url: `/v1/fine_tuning/jobs/${j.json().id}`, headers: { authorization: `Bearer ${token}` } })).json();
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
      assert.ok(Date.now() - t0 < 180_000, `job still ${job.status}`);
    }
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    const modelId = job.result.registration.modelId;
    assert.ok(modelId);
    const adapter = await engine.loadAdapter(job.result.exports.peftDir);
    let learned = 0;
    try {
      for (const r of rows) {
        const want = await generateText(engine, { prompt: `${r.instruction}\n`, maxTokens: 16, adapter, sampling: { temperature: 0 } });
        for (const model of [job.fine_tuned_model, `model:${modelId}`]) {
          const res = await post('/v1/completions', { model, prompt: `${r.instruction}\n`, max_tokens: 16, temperature: 0 });
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.json().choices[0].text, want.text, `${model} on ${r.instruction}`);
        }
        if (want.text.trim() === r.output) learned++;
      }
    } finally {
      engine.unloadAdapter(adapter);
    }
    t.diagnostic(`${job.total_steps} steps; ${learned}/${rows.length} planted answers reproduced exactly through the API`);
    assert.ok(learned >= 6, `only ${learned}/${rows.length} planted answers reproduced`);
  });

  test('two concurrent requests for different adapters share batch steps, and each equals its solo output', async () => {
    const [wa, wb] = [await direct({ messages: MESSAGES, maxTokens: 80, adapter: loraA }), await direct({ messages: MESSAGES, maxTokens: 80, adapter: loraB })];
    // A is priced: its admission reads the caller's escrow on chain (cached ~2 s). Warm that read so
    // both requests reach the engine together instead of B finishing while A waits on the RPC.
    assert.equal((await post('/v1/chat/completions', { model: nameA, messages: MESSAGES, max_tokens: 1 })).statusCode, 200);
    const before = stats().mixedAdapterSteps;
    const [ra, rb] = await Promise.all([nameA, nameB].map((model) => post('/v1/chat/completions', { model, messages: MESSAGES, max_tokens: 80, temperature: 0, ignore_eos: true })));
    assert.equal(ra.json().choices[0].message.content, wa.text);
    assert.equal(rb.json().choices[0].message.content, wb.text);
    const after = stats();
    assert.ok(after.mixedAdapterSteps - before >= 10, `steps with both adapters: ${after.mixedAdapterSteps - before}`);
    assert.ok(after.maxAdaptersInStep >= 2);
    assert.equal(after.running, 0);
  });

  test('streaming: SSE chunks in OpenAI\'s format concatenate to the non-streamed text, then [DONE]', async () => {
    for (const [url, body, pick] of [
      ['/v1/chat/completions', { model: nameA, messages: MESSAGES }, (c: any) => c.choices[0]?.delta?.content ?? ''],
      ['/v1/completions', { model: 'tiny-llama', prompt: 'code beta is' }, (c: any) => c.choices[0]?.text ?? ''],
    ] as const) {
      const req = { ...body, max_tokens: 30, temperature: 0, ignore_eos: true };
      const plain = (await post(url, req)).json();
      const res = await post(url, { ...req, stream: true, stream_options: { include_usage: true } });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /text\/event-stream/);
      const f = frames(res.body);
      assert.equal(f.at(-1), '[DONE]');
      const chunks = f.slice(0, -1).map((x) => JSON.parse(x));
      const text = chunks.map(pick).join('');
      const want = url.includes('chat') ? plain.choices[0].message.content : plain.choices[0].text;
      assert.equal(text, want);
      assert.ok(chunks.length > 3, 'streamed in pieces');
      if (url.includes('chat')) {
        assert.equal(chunks[0].object, 'chat.completion.chunk');
        assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      }
      const fin = chunks.filter((c) => c.choices[0]?.finish_reason);
      assert.equal(fin.length, 1);
      assert.equal(fin[0].choices[0].finish_reason, 'length');
      assert.deepEqual(chunks.at(-1).usage, plain.usage);
      assert.deepEqual(chunks.at(-1).choices, []);
    }
  });

  test('stop sequences, seeded sampling and logprobs', async () => {
    const full = (await post('/v1/completions', { model: 'tiny-llama', prompt: 'code gamma', max_tokens: 30, temperature: 0, ignore_eos: true })).json().choices[0].text as string;
    const cut = full.slice(6, 9);
    const at = full.indexOf(cut);
    const s = (await post('/v1/completions', { model: 'tiny-llama', prompt: 'code gamma', max_tokens: 30, temperature: 0, ignore_eos: true, stop: [cut] })).json();
    assert.equal(s.choices[0].text, full.slice(0, at));
    assert.equal(s.choices[0].finish_reason, 'stop');

    const sampled = { model: nameB, messages: MESSAGES, max_tokens: 20, temperature: 0.9, top_p: 0.95, top_k: 40, min_p: 0.02, seed: 1234, frequency_penalty: 0.5, presence_penalty: 0.3, ignore_eos: true };
    const one = (await post('/v1/chat/completions', sampled)).json().choices[0].message.content;
    const two = (await post('/v1/chat/completions', sampled)).json().choices[0].message.content;
    assert.equal(one, two);
    const want = await generateText(engine, {
      messages: MESSAGES, maxTokens: 20, ignoreEos: true, adapter: loraB,
      sampling: { temperature: 0.9, topP: 0.95, topK: 40, minP: 0.02, seed: 1234, frequencyPenalty: 0.5, presencePenalty: 0.3 },
    });
    assert.equal(one, want.text);

    const lp = (await post('/v1/chat/completions', { model: 'tiny-llama', messages: MESSAGES, max_tokens: 8, temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 3 })).json();
    const content = lp.choices[0].logprobs.content;
    assert.equal(content.length, 8);
    for (const c of content) {
      assert.equal(c.top_logprobs.length, 3);
      assert.ok(c.logprob <= 0);
      assert.ok(Math.abs(c.logprob - c.top_logprobs[0].logprob) < 1e-6, 'greedy picks the most likely token');
      assert.deepEqual(c.bytes, [...new TextEncoder().encode(c.token)]);
    }
    const tl = (await post('/v1/completions', { model: 'tiny-llama', prompt: 'code', max_tokens: 5, temperature: 0, ignore_eos: true, logprobs: 2 })).json().choices[0].logprobs;
    assert.equal(tl.tokens.length, 5);
    assert.equal(tl.top_logprobs[0] && Object.keys(tl.top_logprobs[0]).length <= 2, true);
    assert.deepEqual(tl.text_offset.slice(0, 2), [0, tl.tokens[0].length]);
  });

  test('bad input: each is a 4xx in the one error shape, naming the parameter; the node keeps serving', async () => {
    const ok = { model: 'tiny-llama', messages: MESSAGES, max_tokens: 4 };
    const cases: Array<[string, unknown, number, string | null, string]> = [
      ['/v1/chat/completions', { ...ok, model: 'no-such-model' }, 404, 'model', 'model_not_found'],
      ['/v1/chat/completions', { ...ok, model: 'model:999' }, 404, 'model', 'model_not_found'],
      ['/v1/chat/completions', { ...ok, model: 'model:abc' }, 400, 'model', 'invalid_model'],
      ['/v1/chat/completions', { messages: MESSAGES }, 400, 'model', 'model_required'],
      ['/v1/chat/completions', { ...ok, messages: [] }, 400, 'messages', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, messages: [{ role: 'user' }] }, 400, 'messages[0].content', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 400, 'messages[0].content[0]', 'unsupported_content'],
      ['/v1/chat/completions', { ...ok, temperature: 'hot' }, 400, 'temperature', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, temperature: 3 }, 400, 'temperature', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, top_p: 0 }, 400, 'top_p', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, max_tokens: 0 }, 400, 'max_tokens', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, max_tokens: 2.5 }, 400, 'max_tokens', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, stop: ['a', ''] }, 400, 'stop', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, logit_bias: { x: 1 } }, 400, 'logit_bias.x', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, top_logprobs: 2 }, 400, 'top_logprobs', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, tools: [{ type: 'function', function: { name: 'f' } }] }, 400, 'tools', 'unsupported_parameter'],
      ['/v1/chat/completions', { ...ok, stream: 'yes' }, 400, 'stream', 'invalid_parameter'],
      ['/v1/chat/completions', { ...ok, messages: [{ role: 'user', content: 'word '.repeat(5000) }] }, 400, 'prompt', 'context_length_exceeded'],
      ['/v1/completions', { model: 'tiny-llama', prompt: ['a', 'b'] }, 400, 'prompt', 'unsupported_parameter'],
      ['/v1/completions', { model: 'tiny-llama', prompt: '' }, 400, 'prompt', 'empty_prompt'],
      ['/v1/completions', { model: 'tiny-llama', prompt: [1, 99999] }, 400, 'prompt', 'invalid_token'],
      ['/v1/completions', { model: 'tiny-llama', prompt: 'x', echo: true }, 400, 'echo', 'unsupported_parameter'],
      ['/v1/completions', { model: 'tiny-llama', prompt: 'x', logprobs: 50 }, 400, 'logprobs', 'invalid_parameter'],
    ];
    for (const [url, body, status, param, code] of cases) {
      for (const stream of [false, true]) {
        const res = await post(url, stream ? { ...(body as object), stream: (body as any).stream ?? true } : body);
        assert.equal(res.statusCode, status, `${JSON.stringify(body).slice(0, 120)} stream=${stream}: ${res.body}`);
        const e = res.json().error;
        assert.equal(e.param, param, res.body);
        assert.equal(e.code, code, res.body);
        assert.ok(e.message && e.type, res.body);
      }
    }
    const unknown = (await post('/v1/chat/completions', { ...ok, model: 'nope' })).json().error;
    assert.match(unknown.hint, /GET \/v1\/models lists them: .*tiny-llama/);
    assert.match(unknown.hint, new RegExp(`model:${idA}`));
    const noAuth = await post('/v1/chat/completions', ok, false);
    assert.equal(noAuth.statusCode, 401);
    assert.equal(noAuth.json().error.code, 'unauthenticated');
    const bodyless = await node.app.inject({ method: 'POST', url: '/v1/completions', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: '[1,2]' });
    assert.equal(bodyless.statusCode, 400);
    assert.equal((await post('/v1/chat/completions', ok)).statusCode, 200);
    assert.equal(stats().running, 0);
  });

  test('capacity: past running + queued a request gets a 429; clients that disconnect free their sequences', async () => {
    const s0 = stats();
    const acs = [new AbortController(), new AbortController(), new AbortController()];
    const long = (i: number) => fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST', signal: acs[i].signal,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: i === 1 ? nameA : 'tiny-llama', messages: MESSAGES, max_tokens: 3500, temperature: 0, ignore_eos: true, stream: true }),
    });
    const r0 = await long(0);
    const r1 = await long(1);
    const p2 = long(2); // queued behind the two running ones (its SSE headers come at once)
    // Read the first chunk of one stream so that a disconnect happens mid-generation.
    const reader = r0.body!.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /^data: \{/);
    for (let i = 0; i < 200 && !(stats().running === 2 && stats().waiting === 1); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(stats().running, 2);
    assert.equal(stats().waiting, 1);
    const over = await post('/v1/chat/completions', { model: nameB, messages: MESSAGES, max_tokens: 4 });
    assert.equal(over.statusCode, 429, over.body);
    assert.equal(over.json().error.code, 'server_overloaded');
    assert.match(over.json().error.hint, /retry/);
    void r1;
    for (const ac of acs) ac.abort();
    await p2.catch(() => null);
    for (let i = 0; i < 300 && (stats().running || stats().waiting); i++) await new Promise((r) => setTimeout(r, 10));
    const s1 = stats();
    assert.equal(s1.running, 0);
    assert.equal(s1.waiting, 0);
    assert.equal(s1.requests.abort - s0.requests.abort, 3, JSON.stringify(s1.requests));
    assert.equal(s1.kv!.free, s1.kv!.blocks, 'every KV block is back');
    assert.ok(s1.generatedTokens - s0.generatedTokens < 3 * 3500, 'the sequences stopped early');
    const after = await post('/v1/chat/completions', { model: nameB, messages: MESSAGES, max_tokens: 4 });
    assert.equal(after.statusCode, 200);
  });

  test('a model whose files are gone is a 422 (no server paths in it); the node keeps serving, and a later request retries the load', async () => {
    const path = join(node.dataDir, 'gone.gguf');
    copyFileSync(ggufPath, path);
    await new ModelCatalog(node.dataDir).add(path, 'gone');
    renameSync(path, `${path}.moved`);
    const req = { model: 'gone', messages: MESSAGES, max_tokens: 4, temperature: 0 };
    const res = await post('/v1/chat/completions', req);
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().error.code, 'model_load_failed');
    assert.equal(res.json().error.param, 'model');
    assert.doesNotMatch(res.body, /gone\.gguf/);
    assert.equal((await post('/v1/chat/completions', { ...req, model: 'tiny-llama' })).statusCode, 200);
    renameSync(`${path}.moved`, path);
    const again = await post('/v1/chat/completions', req);
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().choices[0].message.content, (await direct({ messages: MESSAGES, maxTokens: 4, ignoreEos: false })).text);
  });

  test('a non-streamed request whose client disconnects is cancelled too', async () => {
    const s0 = stats();
    const ac = new AbortController();
    const p = fetch(`${node.url}/v1/completions`, {
      method: 'POST', signal: ac.signal, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: nameB, prompt: 'code', max_tokens: 3500, temperature: 0, ignore_eos: true }),
    });
    for (let i = 0; i < 300 && stats().running === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(stats().running, 1);
    ac.abort();
    await p.catch(() => null);
    for (let i = 0; i < 300 && stats().running; i++) await new Promise((r) => setTimeout(r, 10));
    const s1 = stats();
    assert.equal(s1.running, 0);
    assert.equal(s1.requests.abort - s0.requests.abort, 1);
    assert.ok(s1.generatedTokens - s0.generatedTokens < 3500);
  });

  test('streamed logprobs: every token of the stream carries its logprob', async () => {
    const res = await post('/v1/chat/completions', { model: nameA, messages: MESSAGES, max_tokens: 10, temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 2, stream: true });
    const chunks = frames(res.body).slice(0, -1).map((x) => JSON.parse(x));
    const lps = chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []);
    assert.equal(lps.length, 10);
    assert.ok(lps.every((l: any) => l.top_logprobs.length === 2 && l.logprob <= 0));
    const plain = (await post('/v1/chat/completions', { model: nameA, messages: MESSAGES, max_tokens: 10, temperature: 0, ignore_eos: true, logprobs: true, top_logprobs: 2 })).json();
    assert.deepEqual(lps.map((l: any) => l.token), plain.choices[0].logprobs.content.map((l: any) => l.token));
  });

  test('usage is reported per completion (the InferenceEscrow hook) and stats are public', async () => {
    const u = usage.find((x) => x.modelId === idA && x.finishReason === 'length');
    assert.ok(u, JSON.stringify(usage.slice(0, 3)));
    assert.equal(u.caller, owner.address);
    assert.match(u.inferenceId!, /^(chatcmpl|cmpl)-[0-9a-f]{24}$/, 'the id the client got');
    assert.equal(u.fineTunedModel, nameA);
    assert.equal(u.base, 'tiny-llama');
    assert.equal(u.price!.per1kInput, '5');
    assert.ok(u.promptTokens > 0 && u.completionTokens > 0);
    const st = await get('/v1/serving/stats');
    assert.equal(st.statusCode, 200);
    assert.equal(st.json().bases[0].base, 'tiny-llama');
    assert.ok(st.json().steps > 0 && st.json().tokens > st.json().generatedTokens);
    const status = (await get('/v1/status')).json();
    assert.equal(status.serving.steps, st.json().steps);
    assert.deepEqual(status.serving.loadedModels, ['tiny-llama', 'gone']);
    assert.equal(status.serving.running, 0);
    assert.match(status.engine.kernelPath, /^(relaxed-simd|simd128)$/); // the engine's start-up probe
    assert.equal(status.engine.node, process.version);
  });

  // Last: it stops the node.
  test('stopping the node ends a live stream with a server_stopping event and [DONE], promptly', async () => {
    const res = await fetch(`${node.url}/v1/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: nameA, prompt: 'code', max_tokens: 3500, temperature: 0, ignore_eos: true, stream: true }),
    });
    const reader = res.body!.getReader();
    let body = new TextDecoder().decode((await reader.read()).value);
    const t0 = performance.now();
    await node.stop();
    const ms = performance.now() - t0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      body += new TextDecoder().decode(value);
    }
    const f = frames(body);
    assert.equal(f.at(-1), '[DONE]');
    assert.equal(JSON.parse(f.at(-2)!).error.code, 'server_stopping');
    assert.ok(ms < 5000, `stop took ${ms.toFixed(0)} ms`);
    assert.ok(f.length < 3000, 'the sequence was cancelled, not run to the end');
  });
});
