// Proof of Attribution end to end against a real node (embedded Anvil, real store, the factory's
// trainer on a tiny model) through the HTTP API in process: a datanet with two contributors is
// published, a job fine-tunes on it (writing gradient features beside its checkpoints), the
// fine-tuned model answers, the attribution hook queues the answer, the worker thread attributes
// it, and the record names the contributor whose rows shaped the answer with proofs that verify
// against the root committed on chain; the fee split's WeightSource returns the same weights. Bad
// input: unknown ids and other callers (404), a base model (spans only, said), missing features
// (spans only, said), a damaged span index (rebuilt, said).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts';
import { siweToken, startTestNode, uploadSignedRows } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { getVersion } from '../datanets/chain-facts.ts';
import { verifyRowProof } from '../datanets/index.ts';
import { ModelCatalog } from '../models/index.ts';
import { buildTinyModel } from '../engine/testing/index.ts';
import { createWeightSource } from './index.ts';

let node: RunningNode & { dataDir: string };
let owner: LocalAccount, alice: LocalAccount, bob: LocalAccount, outsider: LocalAccount;
const tokens = new Map<string, string>();
const call = (method: 'GET' | 'POST', url: string, who?: LocalAccount, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({ method, url, payload: payload as never, headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers } });

const upload = (acct: LocalAccount, datanetId: number, rows: unknown[]) => uploadSignedRows(node, acct, tokens.get(acct.address)!, datanetId, rows);

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta', 'zeta', 'iota', 'lambda', 'rho'];
// alice: "code <w>" → "the code is <w'>"; bob: unrelated counting rows.
const ALICE = WORDS.map((w, i) => ({ instruction: `code ${w}`, output: `the code is ${WORDS[(i * 5 + 3) % WORDS.length]}` }));
const BOB = ['one two', 'three four', 'five six', 'seven eight', 'nine ten', 'red green', 'blue gold', 'sun moon'].map((w, i) => ({ instruction: `count ${i}`, output: `we say ${w} now` }));

async function completion(model: string, prompt: string, who = owner): Promise<string> {
  const r = await call('POST', '/v1/completions', who, { model, prompt, max_tokens: 8, temperature: 0 });
  assert.equal(r.statusCode, 200, r.body);
  return r.json().id as string;
}

