/**
 * The shipped starter model: its card matches its weights, a fresh node registers it (and a
 * removal sticks), a short LoRA fine-tune on the Veloria demo datanet beats the base on the
 * held-out split, and the same model and adapter run in llama.cpp with the same greedy tokens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelCatalog } from './catalog.ts';
import { ensureStarterModel, readStarterCard, STARTER_DIR, STARTER_NAME, verifyStarter, writeStarterGguf } from './starter.ts';
import { loadModel } from '../engine/model/load.ts';
import { createEngine } from '../engine/engine.ts';
import { loadAdapterFile } from '../engine/lora/index.ts';
import { train, evaluate } from '../engine/train/index.ts';
import { parseJsonlFile, buildDataset } from '../factory/dataset.ts';
import { exportGguf } from '../factory/export.ts';
import { greedyIds } from '../factory/evaluate.ts';
import { parseHyperparameters, trainerOptions } from '../factory/hyperparameters.ts';
import { getLlamaCpp, loadOracleModel, oracleGreedy, oracleTokenize } from '../engine/parity/index.ts';
import { buildTinyModel } from '../engine/testing/tiny-models.ts';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

const DIR = STARTER_DIR;
const root = mkdtempSync(join(tmpdir(), 'starter-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

test('the shipped weights are the ones the model card records; the card holds the recipe', async () => {
  const card = readStarterCard(DIR);
  const sha = createHash('sha256').update(readFileSync(join(DIR, card.weights.file))).digest('hex');
  assert.equal(sha, card.weights.sha256);
  assert.equal(await verifyStarter(DIR), sha);
  assert.match(card.corpus.sha256, /^[0-9a-f]{64}$/);
  assert.ok(card.steps > 0 && card.heldOut.final < card.heldOut.init, 'pre-training lowered the held-out loss');
  const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
  for (const s of [card.weights.sha256, card.corpus.sha256, 'npm run train:starter']) assert.ok(readme.includes(s), `model card mentions ${s}`);
  const weightBytes = readFileSync(join(DIR, card.weights.file)).length;
  assert.ok(weightBytes < 30 * 2 ** 20, `weights are ${weightBytes} bytes`);
});

test('a catalog gets the starter by path and hash; a removal sticks until it is added again', async () => {
  const cat = new ModelCatalog(join(root, 'catalog-data'));
  const first = await ensureStarterModel(cat, DIR);
  assert.equal(first.status, 'added');
  const entry = cat.get(STARTER_NAME)!;
  assert.equal(entry.path, DIR, 'registered in place (weights not copied)');
  assert.equal(entry.sha256, readStarterCard(DIR).weights.sha256);
  assert.equal((await ensureStarterModel(cat, DIR)).status, 'present');

  cat.remove(STARTER_NAME);
  assert.equal((await ensureStarterModel(cat, DIR)).status, 'removed');
  assert.equal(cat.get(STARTER_NAME), undefined);
  assert.throws(() => cat.resolve(STARTER_NAME), /no model "starter"/);

  await cat.add(DIR, STARTER_NAME);
  assert.equal(cat.wasRemoved(STARTER_NAME), false);
  assert.equal((await ensureStarterModel(cat, DIR)).status, 'present');

  // A model the user registered as "starter" themselves is left alone.
  const other = new ModelCatalog(join(root, 'catalog-other'));
  const tiny = buildTinyModel('llama', join(root, 'tiny'), { format: 'gguf' });
  await other.add(tiny.ggufPath!, STARTER_NAME);
  assert.equal((await ensureStarterModel(other, DIR)).status, 'taken');
  assert.equal(other.get(STARTER_NAME)!.path, tiny.ggufPath);
});

test('a fresh node lists the starter model; a fine-tuning job without a model trains it and beats it on held-out rows', { timeout: 180_000 }, async (t) => {
  const node = await startTestNode();
  try {
    const names = new ModelCatalog(node.dataDir).list().map((m) => m.name);
    assert.deepEqual(names, [STARTER_NAME]);

    const token = await siweToken(node, privateKeyToAccount(generatePrivateKey()));
    const call = (method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) =>
      node.app.inject({ method, url, payload: payload as never, headers: { authorization: `Bearer ${token}`, ...headers } });

    const rows = readFileSync(join(import.meta.dirname, '../../datasets/demo-datanets/veloria-facts/rows.jsonl'));
    const f = await call('POST', '/v1/files?filename=veloria.jsonl&purpose=fine-tune', rows, { 'content-type': 'application/jsonl' });
    assert.equal(f.statusCode, 201, f.body);
    // OpenAI's shape, minus `model`: the node's default base model is the shipped starter.
    const res = await call('POST', '/v1/fine_tuning/jobs', { training_file: f.json().id, register: false, validation_split: 0.2, hyperparameters: { n_epochs: 3, batch_size: 8, learning_rate: 3e-3, seed: 7 } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().model, STARTER_NAME);
    const id = res.json().id as string;
    let job: any;
    for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
      job = (await call('GET', `/v1/fine_tuning/jobs/${id}`)).json();
      if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
      if (Date.now() - t0 > 150_000) throw new Error(`job still ${job.status}`);
    }
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.match(job.fine_tuned_model, /^ft:starter:/);
    const e = job.result.evaluation;
    t.diagnostic(`API job: ${job.trained_steps} steps; held-out (${e.rows} rows) loss ${e.base.loss.toFixed(3)} → ${e.tuned.loss.toFixed(3)}, ROUGE-L ${e.base.rouge_l.toFixed(2)} → ${e.tuned.rouge_l.toFixed(2)}`);
    assert.ok(e.tuned.loss < e.base.loss, `held-out loss base ${e.base.loss} vs tuned ${e.tuned.loss}`);
  } finally {
    await node.stop();
  }
});

test('LoRA on the Veloria demo datanet beats the base on the held-out split; model and adapter run the same in llama.cpp', { timeout: 180_000 }, async (t) => {
  const model = await loadModel(DIR);
  const text = readFileSync(join(import.meta.dirname, '../../datasets/demo-datanets/veloria-facts/rows.jsonl'), 'utf8');
  const { format, rows } = parseJsonlFile(text, 'veloria');
  const ds = buildDataset(format, rows, { tokenizer: model.tokenizer, contextLength: model.config.contextLength, evalFraction: 0.2 });
  assert.ok(ds.eval.length >= 5 && ds.train.length >= 40, `split ${ds.train.length}/${ds.eval.length}`);
  const heldOut = ds.eval.map((r) => r.example);

  const base = await evaluate(model, heldOut);
  const losses: number[] = [];
  const r = await train(model, ds.train.map((x) => x.example), {
    lora: { targets: 'all-linear', rank: 8, alpha: 16 },
    hyperparameters: { epochs: 3, batchSize: 8, lr: 3e-3, schedule: 'cosine', warmupSteps: 2, seed: 7 },
    onStep: (m) => losses.push(m.loss),
  });
  const tuned = await evaluate(model, heldOut, { factors: r.factors });
  t.diagnostic(`held-out loss base ${base.loss.toFixed(3)} → tuned ${tuned.loss.toFixed(3)}; train loss ${losses[0].toFixed(3)} → ${losses.at(-1)!.toFixed(3)} in ${losses.length} steps`);
  assert.ok(losses.at(-1)! < losses[0], 'training loss fell');
  assert.ok(tuned.loss < base.loss - 0.1, `tuned held-out loss ${tuned.loss} beats the base's ${base.loss}`);

  // What a newcomer gets from `openledger train --datanet …` with every default (the factory's hyperparameters).
  const defaults = trainerOptions(parseHyperparameters({}), model.config.contextLength, ds.stats.maxTokens);
  const d = await train(model, ds.train.map((x) => x.example), defaults);
  const tunedDefault = await evaluate(model, heldOut, { factors: d.factors });
  d.free();
  t.diagnostic(`factory defaults (lr ${defaults.hyperparameters.lr}, ${defaults.hyperparameters.epochs} epochs, rank ${defaults.lora.rank}): held-out loss ${base.loss.toFixed(3)} → ${tunedDefault.loss.toFixed(3)}`);
  assert.ok(tunedDefault.loss < base.loss, `with the factory's defaults the tuned model (${tunedDefault.loss}) beats the base (${base.loss}) too`);

  const llama = await getLlamaCpp();
  if ('error' in llama) { r.free(); return t.skip(`node-llama-cpp cannot load: ${llama.error}`); }
  const gguf = await writeStarterGguf(join(root, 'starter-f32.gguf'), { dir: DIR });
  const adapterPath = exportGguf(join(root, 'veloria.gguf'), model, r.factors, { name: 'veloria' });
  const oracle = await loadOracleModel(gguf);
  try {
    const prompt = ds.eval[0].prompt;
    const ids = model.tokenizer.encode(prompt);
    assert.deepEqual(oracleTokenize(oracle, prompt, true), ids, 'llama.cpp tokenizes the prompt as we do');
    const engine = await createEngine(model);
    const adapter = engine.addAdapter(loadAdapterFile(adapterPath, model));
    const STEPS = 12;
    const oursBase = greedyIds(engine, ids, STEPS, null, []), oursTuned = greedyIds(engine, ids, STEPS, adapter, []);
    const refBase = await oracleGreedy(oracle, ids, STEPS), refTuned = await oracleGreedy(oracle, ids, STEPS, { lora: [{ filePath: adapterPath, scale: 1 }] });
    assert.deepEqual(oursBase, refBase.tokens, 'base: same greedy tokens as llama.cpp');
    assert.deepEqual(oursTuned, refTuned.tokens, 'with the adapter: same greedy tokens as llama.cpp');
    assert.notDeepEqual(oursTuned, oursBase, 'the adapter changes the output');
    t.diagnostic(`prompt ${JSON.stringify(prompt)}: base ${JSON.stringify(model.tokenizer.decode(oursBase))}, tuned ${JSON.stringify(model.tokenizer.decode(oursTuned))}`);
  } finally {
    await oracle.dispose();
    r.free();
  }
});
