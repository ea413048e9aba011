// Model Factory end to end against a real node (embedded Anvil, real store, local DA) through the
// HTTP API in process — the "done when": a datanet with a planted mapping is created,
// contributed to and published; a job fine-tunes a tiny model on it; the loss falls (events, SSE);
// the tuned model beats the base on the held-out split; the model is registered on chain for the
// job's creator; the GGUF LoRA runs in llama.cpp and reproduces the mapping. Plus: paid datanets
// charged at job start, cancel, uploaded files, the exact rows recorded, and every bad input.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts';
import { siweToken, startTestNode, uploadSignedRows } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { actions, artifacts } from '../chain/index.ts';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel, buildTinyLora } from '../engine/testing/index.ts';
import { getLlamaCpp, loadOracleModel, oracleGreedy } from '../engine/parity/llamacpp.ts';
import { loadModel } from '../engine/index.ts';

let node: RunningNode & { dataDir: string };
let owner: LocalAccount, alice: LocalAccount, bob: LocalAccount, outsider: LocalAccount;
let ggufPath: string;
const tokens = new Map<string, string>();

type Method = 'GET' | 'POST';
const call = (method: Method, url: string, who?: LocalAccount, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({ method, url, payload: payload as never, headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers } });
const errOf = (res: { json(): any }) => res.json().error;

async function signIn(acct: LocalAccount) {
  tokens.set(acct.address, await siweToken(node, acct));
}

const upload = (acct: LocalAccount, datanetId: number, rows: unknown[]) => uploadSignedRows(node, acct, tokens.get(acct.address)!, datanetId, rows);

async function datanet(policies: Record<string, unknown>, rows: unknown[]): Promise<number> {
  const c = await call('POST', '/v1/datanets', owner, { name: `Planted ${Math.random()}`, format: 'alpaca', policies });
  assert.equal(c.statusCode, 201, c.body);
  const id = c.json().id as number;
  await upload(alice, id, rows);
  const p = await call('POST', `/v1/datanets/${id}/versions`, owner);
  assert.equal(p.statusCode, 201, p.body);
  return id;
}

async function waitFor(id: string, who: LocalAccount, done: (j: any) => boolean, ms = 120_000) {
  const t0 = Date.now();
  for (;;) {
    const j = (await call('GET', `/v1/fine_tuning/jobs/${id}`, who)).json();
    if (done(j)) return j;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} still ${j.status} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The planted mapping: "code <word>" → "<word2>", with made-up words the base cannot know.
// Every answer has the same frame ("the code is <word>"), which the tuned model learns and can
// show on held-out rows (ROUGE-L), while the word itself is only learnable on training rows.
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta', 'zeta', 'iota', 'lambda', 'rho', 'tau', 'phi', 'chi', 'psi', 'mu', 'nu', 'xi', 'pi',
  'red', 'blue', 'green', 'gold', 'stone', 'river', 'cloud', 'moon', 'star', 'tree'];
const PLANTED = WORDS.map((w, i) => ({ instruction: `code ${w}`, output: `the code is ${WORDS[(i * 7 + 3) % WORDS.length]}` }));

before(async () => {
  node = await startTestNode();
  [owner, alice, , bob] = node.services.keyring!.accounts;
  outsider = privateKeyToAccount(generatePrivateKey());
  for (const a of [owner, alice, bob, outsider]) await signIn(a);
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  ggufPath = tiny.ggufPath!;
  await new ModelCatalog(node.dataDir).add(ggufPath, 'tiny-llama');
});
after(async () => {
  await node?.stop();
});

