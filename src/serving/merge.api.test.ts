// Dynamic merge end to end (issue 13, item 4): a real node (embedded Anvil, real store, the
// factory's import route) serves `model: "ft:a*0.7+ft:b*0.3"` and the `adapters` extension
// field; greedy answers equal the engine run directly with the merged delta (Engine.mixAdapters,
// itself held equal to the base with both deltas folded in by src/engine/lora/mix.test.ts); the
// usage event and the payable inference record name each adapter and weight; the official
// `openai` client streams from a merged pair; bad weights and mixed bases are 400s naming them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { LocalAccount } from 'viem/accounts';
import { importAdapterFile, siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { ModelCatalog } from '../models/index.ts';
import { FactoryRepo } from '../factory/index.ts';
import { buildTinyLora, buildTinyModel, type TinyModel } from '../engine/testing/index.ts';
import { createEngine, generateText, loadModel, type Engine, type GenerateRequest, type LoraAdapter } from '../engine/index.ts';
import { ModelServer, type UsageRecord } from './index.ts';
import { actions } from '../chain/index.ts';
import { depositToEscrow } from '../rewards/index.ts';

let node: RunningNode & { dataDir: string };
let server: ModelServer;
let owner: LocalAccount;
let token = '';
let client: OpenAI;
let engine: Engine;
let loraA: LoraAdapter, loraB: LoraAdapter;
let nameA = '', nameB = '', nameOther = '', nameD = '', idB = '';
const dir = mkdtempSync(join(tmpdir(), 'ol-merge-'));
let tinyModel: TinyModel;
const usage: UsageRecord[] = [];
const MESSAGES = [{ role: 'user' as const, content: 'What is the code of alpha?' }];

const post = (url: string, payload: unknown) => node.app.inject({ method: 'POST', url, payload: payload as never, headers: { authorization: `Bearer ${token}` } });
const direct = (req: GenerateRequest) => generateText(engine, { ignoreEos: true, sampling: { temperature: 0 }, ...req });
const chat = (model: string, extra: Record<string, unknown> = {}) => post('/v1/chat/completions', { model, messages: MESSAGES, max_tokens: 12, temperature: 0, ignore_eos: true, ...extra });

before(async () => {
  // Models and adapters first (in a folder of their own), so the node's adapter budget can be set
  // from their sizes: room for A and B together, not for the rank-48 adapter D.
  const tiny = buildTinyModel('llama', join(dir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: 2048 } });
  tinyModel = tiny;
  const other = buildTinyModel('llama', join(dir, 'other'), { format: 'gguf', seed: 12, dims: { contextLength: 2048 } });
  const a = buildTinyLora(tiny, join(dir, 'lora-a'), { rank: 2, seed: 1 });
  const b = buildTinyLora(tiny, join(dir, 'lora-b'), { rank: 4, seed: 2 });
  const c = buildTinyLora(other, join(dir, 'lora-c'), { rank: 2, seed: 3 });
  const d = buildTinyLora(tiny, join(dir, 'lora-d'), { rank: 48, seed: 4 });
  engine = await createEngine(await loadModel(tiny.ggufPath!));
  loraA = await engine.loadAdapter(a.ggufPath!);
  loraB = await engine.loadAdapter(b.ggufPath!);
  const loraD = await engine.loadAdapter(d.ggufPath!);
  const budget = loraA.bytes + loraB.bytes + 4096;
  assert.ok(loraD.bytes > budget);
  engine.unloadAdapter(loraD);

  node = await startTestNode({
    listen: true,
    extend: (s) => {
      server = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo: new FactoryRepo(s.store.db), config: { maxRunning: 8, maxQueued: 8, kvTokens: 8192, maxAdapters: 4, adapterMemoryMb: budget / 1048576 } });
      s.modules.serving = server;
    },
  });
  server.events.on('usage', (u: UsageRecord) => usage.push(u));
  owner = node.services.keyring!.accounts[1];
  token = await siweToken(node, owner);
  client = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: token, maxRetries: 0 });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
  await new ModelCatalog(node.dataDir).add(other.ggufPath!, 'other-llama');
  const ia = await importAdapterFile(node, token, a.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:a:0001', register: false });
  const ib = await importAdapterFile(node, token, b.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:b:0002' });
  const ic = await importAdapterFile(node, token, c.ggufPath!, { model: 'other-llama', name: 'ft:other-llama:c:0003', register: false });
  const id = await importAdapterFile(node, token, d.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:d:0004', register: false });
  for (const r of [ia, ib, ic, id]) assert.equal(r.statusCode, 201, r.body);
  nameA = ia.json().name; nameB = ib.json().name; nameOther = ic.json().name; nameD = id.json().name; idB = ib.json().model_id;
  assert.ok(idB);
});
after(async () => {
  engine?.close();
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('dynamic merge', () => {
  test('"a*0.7+b*0.3" = the engine with the merged delta; different from either adapter; usage and the inference record name both weights', async () => {
    const mix = engine.mixAdapters([{ adapter: loraA, weight: 0.7 }, { adapter: loraB, weight: 0.3 }]);
    const want = await direct({ messages: MESSAGES, maxTokens: 12, adapter: mix });
    const wantA = await direct({ messages: MESSAGES, maxTokens: 12, adapter: loraA });
    const wantB = await direct({ messages: MESSAGES, maxTokens: 12, adapter: loraB });
    assert.ok(want.text !== wantA.text || want.text !== wantB.text, 'the merge answers differently from at least one of its parts');

    const spelled = `${nameA}*0.7+${nameB}*0.3`;
    const r = await chat(spelled);
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().choices[0].message.content, want.text);
    assert.equal(r.json().model, spelled);
    const u = usage.find((x) => x.inferenceId === r.json().id)!;
    assert.ok(u, 'a usage event');
    assert.deepEqual(u.adapters, [{ model: nameA, weight: 0.7 }, { model: nameB, weight: 0.3 }]);
    assert.equal(u.base, 'tiny-llama');
    const rec = node.services.store.db.prepare('SELECT adapters FROM inferences WHERE id = ?').get(r.json().id) as { adapters: string } | undefined;
    assert.ok(rec, 'the payable inference record exists');
    assert.deepEqual(JSON.parse(rec.adapters), [{ model: nameA, weight: 0.7 }, { model: nameB, weight: 0.3 }]);

    // the extension field, model = their base (and model:<id> names B): the same answer
    const f = await chat('tiny-llama', { adapters: [{ model: nameA, weight: 0.7 }, { model: `model:${idB}`, weight: 0.3 }] });
    assert.equal(f.statusCode, 200, f.body);
    assert.equal(f.json().choices[0].message.content, want.text);
    // unit weights by default: "a+b"
    const sum = await direct({ messages: MESSAGES, maxTokens: 12, adapter: engine.mixAdapters([{ adapter: loraA, weight: 1 }, { adapter: loraB, weight: 1 }]) });
    const plus = await chat(`${nameA}+${nameB}`);
    assert.equal(plus.statusCode, 200, plus.body);
    assert.equal(plus.json().choices[0].message.content, sum.text);
    // "a*1+b*0" is adapter A
    const onlyA = await chat(`${nameA}*1+${nameB}*0`);
    assert.equal(onlyA.json().choices[0].message.content, wantA.text);
  });

  test('a merge batches beside its parts: concurrent merged, A and B requests share steps and each answers as alone', async () => {
    const wantA = await direct({ messages: MESSAGES, maxTokens: 12, adapter: loraA });
    const want = await direct({ messages: MESSAGES, maxTokens: 12, adapter: engine.mixAdapters([{ adapter: loraA, weight: 0.5 }, { adapter: loraB, weight: 0.5 }]) });
    const before = server.stats().bases.find((b) => b.base === 'tiny-llama')!.mixedAdapterSteps;
    const [m, a] = await Promise.all([chat(`${nameA}*0.5+${nameB}*0.5`), chat(nameA), chat(nameB)]);
    assert.equal(m.json().choices[0].message.content, want.text);
    assert.equal(a.json().choices[0].message.content, wantA.text);
    assert.ok(server.stats().bases.find((b) => b.base === 'tiny-llama')!.mixedAdapterSteps > before, 'steps carried the merge and other adapters');
    // the merge holds no adapter slot of its own and frees nothing it does not own
    const cache = server.stats().bases.find((b) => b.base === 'tiny-llama')!.adapters!;
    assert.equal(cache.loaded, 2);
  });

  test('requests for the same merge share one merged handle: their rows are one adapter segment per step', async () => {
    const h = () => { const b = server.stats().bases.find((x) => x.base === 'tiny-llama')!; return { a: b.adaptersPerStep, r: b.batchSize }; };
    assert.equal((await chat(nameA)).statusCode, 200); // the base's engine is up
    const before = h();
    const spelled = `${nameA}*0.6+${nameB}*0.4`;
    const rs = await Promise.all([chat(spelled), chat(spelled), chat(spelled)]);
    for (const r of rs) assert.equal(r.statusCode, 200, r.body);
    assert.equal(new Set(rs.map((r) => r.json().choices[0].message.content)).size, 1);
    const after = h();
    const multiRow = (after.r.count - after.r.counts[0]) - (before.r.count - before.r.counts[0]);
    assert.ok(multiRow > 0, 'the three requests shared steps');
    const over1 = (x: typeof before.a) => x.count - x.counts[0] - x.counts[1]; // bounds [0, 1, …]: steps with ≥ 2 distinct adapters
    assert.equal(over1(after.a) - over1(before.a), 0, 'no step carried two different merged handles');
  });

  test('the official openai client streams from a merged pair (model spelling and the adapters field)', async () => {
    const want = await direct({ messages: MESSAGES, maxTokens: 12, adapter: engine.mixAdapters([{ adapter: loraA, weight: 0.7 }, { adapter: loraB, weight: 0.3 }]) });
    const stream = await client.chat.completions.create({ model: `${nameA}*0.7+${nameB}*0.3`, messages: MESSAGES, max_tokens: 12, temperature: 0, stream: true, ignore_eos: true } as never) as unknown as AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
    let text = '', chunks = 0, finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      chunks++;
    }
    assert.ok(chunks > 2);
    assert.equal(finish, 'length');
    assert.equal(text, want.text);
    const viaField = await client.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 12, temperature: 0, ignore_eos: true, adapters: [{ model: nameA, weight: 0.7 }, { model: nameB, weight: 0.3 }] } as never) as OpenAI.Chat.Completions.ChatCompletion;
    assert.equal(viaField.choices[0].message.content, want.text);
  });

  test('payable: a merge pays the sum of its adapters\' prices; priced adapters of two owners do not merge (their fees cannot split yet)', async () => {
    await depositToEscrow(node.services.chain, { account: owner, amount: 10n ** 18n });
    await actions.approveSpend(node.services.chain, { account: owner, cap: 10n ** 18n, expiry: BigInt(Math.floor(Date.now() / 1000) + 86_400) });
    const other = node.services.keyring!.accounts[2];
    const otherToken = await siweToken(node, other);
    const lf = buildTinyLora(tinyModel, join(dir, 'lora-f'), { rank: 2, seed: 6 });
    const le = buildTinyLora(tinyModel, join(dir, 'lora-e'), { rank: 2, seed: 7 });
    const f = await importAdapterFile(node, token, lf.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:f:0006', price_per_1k_input: '5' });
    const e = await importAdapterFile(node, otherToken, le.ggufPath!, { model: 'tiny-llama', name: 'ft:tiny-llama:e:0007', price_per_1k_input: '7' });
    assert.equal(f.statusCode, 201, f.body);
    assert.equal(e.statusCode, 201, e.body);
    const r = await chat(`${f.json().name}*0.2+${nameB}*0.8`);
    assert.equal(r.statusCode, 200, r.body);
    const rec = node.services.store.db.prepare('SELECT adapters, price_in FROM inferences WHERE id = ?').get(r.json().id) as { adapters: string; price_in: string };
    assert.equal(rec.price_in, '5');
    assert.deepEqual(JSON.parse(rec.adapters), [{ model: f.json().name, weight: 0.2 }, { model: nameB, weight: 0.8 }]);
    const mixed = await chat(`${f.json().name}+${e.json().name}`);
    assert.equal(mixed.statusCode, 400, mixed.body);
    assert.equal(mixed.json().error.code, 'merge_mixed_owners');
    assert.ok(mixed.json().error.message.includes(e.json().name));
  });

  test('bad merges are 400s naming the adapter or field; unknown parts 404; no usage and no adapter load for them', async () => {
    const usageBefore = usage.length;
    const loadsBefore = server.stats().bases.find((b) => b.base === 'tiny-llama')!.adapters!.loads;
    const expect = async (res: Awaited<ReturnType<typeof chat>>, status: number, code: string, param: string, mentions: string[]) => {
      assert.equal(res.statusCode, status, res.body);
      const e = res.json().error;
      assert.equal(e.code, code, res.body);
      assert.equal(e.param, param, res.body);
      for (const m of mentions) assert.ok(e.message.includes(m), `${e.message} names ${m}`);
      assert.ok(e.hint, 'a hint');
    };
    await expect(await chat(`${nameA}*-0.5+${nameB}`), 400, 'invalid_merge_weight', 'model', [nameA, 'negative']);
    await expect(await chat(`${nameA}*abc+${nameB}`), 400, 'invalid_merge_weight', 'model', [nameA, 'abc']);
    await expect(await chat(`${nameA}*NaN+${nameB}`), 400, 'invalid_merge_weight', 'model', [nameA]);
    await expect(await chat(`${nameA}*Infinity+${nameB}`), 400, 'invalid_merge_weight', 'model', [nameA]);
    await expect(await chat(`${nameA}+${nameOther}`), 400, 'merge_base_mismatch', 'model', [nameA, nameOther, 'tiny-llama', 'other-llama']);
    await expect(await chat(`${nameA}+tiny-llama`), 400, 'merge_base_model', 'model', ['tiny-llama']);
    await expect(await chat(`${nameA}+${nameA}`), 400, 'duplicate_adapter', 'model', [nameA]);
    await expect(await chat(`${nameA}*0+${nameB}*0`), 400, 'invalid_merge_weight', 'model', []);
    await expect(await chat(Array.from({ length: 9 }, (_, i) => `ft:x:${i}`).join('+')), 400, 'too_many_adapters', 'model', ['9']);
    await expect(await chat(`${nameA}+ft:tiny-llama:nope:9999`), 404, 'model_not_found', 'model', ['ft:tiny-llama:nope:9999']);
    // the extension field
    await expect(await chat('tiny-llama', { adapters: [{ model: nameA, weight: -1 }] }), 400, 'invalid_merge_weight', 'adapters[0].weight', [nameA, 'negative']);
    await expect(await chat('tiny-llama', { adapters: [{ model: nameA }, { model: nameB, weight: 'x' }] }), 400, 'invalid_merge_weight', 'adapters[1].weight', [nameB]);
    await expect(await chat('tiny-llama', { adapters: [{ model: nameA }, { model: nameOther }] }), 400, 'merge_base_mismatch', 'model', [nameOther, 'other-llama']);
    await expect(await chat('other-llama', { adapters: [{ model: nameA }, { model: nameB }] }), 400, 'merge_base_mismatch', 'model', ['other-llama', 'tiny-llama']);
    await expect(await chat('tiny-llama', { adapters: [] }), 400, 'invalid_parameter', 'adapters', []);
    await expect(await chat('tiny-llama', { adapters: [{ model: `${nameA}+${nameB}` }] }), 400, 'invalid_parameter', 'adapters[0].model', []);
    // embeddings of a merge are refused, not silently the base's
    const emb = await post('/v1/embeddings', { model: `${nameA}+${nameB}`, input: 'hi' });
    assert.equal(emb.statusCode, 400, emb.body);
    assert.equal(emb.json().error.code, 'merge_not_supported');
    // an adapter larger than the node's adapter memory budget: 422 naming the budget, and the merge still serves
    const big = await chat(nameD);
    assert.equal(big.statusCode, 422, big.body);
    assert.equal(big.json().error.code, 'adapter_too_large');
    assert.match(big.json().error.hint, /adapterMemoryMb/);
    assert.equal(server.stats().bases.find((b) => b.base === 'tiny-llama')!.adapters!.loads, loadsBefore + 1); // only D's failed try
    const ok = await chat(`${nameA}+${nameB}`);
    assert.equal(ok.statusCode, 200, ok.body);
    const cache = server.stats().bases.find((x) => x.base === 'tiny-llama')!.adapters!;
    assert.ok(cache.bytes <= cache.budgetBytes!);
    assert.equal(cache.adapters.find((x) => x.state === 'failed')?.model.startsWith('private:'), true);
    assert.equal(usage.length, usageBefore + 1);
  });
});