async function attributed(id: string, who = owner, ms = 120_000): Promise<any> {
  const t0 = Date.now();
  for (;;) {
    const r = await call('GET', `/v1/inferences/${id}/attribution`, who);
    if (r.statusCode === 200) return r.json();
    assert.equal(r.statusCode, 202, r.body);
    if (Date.now() - t0 > ms) throw new Error(`attribution of ${id} still ${r.json().status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

let datanetId = 0, ftModel = '', jobId = '';

before(async () => {
  node = await startTestNode();
  [owner, alice, , bob] = node.services.keyring!.accounts;
  outsider = privateKeyToAccount(generatePrivateKey());
  for (const a of [owner, alice, bob, outsider]) tokens.set(a.address, await siweToken(node, a));
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
  const c = await call('POST', '/v1/datanets', owner, { name: 'codes', format: 'alpaca', policies: {} });
  assert.equal(c.statusCode, 201, c.body);
  datanetId = c.json().id;
  await upload(alice, datanetId, ALICE);
  await upload(bob, datanetId, BOB);
  assert.equal((await call('POST', `/v1/datanets/${datanetId}/versions`, owner)).statusCode, 201);
  const res = await call('POST', '/v1/fine_tuning/jobs', owner, {
    model: 'tiny-llama', datanets: [{ id: datanetId, version: 1 }], suffix: 'codes',
    hyperparameters: { n_epochs: 30, batch_size: 8, learning_rate: 1e-2, lora_rank: 4, lora_alpha: 8, warmup_steps: 2, checkpoint_every: 10, seed: 3 }, validation_split: 0,
  });
  assert.equal(res.statusCode, 200, res.body);
  jobId = res.json().id;
  const t0 = Date.now();
  for (;;) {
    const j = (await call('GET', `/v1/fine_tuning/jobs/${jobId}`, owner)).json();
    if (j.status === 'succeeded') { ftModel = j.fine_tuned_model; break; }
    assert.ok(!['failed', 'cancelled'].includes(j.status), JSON.stringify(j.error));
    if (Date.now() - t0 > 300_000) throw new Error('job did not finish');
    await new Promise((r) => setTimeout(r, 200));
  }
});
after(async () => {
  await node?.stop();
});

describe('attribution API', () => {
  test('the job wrote gradient features beside its checkpoints', () => {
    const dir = join(node.dataDir, 'factory', 'jobs', jobId, 'attribution');
    const h = JSON.parse(readFileSync(join(dir, 'features.json'), 'utf8'));
    assert.equal(h.format, 'openledger-grad-features-v1');
    assert.equal(h.rows.length, ALICE.length + BOB.length);
    assert.ok(h.checkpoints.length >= 2 && h.checkpoints.length <= 3, JSON.stringify(h.checkpoints.map((c: any) => c.step)));
    assert.ok(h.checkpoints.every((c: any) => c.eta > 0));
    assert.ok(!readdirSync(dir).some((f) => f.startsWith('pending-')));
  });

  test('a fine-tuned answer is attributed in the background to the contributor whose rows shaped it, with proofs against the on-chain root', async (t) => {
    const t0 = performance.now();
    const id = await completion(ftModel, 'code beta\n');
    const answerMs = performance.now() - t0;
    const r = await attributed(id);
    assert.equal(r.object, 'attribution');
    assert.equal(r.inferenceId, id);
    assert.equal(r.model, ftModel);
    assert.equal(r.method.gradient.available, true, JSON.stringify(r.method.gradient));
    assert.match(r.method.name, /^trak\+span$/);
    assert.equal(r.method.version, '1.0.0');
    assert.deepEqual(r.datanetVersions.map((v: any) => [v.datanetId, v.version]), [[datanetId, 1]]);
    const sum = r.contributorWeights.reduce((s: number, w: any) => s + w.weightPpm, 0);
    assert.equal(sum, 1_000_000);
    assert.equal(r.contributorWeights[0].address, alice.address, JSON.stringify(r.contributorWeights));
    assert.ok(r.contributorWeights[0].weightPpm > 600_000, JSON.stringify(r.contributorWeights));
    assert.ok(r.topRows.length >= 3);
    assert.equal(r.topRows[0].contributor, alice.address);
    const onChain = await getVersion(node.services.chain, BigInt(datanetId), 1n);
    for (const row of r.topRows) {
      assert.ok(row.proof && row.proof.verified && row.proof.verifiedOnChain, JSON.stringify(row));
      assert.equal(row.proof.root.toLowerCase(), onChain.merkleRoot.toLowerCase());
      assert.ok(verifyRowProof(onChain.merkleRoot, row.proof.leaf, row.proof.proof));
    }
    // The fee split's weights are the record's.
    const ws = await createWeightSource(node.services.store.db).contributorWeights(id);
    assert.deepEqual(ws, r.contributorWeights);
    assert.equal(await createWeightSource(node.services.store.db).contributorWeights('cmpl-nope'), null);
    // …and the rewards service (payable) holds this source for its epoch split.
    const rewards = node.services.modules.rewards as { weightSource?: { contributorWeights(id: string): Promise<unknown> } | null } | undefined;
    assert.ok(rewards?.weightSource, 'the rewards service holds the attribution WeightSource');
    assert.deepEqual(await rewards!.weightSource!.contributorWeights(id), r.contributorWeights);
    // The CLI's view of it: the model owner may read; reputation reflects it.
    const rep = (await call('GET', `/v1/attribution/contributors/${alice.address}`)).json();
    assert.ok(rep.influence.positive >= 1 && rep.score > 0.5, JSON.stringify(rep));
    t.diagnostic(`answer ${answerMs.toFixed(0)} ms; record: ${r.topRows.length} rows, alice ${r.contributorWeights[0].weightPpm} ppm`);
  });

  test('bad input: unknown inference and other callers get 404; a bad wait is 400', async () => {
    const id = await completion(ftModel, 'code gamma\n');
    for (const [who, url] of [[owner, '/v1/inferences/cmpl-unknown/attribution'], [outsider, `/v1/inferences/${id}/attribution`]] as const) {
      const r = await call('GET', url, who);
      assert.equal(r.statusCode, 404, r.body);
      assert.equal(r.json().error.code, 'inference_not_found');
      assert.ok(r.json().error.hint);
    }
    assert.equal((await call('GET', `/v1/inferences/${id}/attribution`)).statusCode, 401);
    const bad = await call('POST', `/v1/inferences/${id}/attribution?wait=999`, owner);
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.param, 'wait');
    assert.equal((await call('GET', '/v1/attribution/contributors/0x123')).statusCode, 400);
    await attributed(id);
  });

  test('a base model is attributed by spans alone, and the record says why', async () => {
    const id = await completion('tiny-llama', 'code alpha\n');
    const r = await attributed(id);
    assert.equal(r.method.gradient.available, false);
    assert.match(r.method.gradient.reason, /base model/);
    assert.equal(r.method.span.available, true);
    assert.ok(r.warnings.some((w: string) => /gradient influence unavailable/.test(w)));
  });

  test('missing features: spans only, said in the record; a damaged span index is rebuilt and said', async () => {
    const dir = join(node.dataDir, 'attribution', 'spans');
    const ix = readdirSync(dir)[0];
    const shard = join(dir, ix, 'shard-0.sa');
    const b = readFileSync(shard);
    b[b.length - 9] ^= 0xff;
    writeFileSync(shard, b);
    const feat = join(node.dataDir, 'factory', 'jobs', jobId, 'attribution', 'features.json');
    const saved = readFileSync(feat);
    rmSync(feat);
    try {
      // A fresh worker thread (the old one holds the files it verified open).
      await (node.services.modules.attribution as import('./queue.ts').AttributionQueue).restartWorker();
      const id = await completion(ftModel, 'code delta\n');
      const st = await call('POST', `/v1/inferences/${id}/attribution?wait=60`, owner);
      assert.equal(st.statusCode, 200, st.body);
      const r = st.json();
      assert.equal(r.method.gradient.available, false);
      assert.match(r.method.gradient.reason, /no gradient features/);
      assert.equal(r.method.span.available, true);
      assert.ok(r.warnings.some((w: string) => /damaged and has been rebuilt/.test(w)), JSON.stringify(r.warnings));
      assert.ok(existsSync(shard));
    } finally {
      writeFileSync(feat, saved);
    }
  });

  test('queue counters and flags are visible', async () => {
    const q = (await call('GET', '/v1/attribution/queue')).json();
    assert.ok(q.done >= 4, JSON.stringify(q));
    const f = await call('GET', `/v1/attribution/flags?datanet=${datanetId}`);
    assert.equal(f.statusCode, 200);
    assert.ok(Array.isArray(f.json().data));
  });
});
