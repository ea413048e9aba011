// The OpenAI surface exactly as the official `openai` npm client (6.49) uses it, against a real
// node listening on a port (embedded Anvil, real store, a tiny model in the catalog): models,
// chat (stream and not, n > 1, JSON modes), completions, embeddings, files, fine-tuning end to
// end (validation_file, seed, events newest first with pagination), model deletion, private
// unregistered models, datanet access for a model trained on an approval datanet, quotas with
// Retry-After, x-request-id on every response, and the shutdown 503.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import type { LocalAccount } from 'viem/accounts';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { ModelCatalog } from '../models/index.ts';
import { FactoryRepo } from '../factory/index.ts';
import { prepareFile, signContribution } from '../datanets/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';
import { Quotas } from '../server/quotas.ts';
import { datanetAccess } from '../server/routes/inference.ts';
import { ModelServer } from './index.ts';

let node: RunningNode & { dataDir: string };
let server: ModelServer;
let owner: LocalAccount, alice: LocalAccount, bob: LocalAccount;
const clients = new Map<string, OpenAI>();
const tokens = new Map<string, string>();
const as = (a: LocalAccount) => clients.get(a.address)!;
const MESSAGES = [{ role: 'system' as const, content: 'You are terse.' }, { role: 'user' as const, content: 'What is the code of alpha?' }];
const CONTEXT = 1024;

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta', 'zeta', 'iota', 'lambda', 'rho'];
const ROWS = WORDS.map((w, i) => ({ instruction: `code ${w}`, output: `the code is ${WORDS[(i * 5 + 1) % WORDS.length]}` }));
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

/** The same error shape for every failure: status, and the body's code / param. */
async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof OpenAI.APIError) return e;
    throw e;
  }
  assert.fail('expected an API error');
}
const codeOf = (e: InstanceType<typeof OpenAI.APIError>) => (e.error as { code?: string; param?: string } | undefined)?.code;
const paramOf = (e: InstanceType<typeof OpenAI.APIError>) => (e.error as { code?: string; param?: string } | undefined)?.param;

let nonceSeq = 1n;
async function contribute(acct: LocalAccount, datanetId: number, rows: unknown[]) {
  const bytes = new TextEncoder().encode(jsonl(rows));
  const prepared = await prepareFile(bytes, 'rows.jsonl', 'alpaca');
  const nonce = nonceSeq++, deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
  const chain = node.services.chain;
  const signature = await signContribution(acct, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
    contributor: acct.address, datanetId: BigInt(datanetId), rowsRoot: prepared.rowsRoot, rowCount: BigInt(prepared.rowHashes.length), nonce, deadline,
  });
  const res = await node.app.inject({
    method: 'POST', url: `/v1/datanets/${datanetId}/contributions?filename=rows.jsonl&nonce=${nonce}&deadline=${deadline}&signature=${signature}`,
    headers: { authorization: `Bearer ${tokens.get(acct.address)}`, 'content-type': 'application/octet-stream' }, payload: Buffer.from(bytes),
  });
  assert.equal(res.statusCode, 201, res.body);
}

async function waitJob(c: OpenAI, id: string) {
  for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 100))) {
    const j = await c.fineTuning.jobs.retrieve(id);
    if (['succeeded', 'failed', 'cancelled'].includes(j.status)) return j;
    assert.ok(Date.now() - t0 < 180_000, `job ${id} still ${j.status}`);
  }
}

before(async () => {
  node = await startTestNode({
    listen: true,
    extend: (s) => {
      const repo = new FactoryRepo(s.store.db);
      server = new ModelServer({ catalog: new ModelCatalog(s.config.dataDir), repo, config: { maxRunning: 8, maxQueued: 32, kvTokens: 16384 }, access: datanetAccess(s, repo) });
      s.modules.serving = server;
    },
  });
  [owner, alice, , bob] = node.services.keyring!.accounts;
  for (const a of [owner, alice, bob]) {
    const t = await siweToken(node, a);
    tokens.set(a.address, t);
    clients.set(a.address, new OpenAI({ baseURL: `${node.url}/v1`, apiKey: t, maxRetries: 0 }));
  }
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11, dims: { contextLength: CONTEXT } });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
});
after(async () => {
  await node?.stop();
});