describe('fine-tuning API', () => {
  let open: number;
  let job: any;

  test('a job on a published datanet version: loss falls, tuned beats base on the held-out rows, registered on chain', async (t) => {
    open = await datanet({}, PLANTED);
    const res = await call('POST', '/v1/fine_tuning/jobs', owner, {
      model: 'tiny-llama', datanets: [{ id: open, version: 1 }], suffix: 'planted', price_per_1k_input: '7', price_per_1k_output: '9',
      hyperparameters: { n_epochs: 40, batch_size: 8, learning_rate: 1e-2, lora_rank: 8, lora_alpha: 16, warmup_steps: 4, weight_decay: 0.01, checkpoint_every: 20, seed: 3 },
      validation_split: 0.1,
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().object, 'fine_tuning.job');
    assert.ok(['queued', 'running'].includes(res.json().status));
    const id = res.json().id as string;

    // The API answers while the job trains.
    await waitFor(id, owner, (j) => j.trained_steps > 0);
    const t0 = performance.now();
    assert.equal((await call('GET', '/v1/fine_tuning/jobs', owner)).statusCode, 200);
    const latency = performance.now() - t0;
    assert.ok(latency < 2000, `a request during training took ${latency.toFixed(0)} ms`);

    job = await waitFor(id, owner, (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status));
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.match(job.fine_tuned_model, /^ft:tiny-llama:planted:/);

    // events: loss, learning rate, tokens/s, eta; the loss falls
    const ev = (await call('GET', `/v1/fine_tuning/jobs/${id}/events`, owner)).json().data.reverse(); // listed newest first
    const m = ev.filter((e: any) => e.type === 'metrics').map((e: any) => e.data);
    assert.equal(m.length, job.total_steps);
    for (const k of ['train_loss', 'learning_rate', 'tokens_per_s', 'eta_s']) assert.equal(typeof m[0][k], 'number', k);
    const first = m.slice(0, 3).reduce((s: number, x: any) => s + x.train_loss, 0) / 3;
    const last = m.slice(-3).reduce((s: number, x: any) => s + x.train_loss, 0) / 3;
    assert.ok(last < 0.2 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);

    // evaluation: base vs tuned on the held-out split
    const e = job.result.evaluation;
    assert.ok(e.rows >= 1);
    assert.ok(e.tuned.loss < e.base.loss, `held-out loss base ${e.base.loss} vs tuned ${e.tuned.loss}`);
    assert.ok(e.tuned.perplexity < e.base.perplexity);
    assert.ok(e.tuned.rouge_l > e.base.rouge_l, `held-out ROUGE-L base ${e.base.rouge_l} vs tuned ${e.tuned.rouge_l}`);
    assert.equal(typeof e.tuned.exact_match, 'number');
    t.diagnostic(`${job.total_steps} steps, train loss ${first.toFixed(3)} → ${last.toFixed(3)}, ${Math.round(m[m.length - 1].tokens_per_s)} tok/s; held-out (${e.rows} rows) loss ${e.base.loss.toFixed(3)} → ${e.tuned.loss.toFixed(3)}, ROUGE-L ${e.base.rouge_l.toFixed(2)} → ${e.tuned.rouge_l.toFixed(2)}; API latency during training ${latency.toFixed(1)} ms; job ${job.finished_at - job.created_at} s`);

    // the exact rows: every row of the version once, with the split recorded
    const rows = (await call('GET', `/v1/fine_tuning/jobs/${id}/rows`, owner)).json().data;
    assert.equal(rows.length, PLANTED.length);
    assert.ok(rows.every((r: any) => r.datanetId === open && r.version === 1 && /^0x[0-9a-f]{64}$/.test(r.rowHash) && r.contributor === alice.address));
    assert.equal(rows.filter((r: any) => r.split === 'eval').length, e.rows);

    // checkpoints
    const ck = (await call('GET', `/v1/fine_tuning/jobs/${id}/checkpoints`, owner)).json().data;
    assert.ok(ck.length >= 1);
    assert.equal(ck[0].step_number, job.total_steps);

    // on chain, owned by the job's creator, with the hashes the files have
    const reg = job.result.registration;
    const onChain = (await node.services.chain.publicClient.readContract({
      address: node.services.chain.addresses.ModelRegistry, abi: artifacts.ModelRegistry.abi, functionName: 'getModel', args: [BigInt(reg.modelId)],
    } as never)) as any;
    assert.equal(onChain.owner, owner.address);
    assert.equal(onChain.adapterHash, job.result.exports.adapterHash);
    assert.equal(onChain.baseModelHash, `0x${(await loadModel(ggufPath)).source.sha256}`);
    assert.equal(onChain.trainingConfigHash, reg.configHash);
    assert.equal(onChain.pricePer1kInput, 7n);
    assert.equal(onChain.pricePer1kOutput, 9n);
    assert.match(onChain.metadataURI, /^da:\/\/0x/);
    // what serving needs to load it: the base path and the adapter, by the fine-tuned model's name
    const ft = (node.services.modules.factory as any).svc.fineTunedModel(job.fine_tuned_model);
    assert.equal(ft.baseModelPath, ggufPath);
    assert.equal(ft.adapterPath, job.result.exports.peftDir);
    assert.equal(ft.modelId, reg.modelId);
    // the model card is in the DA layer under the registered URI
    const blobs = node.services.modules.da as { get(id: string): Promise<Uint8Array> };
    const card = JSON.parse(new TextDecoder().decode(await blobs.get(onChain.metadataURI.slice('da://'.length))));
    assert.equal(card.results.tuned.loss, e.tuned.loss);
    assert.match(card.markdown, /\| perplexity \|/);
    assert.match(readFileSync(job.result.model_card, 'utf8'), /## Results \(held-out split\)/);
    assert.equal(card.data.datanets[0].id, open);
    assert.match(card.data.datanets[0].merkle_root, /^0x[0-9a-f]{64}$/);
  });

  test('SSE: the event stream replays the run and ends with the final status', async () => {
    const res = await call('GET', `/v1/fine_tuning/jobs/${job.id}/events?stream=true`, owner);
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /text\/event-stream/);
    const frames = res.body.split('\n\n').filter(Boolean);
    assert.ok(frames.filter((f) => f.includes('event: metrics')).length === job.total_steps);
    assert.match(frames[frames.length - 1], /event: done\ndata: .*"status":"succeeded"/);
    const viaAccept = await call('GET', `/v1/fine_tuning/jobs/${job.id}/events`, owner, undefined, { accept: 'text/event-stream' });
    assert.match(viaAccept.headers['content-type'] as string, /text\/event-stream/);
  });

  test('the GGUF LoRA runs in llama.cpp and reproduces the planted mapping on training rows', async (t) => {
    const llama = await getLlamaCpp();
    if ('error' in llama) return t.skip(`node-llama-cpp cannot load here: ${llama.error}`);
    const model = await loadModel(ggufPath);
    const tok = model.tokenizer;
    const rows = (await call('GET', `/v1/fine_tuning/jobs/${job.id}/rows`, owner)).json().data;
    const om = await loadOracleModel(ggufPath);
    try {
      let tuned = 0, base = 0, n = 0;
      for (const r of rows.filter((x: any) => x.split === 'train').slice(0, 6)) {
        const p = PLANTED[r.rowId - rows[0].rowId] ?? null;
        if (!p) continue;
        const prompt = [...(tok.bosTokenId !== null ? [tok.bosTokenId] : []), ...tok.encode(`${p.instruction}\n`, { addSpecial: false })];
        const want = [...tok.encode(p.output, { addSpecial: false }), tok.eosTokenIds[0]];
        const a = await oracleGreedy(om, prompt, want.length, { lora: [{ filePath: job.result.exports.ggufPath }] });
        const b = await oracleGreedy(om, prompt, want.length);
        n++;
        if (a.tokens.every((x, i) => x === want[i])) tuned++;
        if (b.tokens.every((x, i) => x === want[i])) base++;
      }
      assert.ok(n >= 3);
      assert.ok(tuned >= n - 1, `llama.cpp + adapter reproduces ${tuned}/${n} planted pairs`);
      assert.equal(base, 0);
    } finally {
      await om.dispose();
    }
  });

  test('a paid datanet is charged when the job starts; the run uses it', async () => {
    const price = 5n * 10n ** 18n;
    const paid = await datanet({ access: { kind: 'paid', priceWei: price.toString() } }, PLANTED.slice(0, 6));
    const before = await actions.tokenBalance(node.services.chain, { owner: bob.address });
    const res = await call('POST', '/v1/fine_tuning/jobs', bob, { model: 'tiny-llama', datanets: [{ id: paid, version: 1 }], register: false, hyperparameters: { n_epochs: 1, max_steps: 1 } });
    assert.equal(res.statusCode, 200, res.body);
    const j = await waitFor(res.json().id, bob, (x) => ['succeeded', 'failed', 'cancelled'].includes(x.status));
    assert.equal(j.status, 'succeeded', JSON.stringify(j.error));
    assert.equal(before - (await actions.tokenBalance(node.services.chain, { owner: bob.address })), price);
    const ev = (await call('GET', `/v1/fine_tuning/jobs/${j.id}/events`, bob)).json().data;
    assert.ok(ev.some((e: any) => /Charged/.test(e.message)));
    // an outsider (no key on this node, no purchase) is refused up front
    const o = await call('POST', '/v1/fine_tuning/jobs', outsider, { model: 'tiny-llama', datanets: [{ id: paid, version: 1 }] });
    assert.equal(o.statusCode, 403);
    assert.equal(errOf(o).code, 'no_read_access');
  });

  test('an uploaded JSONL file trains too; cancel stops a running job', async () => {
    const content = PLANTED.map((p) => JSON.stringify({ prompt: p.instruction, completion: p.output })).join('\n');
    const f = await call('POST', '/v1/files?filename=train.jsonl&purpose=fine-tune', alice, Buffer.from(content), { 'content-type': 'application/jsonl' });
    assert.equal(f.statusCode, 201, f.body);
    assert.equal(f.json().rows, PLANTED.length);
    // the way OpenAI SDKs upload: multipart/form-data with `file` and `purpose`
    const form = new FormData();
    form.append('purpose', 'fine-tune');
    form.append('file', new Blob([content], { type: 'application/jsonl' }), 'sdk.jsonl');
    const req = new Request('http://localhost/', { method: 'POST', body: form });
    const mp = await call('POST', '/v1/files', alice, Buffer.from(await req.arrayBuffer()), { 'content-type': req.headers.get('content-type')! });
    assert.equal(mp.statusCode, 201, mp.body);
    assert.equal(mp.json().filename, 'sdk.jsonl');
    assert.equal(mp.json().purpose, 'fine-tune');
    assert.equal(mp.json().rows, PLANTED.length);
    assert.equal((await call('GET', `/v1/files/${mp.json().id}`, alice)).json().bytes, Buffer.byteLength(content));
    const res = await call('POST', '/v1/fine_tuning/jobs', alice, { model: 'tiny-llama', training_file: f.json().id, register: false, hyperparameters: { n_epochs: 500 } });
    assert.equal(res.statusCode, 200, res.body);
    const id = res.json().id;
    await waitFor(id, alice, (j) => j.trained_steps >= 2);
    const c = await call('POST', `/v1/fine_tuning/jobs/${id}/cancel`, alice);
    assert.equal(c.statusCode, 200);
    const j = await waitFor(id, alice, (x) => x.status !== 'running');
    assert.equal(j.status, 'cancelled');
    assert.equal(errOf(await call('POST', `/v1/fine_tuning/jobs/${id}/cancel`, alice)).code, 'job_finished');
    // someone else's job is not visible
    assert.equal((await call('GET', `/v1/fine_tuning/jobs/${id}`, bob)).statusCode, 404);
    const list = (await call('GET', '/v1/fine_tuning/jobs?limit=1', alice)).json();
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].id, id);
  });

  test('bad input: each a clear error naming the parameter', async () => {
    const post = (body: unknown, who: LocalAccount | undefined = owner) => call('POST', '/v1/fine_tuning/jobs', who, body);
    const base = { model: 'tiny-llama', datanets: [{ id: open, version: 1 }] };
    const expect = async (body: unknown, status: number, code: string, param?: string, who?: LocalAccount) => {
      const r = await post(body, who);
      assert.equal(r.statusCode, status, r.body);
      assert.equal(errOf(r).code, code, r.body);
      if (param) assert.equal(errOf(r).param, param);
    };
    await expect({ ...base, hyperparameters: { lora_rank: 0 } }, 400, 'invalid_hyperparameter', 'hyperparameters.lora_rank');
    await expect({ ...base, hyperparameters: { learning_rate: -0.001 } }, 400, 'invalid_hyperparameter', 'hyperparameters.learning_rate');
    await expect({ ...base, model: 'no-such-model' }, 404, 'model_not_found', 'model');
    await expect({ ...base, datanets: [{ id: open, version: 9 }] }, 404, 'version_not_found', 'datanets');
    await expect({ model: 'tiny-llama' }, 400, 'data_required', 'training_file');
    await expect({ ...base, validation_split: 0.9 }, 400, 'invalid_request', 'validation_split');
    const anon = await call('POST', '/v1/fine_tuning/jobs', undefined, base);
    assert.equal(anon.statusCode, 401);
    assert.equal(errOf(anon).code, 'unauthenticated');
    // an approval datanet the caller holds no grant for: 403 before anything is queued
    const priv = (await call('POST', '/v1/datanets', owner, { name: 'Private planted', format: 'alpaca', policies: { access: { kind: 'approval' } } })).json().id;
    await expect({ model: 'tiny-llama', datanets: [{ id: priv, version: 1 }] }, 404, 'version_not_found');
    await upload(owner, priv, PLANTED.slice(0, 3));
    assert.equal((await call('POST', `/v1/datanets/${priv}/versions`, owner)).statusCode, 201);
    await expect({ model: 'tiny-llama', datanets: [{ id: priv, version: 1 }] }, 403, 'no_read_access', undefined, bob);
    const before = (await call('GET', '/v1/fine_tuning/jobs', bob)).json().data.length;
    assert.equal((await call('GET', '/v1/fine_tuning/jobs', bob)).json().data.length, before);
    // empty dataset: a file of blank lines is refused at upload
    const f = await call('POST', '/v1/files?filename=e.jsonl', owner, Buffer.from('\n\n'), { 'content-type': 'application/jsonl' });
    assert.equal(f.statusCode, 400);
    assert.equal(errOf(f).code, 'empty_dataset');
    // rows longer than the context: the job fails with the row named
    const long = await call('POST', '/v1/files?filename=l.jsonl', owner, Buffer.from(JSON.stringify({ instruction: 'x', output: 'word '.repeat(400) })), { 'content-type': 'application/jsonl' });
    const lj = await post({ model: 'tiny-llama', training_file: long.json().id, register: false });
    const failed = await waitFor(lj.json().id, owner, (x) => ['succeeded', 'failed'].includes(x.status));
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error.code, 'context_length_exceeded');
    assert.match(failed.error.message, /line 1/);
    // NaN loss (a base with a NaN weight diverges at once): the job fails with a clear error and a hint
    const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
    const hf = new Map([...tiny.hf].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
    hf.get('model.layers.1.mlp.down_proj.weight')!.data[0] = NaN;
    const poisoned = buildTinyModel('llama', join(node.dataDir, 'tiny-nan'), { format: 'gguf', seed: 11, hfTensors: hf });
    await new ModelCatalog(node.dataDir).add(poisoned.ggufPath!, 'tiny-nan');
    const ok = await call('POST', '/v1/files?filename=ok.jsonl', owner, Buffer.from(PLANTED.map((p) => JSON.stringify(p)).join('\n')), { 'content-type': 'application/jsonl' });
    const nj = await post({ model: 'tiny-nan', training_file: ok.json().id, register: false, hyperparameters: { checkpoint_every: 1 } });
    assert.equal(nj.statusCode, 200, nj.body);
    const nanJob = await waitFor(nj.json().id, owner, (x) => ['succeeded', 'failed'].includes(x.status));
    assert.equal(nanJob.status, 'failed');
    assert.equal(nanJob.error.code, 'nan_loss');
    assert.match(nanJob.error.message, /diverged at step 1/);
    assert.match(nanJob.error.hint, /learning rate/);
  });

  test('import: an uploaded adapter is checked against the base and registered; another base is refused', async () => {
    const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
    const good = buildTinyLora(tiny, join(node.dataDir, 'lora-good'), { rank: 2 });
    const uploadAdapter = async (path: string) => {
      const u = await call('POST', '/v1/files?filename=adapter.gguf&purpose=adapter', alice, readFileSync(path), { 'content-type': 'application/octet-stream' });
      assert.equal(u.statusCode, 201, u.body);
      return u.json().id as string;
    };
    const r = await call('POST', '/v1/fine_tuning/models/import', alice, { model: 'tiny-llama', file: await uploadAdapter(good.ggufPath!), price_per_1k_input: '3' });
    assert.equal(r.statusCode, 201, r.body);
    const onChain = (await node.services.chain.publicClient.readContract({
      address: node.services.chain.addresses.ModelRegistry, abi: artifacts.ModelRegistry.abi, functionName: 'getModel', args: [BigInt(r.json().model_id)],
    } as never)) as any;
    assert.equal(onChain.owner, alice.address);
    assert.equal(onChain.adapterHash, r.json().adapter_hash);
    const other = buildTinyModel('qwen2', join(node.dataDir, 'other'), { format: 'gguf', seed: 3, dims: { dModel: 32, headDim: 8 } });
    const wrong = buildTinyLora(other, join(node.dataDir, 'lora-wrong'), { rank: 2 });
    const w = await call('POST', '/v1/fine_tuning/models/import', alice, { model: 'tiny-llama', file: await uploadAdapter(wrong.ggufPath!) });
    assert.equal(w.statusCode, 422, w.body);
    assert.equal(errOf(w).code, 'adapter_mismatch');
    assert.match(errOf(w).hint, /wrong base model/);
    assert.doesNotMatch(w.body, new RegExp(node.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'no path on the node in the error');
  });

  test('no request field becomes a path: import path, job model path, adapter as training file (issue 9 item 4)', async () => {
    const keyring = join(node.dataDir, 'keyring', 'mnemonic');
    const p = await call('POST', '/v1/fine_tuning/models/import', alice, { model: 'tiny-llama', path: keyring });
    assert.equal(p.statusCode, 400, p.body);
    assert.equal(errOf(p).code, 'path_not_accepted');
    const m = await call('POST', '/v1/fine_tuning/models/import', alice, { model: keyring, file: 'file-abc' });
    assert.equal(m.statusCode, 404, m.body);
    for (const model of [keyring, join(node.dataDir, 'tiny'), '/etc/passwd', '../../keyring/mnemonic']) {
      const j = await call('POST', '/v1/fine_tuning/jobs', alice, { model, datanets: [{ id: open, version: 1 }] });
      assert.equal(j.statusCode, 404, j.body);
      assert.equal(errOf(j).code, 'model_not_found');
      // No file bytes: no two consecutive words of the mnemonic (single words are common English).
      const words = readFileSync(keyring, 'utf8').trim().split(/\s+/);
      assert.ok(!words.slice(1).some((w, i) => j.body.includes(`${words[i]} ${w}`)), 'no file bytes in the error');
      assert.ok(!j.body.includes(node.dataDir), 'no path of the node in the error');
    }
    const g = await call('POST', '/v1/files?filename=x.gguf&purpose=adapter', alice, Buffer.from('GGUF\0\0\0\0'), { 'content-type': 'application/octet-stream' });
    assert.equal(g.statusCode, 201, g.body);
    const t = await call('POST', '/v1/fine_tuning/jobs', alice, { model: 'tiny-llama', training_file: g.json().id });
    assert.equal(t.statusCode, 400, t.body);
    assert.equal(errOf(t).code, 'invalid_training_file');
  });

  test('a job naming one datanet version 10 000 times trains on it once; too many distinct versions is a 400 (issue 9 item 6)', async () => {
    const t0 = Date.now();
    const many = await call('POST', '/v1/fine_tuning/jobs', owner, { model: 'tiny-llama', datanets: Array.from({ length: 10_000 }, () => ({ id: open, version: 1 })), register: false, hyperparameters: { max_steps: 1 } });
    assert.equal(many.statusCode, 200, many.body);
    assert.ok(Date.now() - t0 < 5_000, 'answered at once');
    assert.deepEqual(many.json().datanets ?? [{ id: open, version: 1 }], [{ id: open, version: 1 }]);
    await call('POST', `/v1/fine_tuning/jobs/${many.json().id}/cancel`, owner);
    const distinct = await call('POST', '/v1/fine_tuning/jobs', owner, { model: 'tiny-llama', datanets: Array.from({ length: 40 }, (_, i) => ({ id: open, version: i + 1 })) });
    assert.equal(distinct.statusCode, 400, distinct.body);
    assert.equal(errOf(distinct).code, 'too_many_datanet_versions');
    assert.equal(errOf(distinct).param, 'datanets');
  });

  test('SSE live: a stream opened while the job runs carries its progress to the end', async () => {
    const res = await call('POST', '/v1/fine_tuning/jobs', owner, { model: 'tiny-llama', datanets: [{ id: open, version: 1 }], register: false, hyperparameters: { n_epochs: 3 } });
    const live = await call('GET', `/v1/fine_tuning/jobs/${res.json().id}/events`, owner, undefined, { accept: 'text/event-stream' });
    const frames = live.body.split('\n\n').filter(Boolean);
    assert.ok(frames.some((f) => /event: metrics/.test(f) && /"train_loss"/.test(f)));
    assert.match(frames[frames.length - 1], /event: done\ndata: .*"status":"succeeded"/);
    const ids = frames.flatMap((f) => /^id: (\d+)$/m.exec(f)?.[1] ?? []).map(Number);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'events in order, none twice');
    assert.equal(new Set(ids).size, ids.length);
  });

  test('documented in /openapi.json', async () => {
    const spec = (await call('GET', '/openapi.json')).json();
    for (const p of ['/v1/files', '/v1/fine_tuning/jobs', '/v1/fine_tuning/jobs/{id}', '/v1/fine_tuning/jobs/{id}/cancel', '/v1/fine_tuning/jobs/{id}/events', '/v1/fine_tuning/jobs/{id}/checkpoints']) assert.ok(spec.paths[p], p);
  });
});