describe('the official openai client against a node', () => {
  test('models: list and retrieve; x-request-id on every response (new, or the caller\'s own) and on errors', async () => {
    const c = as(owner);
    const { data: page, response } = await c.models.list().withResponse();
    assert.ok(page.data.some((m) => m.id === 'tiny-llama'));
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{24}$/);
    const m = await c.models.retrieve('tiny-llama');
    assert.equal(m.id, 'tiny-llama');
    const own = await c.models.retrieve('tiny-llama', { headers: { 'x-request-id': 'my-trace-42' } }).withResponse();
    assert.equal(own.response.headers.get('x-request-id'), 'my-trace-42');
    const e = await apiError(c.models.retrieve('no-such-model'));
    assert.equal(e.status, 404);
    assert.match(e.requestID ?? '', /^req_/);
    // also on a streamed response (its headers are written by hand)
    const s = await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 2, stream: true }).withResponse();
    assert.match(s.response.headers.get('x-request-id') ?? '', /^req_/);
    for await (const _ of s.data) void _;
    const spec = await (await fetch(`${node.url}/openapi.json`)).json();
    for (const path of ['/v1/embeddings', '/v1/files/{id}/content', '/v1/models/{model}']) assert.ok(spec.paths[path], `${path} in the OpenAPI document`);
    assert.ok(spec.paths['/v1/models/{model}'].delete && spec.paths['/v1/files/{id}'].delete);
    // and on responses no route or credential produced
    for (const [url, init, status] of [[`${node.url}/no/such/route`, {}, 404], [`${node.url}/v1/models`, { headers: { authorization: 'Bearer nope' } }, 401], [`${node.url}/health`, { headers: { 'x-request-id': 'bad id;' + 'x'.repeat(200) } }, 200]] as const) {
      const r = await fetch(url, init);
      assert.equal(r.status, status);
      assert.match(r.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{24}$/, url);
    }
  });

  test('chat: not streamed, streamed (chunks concatenate to the same greedy text), n > 1', async () => {
    const c = as(owner);
    const req = { model: 'tiny-llama', messages: MESSAGES, max_tokens: 24, temperature: 0, ignore_eos: true } as const;
    const r = await c.chat.completions.create(req as never) as OpenAI.ChatCompletion;
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage!.completion_tokens, 24);
    const text = r.choices[0].message.content!;
    assert.ok(text.length > 0);
    const stream = await c.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } } as never) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>;
    let streamed = '', usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const ch of stream) {
      streamed += ch.choices[0]?.delta?.content ?? '';
      if (ch.usage) usage = ch.usage;
    }
    assert.equal(streamed, text);
    assert.deepEqual(usage, r.usage);

    const many = await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 12, temperature: 1, seed: 5, n: 3, ignore_eos: true } as never) as OpenAI.ChatCompletion;
    assert.deepEqual(many.choices.map((x) => x.index), [0, 1, 2]);
    assert.equal(new Set(many.choices.map((x) => x.message.content)).size, 3, 'each choice samples on its own');
    assert.equal(many.usage!.completion_tokens, 36);
    assert.equal(many.usage!.prompt_tokens, r.usage!.prompt_tokens, 'the prompt counts once');
    const again = await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 12, temperature: 1, seed: 5, n: 3, ignore_eos: true } as never) as OpenAI.ChatCompletion;
    assert.deepEqual(again.choices.map((x) => x.message.content), many.choices.map((x) => x.message.content), 'same seed, same choices');
    const ms = await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 6, temperature: 1, seed: 5, n: 2, stream: true, ignore_eos: true } as never) as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>;
    const by = ['', ''];
    const finished = new Set<number>();
    for await (const ch of ms) for (const x of ch.choices) { by[x.index] += x.delta.content ?? ''; if (x.finish_reason) finished.add(x.index); }
    by.forEach((t, i) => assert.ok(many.choices[i].message.content!.startsWith(t), `choice ${i}: streamed ${JSON.stringify(t)} starts ${JSON.stringify(many.choices[i].message.content)}`));
    assert.deepEqual([...finished].sort(), [0, 1]);
    assert.ok(by.every((t) => t.length > 0));
  });

  test('completions: not streamed and streamed agree', async () => {
    const c = as(owner);
    const r = await c.completions.create({ model: 'tiny-llama', prompt: 'code alpha is', max_tokens: 16, temperature: 0, ignore_eos: true } as never) as OpenAI.Completion;
    assert.equal(r.object, 'text_completion');
    const s = await c.completions.create({ model: 'tiny-llama', prompt: 'code alpha is', max_tokens: 16, temperature: 0, ignore_eos: true, stream: true } as never) as unknown as AsyncIterable<OpenAI.Completion>;
    let t = '';
    for await (const ch of s) t += ch.choices[0]?.text ?? '';
    assert.equal(t, r.choices[0].text);
  });

  test('response_format json_schema and json_object: grammar-constrained output parses and matches', async () => {
    const c = as(owner);
    const schema = { type: 'object', properties: { answer: { type: 'string', maxLength: 8 }, count: { type: 'integer' }, sure: { type: 'boolean' }, kind: { enum: ['code', 'word'] } }, required: ['answer', 'count', 'sure', 'kind'], additionalProperties: false };
    let done = 0;
    for (let seed = 0; seed < 6; seed++) {
      const r = await c.chat.completions.create({
        model: 'tiny-llama', messages: MESSAGES, max_tokens: 300, temperature: 1, seed,
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      });
      if (r.choices[0].finish_reason !== 'stop') continue;
      done++;
      const v = JSON.parse(r.choices[0].message.content!);
      assert.deepEqual(Object.keys(v).sort(), ['answer', 'count', 'kind', 'sure']);
      assert.equal(typeof v.answer, 'string');
      assert.ok(v.answer.length <= 8);
      assert.ok(Number.isInteger(v.count));
      assert.equal(typeof v.sure, 'boolean');
      assert.ok(['code', 'word'].includes(v.kind));
    }
    assert.ok(done >= 4, `${done}/6 finished`);
    let objects = 0;
    for (let seed = 0; seed < 6; seed++) {
      const r = await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 400, temperature: 1, seed, response_format: { type: 'json_object' } });
      if (r.choices[0].finish_reason !== 'stop') continue;
      objects++;
      const v = JSON.parse(r.choices[0].message.content!);
      assert.equal(typeof v, 'object');
      assert.ok(v && !Array.isArray(v));
    }
    assert.ok(objects >= 1, 'some json_object completions end');
    // the client's own structured-output helper: a zod schema in, a parsed object out
    const { z } = await import('zod');
    const { zodResponseFormat } = await import('openai/helpers/zod');
    const parsed = await c.chat.completions.parse({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 200, temperature: 0.5, seed: 3, response_format: zodResponseFormat(z.object({ kind: z.enum(['code', 'word']), ok: z.boolean(), level: z.number().int().min(1).max(5) }), 'r') });
    const obj = parsed.choices[0].message.parsed!;
    assert.ok(['code', 'word'].includes(obj.kind) && typeof obj.ok === 'boolean' && obj.level >= 1 && obj.level <= 5, JSON.stringify(obj));
    const bad = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string', pattern: 'x' } } } } } }));
    assert.equal(bad.status, 400);
    assert.equal(paramOf(bad), 'response_format.json_schema.schema.properties.a.pattern');
  });

  test('bad input: max_tokens beyond the context, out-of-vocabulary logit_bias, unknown roles, a 7 MB prompt — 4xx naming the problem, fast', async () => {
    const c = as(owner);
    const over = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: CONTEXT }));
    assert.equal(over.status, 400);
    assert.equal(paramOf(over), 'max_tokens');
    assert.equal(codeOf(over), 'context_length_exceeded');
    assert.match(over.message, /max_tokens 1024/);
    const bias = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 2, logit_bias: { 99999: 5 } }));
    assert.equal(bias.status, 400);
    assert.equal(paramOf(bias), 'logit_bias.99999');
    const role = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'wizard' as never, content: 'hi' }], max_tokens: 2 }));
    assert.equal(role.status, 400);
    assert.equal(paramOf(role), 'messages[0].role');
    assert.match(role.message, /wizard/);
    const t0 = performance.now();
    const health = (async () => { await new Promise((r) => setTimeout(r, 5)); const h0 = performance.now(); await fetch(`${node.url}/health`); return performance.now() - h0; })();
    const big = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: [{ role: 'user', content: 'word '.repeat(1_400_000) }], max_tokens: 2 }));
    const ms = performance.now() - t0;
    assert.equal(big.status, 413);
    assert.equal(codeOf(big), 'prompt_too_large');
    assert.match(big.message, /at most 1048576 bytes/);
    assert.ok(ms < 3000, `the 7 MB prompt took ${ms.toFixed(0)} ms to refuse`);
    assert.ok((await health) < 1000, 'health answered meanwhile');
  });

  test('embeddings: one unit vector per input (base64, as the client asks by default, and float), dimensions', async () => {
    const c = as(owner);
    const r = await c.embeddings.create({ model: 'tiny-llama', input: ['the code of alpha', 'something else entirely'] });
    assert.equal(r.object, 'list');
    assert.equal(r.data.length, 2);
    const [a, b] = r.data.map((d) => d.embedding);
    assert.ok(a.length > 8 && a.length === b.length);
    for (const v of [a, b]) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-4);
    assert.notDeepEqual(a, b);
    assert.ok(r.usage.prompt_tokens > 0);
    const f = await c.embeddings.create({ model: 'tiny-llama', input: 'the code of alpha', encoding_format: 'float' });
    f.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - a[i]) < 1e-6));
    const d = await c.embeddings.create({ model: 'tiny-llama', input: 'the code of alpha', dimensions: 4 });
    assert.equal(d.data[0].embedding.length, 4);
    assert.ok(Math.abs(Math.hypot(...d.data[0].embedding) - 1) < 1e-4);
    const e = await apiError(c.embeddings.create({ model: 'tiny-llama', input: [] }));
    assert.equal(e.status, 400);
    assert.equal(paramOf(e), 'input');
  });

  test('files: upload, list, retrieve, content, delete; invalid UTF-8 is a 400', async () => {
    const c = as(alice);
    const text = jsonl(ROWS.slice(0, 4));
    const f = await c.files.create({ file: await toFile(Buffer.from(text), 'train.jsonl'), purpose: 'fine-tune' });
    assert.match(f.id, /^file-/);
    const list = await c.files.list();
    assert.ok(list.data.some((x) => x.id === f.id));
    assert.equal((await c.files.retrieve(f.id)).bytes, Buffer.byteLength(text));
    assert.equal(await (await c.files.content(f.id)).text(), text);
    assert.ok(!(await as(bob).files.list()).data.some((x) => x.id === f.id), 'files are private');
    assert.equal((await apiError(as(bob).files.content(f.id))).status, 404);
    const del = await c.files.delete(f.id);
    assert.deepEqual({ id: del.id, deleted: del.deleted }, { id: f.id, deleted: true });
    assert.equal((await apiError(c.files.retrieve(f.id))).status, 404);
    const bad = await apiError(c.files.create({ file: await toFile(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'bad.jsonl'), purpose: 'fine-tune' }));
    assert.equal(bad.status, 400);
    assert.equal(codeOf(bad), 'invalid_encoding');
    const pathy = await c.files.create({ file: await toFile(Buffer.from(text), '../../etc/train.jsonl'), purpose: 'fine-tune' });
    assert.equal(pathy.filename, 'train.jsonl', 'a path is cut to its last part');
    const bidi = await apiError(c.files.create({ file: await toFile(Buffer.from(text), 'evil\u202egnp.jsonl'), purpose: 'fine-tune' }));
    assert.equal(bidi.status, 400);
    assert.equal(codeOf(bidi), 'invalid_filename');
    await c.files.delete(pathy.id);
  });

  test('fine-tuning end to end: validation_file is the evaluation, seed makes runs repeatable, events newest first with pagination, the model is private until registered and its owner can delete it', async () => {
    const c = as(alice);
    const train = await c.files.create({ file: await toFile(Buffer.from(jsonl(ROWS.slice(0, 9))), 'train.jsonl'), purpose: 'fine-tune' });
    const valid = await c.files.create({ file: await toFile(Buffer.from(jsonl(ROWS.slice(9))), 'valid.jsonl'), purpose: 'fine-tune' });
    const create = (seed: number) => c.fineTuning.jobs.create({
      model: 'tiny-llama', training_file: train.id, validation_file: valid.id, seed, suffix: 'oc',
      hyperparameters: { n_epochs: 2, batch_size: 3 }, register: false,
    } as never);
    const [j1, j2, j3] = [await create(7), await create(7), await create(8)];
    assert.equal(j1.validation_file, valid.id);
    assert.equal(j1.seed, 7);
    const [d1, d2, d3] = [await waitJob(c, j1.id), await waitJob(c, j2.id), await waitJob(c, j3.id)];
    for (const d of [d1, d2, d3]) assert.equal(d.status, 'succeeded', JSON.stringify(d.error));
    const res = (j: any) => j.result as { evaluation: { rows: number }; exports: { adapterHash: string } };
    assert.equal(res(d1).evaluation.rows, ROWS.length - 9, 'the evaluation ran on the validation file\'s rows');
    assert.equal(res(d1).exports.adapterHash, res(d2).exports.adapterHash, 'same seed, same adapter');
    assert.notEqual(res(d1).exports.adapterHash, res(d3).exports.adapterHash, 'another seed, another adapter');
    // events: newest first, pages by `after`
    const all: string[] = [];
    for await (const e of c.fineTuning.jobs.listEvents(j1.id, { limit: 5 })) all.push(e.id);
    const nums = all.map((id) => Number(id.replace('ftevent-', '')));
    assert.ok(nums.length > 10);
    assert.deepEqual(nums, [...nums].sort((a, b) => b - a), 'newest first');
    assert.equal(new Set(nums).size, nums.length, 'pages do not overlap');
    const first = await c.fineTuning.jobs.listEvents(j1.id, { limit: 3 });
    assert.equal(first.data.length, 3);
    assert.ok(first.has_more);
    assert.deepEqual(first.data.map((e) => e.id), all.slice(0, 3));
    assert.match(first.data[0].message, /succeeded|registered|Adapter|Job|Fine-tuning/i);
    // the unregistered model: its owner sees and calls it; anyone else gets a 404 as if it did not exist
    const name = d1.fine_tuned_model!;
    assert.ok((await c.models.list()).data.some((m) => m.id === name));
    assert.ok(!(await as(bob).models.list()).data.some((m) => m.id === name));
    const r = await c.chat.completions.create({ model: name, messages: [{ role: 'user', content: 'code alpha' }], max_tokens: 4 });
    assert.ok(r.choices[0].message.content !== null);
    assert.equal((await apiError(as(bob).chat.completions.create({ model: name, messages: MESSAGES, max_tokens: 4 }))).status, 404);
    assert.equal((await apiError(as(bob).models.delete(name))).status, 404);
    const gone = await c.models.delete(name);
    assert.deepEqual({ id: gone.id, deleted: gone.deleted }, { id: name, deleted: true });
    assert.equal((await apiError(c.chat.completions.create({ model: name, messages: MESSAGES, max_tokens: 4 }))).status, 404);
    assert.equal((await apiError(c.models.delete('tiny-llama'))).status, 403);
  });

  test('a registered model trained on an approval datanet answers only callers with access to it (its owner always)', async () => {
    const co = (await node.app.inject({ method: 'POST', url: '/v1/datanets', headers: { authorization: `Bearer ${tokens.get(owner.address)}` }, payload: { name: 'Private codes', format: 'alpaca', policies: { access: { kind: 'approval' } } } }));
    assert.equal(co.statusCode, 201, co.body);
    const id = co.json().id as number;
    await contribute(owner, id, ROWS.slice(0, 6));
    assert.equal((await node.app.inject({ method: 'POST', url: `/v1/datanets/${id}/versions`, headers: { authorization: `Bearer ${tokens.get(owner.address)}` } })).statusCode, 201);
    const job = await as(owner).fineTuning.jobs.create({ model: 'tiny-llama', datanets: [{ id, version: 1 }], hyperparameters: { n_epochs: 1 }, suffix: 'priv' } as never);
    const done = await waitJob(as(owner), job.id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    const name = done.fine_tuned_model!;
    const req = { model: name, messages: MESSAGES, max_tokens: 3 };
    assert.ok(await as(owner).chat.completions.create(req), 'the owner');
    assert.ok((await as(bob).models.list()).data.some((m) => m.id === name), 'registered: listed publicly');
    const denied = await apiError(as(bob).chat.completions.create(req));
    assert.equal(denied.status, 403);
    assert.equal(codeOf(denied), 'no_datanet_access');
    assert.match(denied.message, new RegExp(`datanet ${id}`));
    const g = await node.app.inject({ method: 'POST', url: `/v1/datanets/${id}/access`, headers: { authorization: `Bearer ${tokens.get(owner.address)}` }, payload: { address: bob.address } });
    assert.equal(g.statusCode, 200, g.body);
    assert.ok(await as(bob).chat.completions.create(req), 'granted: served');
    const byId = (done as any).result.registration.modelId;
    assert.equal((await apiError(as(alice).chat.completions.create({ ...req, model: `model:${byId}` }))).status, 403, 'by on-chain id too');
  });

  test('quotas: requests per minute and files per caller answer 429 with Retry-After', async () => {
    const prev = node.services.modules.quotas;
    node.services.modules.quotas = new Quotas({ requestsPerMinute: 2, maxFiles: 1 });
    try {
      const c = as(bob);
      await c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 1 });
      await c.embeddings.create({ model: 'tiny-llama', input: 'x' });
      const e = await apiError(c.chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 1 }));
      assert.equal(e.status, 429);
      assert.equal(codeOf(e), 'requests_per_minute');
      const ra = Number(e.headers?.get('retry-after'));
      assert.ok(ra >= 1 && ra <= 60, `retry-after ${ra}`);
      assert.ok(await as(alice).chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 1 }), 'another caller is not limited');
      await c.files.create({ file: await toFile(Buffer.from(jsonl(ROWS.slice(0, 2))), 'a.jsonl'), purpose: 'fine-tune' });
      const f = await apiError(c.files.create({ file: await toFile(Buffer.from(jsonl(ROWS.slice(0, 2))), 'b.jsonl'), purpose: 'fine-tune' }));
      assert.equal(f.status, 429);
      assert.equal(codeOf(f), 'file_quota_exceeded');
    } finally {
      node.services.modules.quotas = prev;
    }
  });

  // Last: it closes the model server.
  test('the node stopping: a 503 with its own type and Retry-After', async () => {
    await server.close();
    const e = await apiError(as(owner).chat.completions.create({ model: 'tiny-llama', messages: MESSAGES, max_tokens: 2 }));
    assert.equal(e.status, 503);
    assert.equal((e.error as { type?: string }).type, 'service_unavailable');
    assert.equal(codeOf(e), 'server_stopping');
    assert.ok(Number(e.headers?.get('retry-after')) > 0);
  });
});
