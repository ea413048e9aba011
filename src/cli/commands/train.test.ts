/**
 * `openledger train` end to end: the real CLI binary against a node listening on a port. A datanet
 * with a planted mapping is created, contributed and published with the datanet CLI; `train
 * --watch` fine-tunes the tiny model on it with a live progress readout, prints the evaluation
 * and the registered model; list / status / events / cancel; bad arguments are clear errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode } from '../../../test/helpers.ts';
import type { RunningNode } from '../../node.ts';
import { ModelCatalog } from '../../models/index.ts';
import { buildTinyModel } from '../../engine/testing/index.ts';
import { parseDatanetRef, progressLine } from './train.ts';

const BIN = join(process.cwd(), 'bin', 'openledger.mjs');
let node: RunningNode & { dataDir: string };

before(async () => {
  node = await startTestNode({ listen: true });
  const tiny = buildTinyModel('llama', join(node.dataDir, 'tiny'), { format: 'gguf', seed: 11 });
  await new ModelCatalog(node.dataDir).add(tiny.ggufPath!, 'tiny-llama');
});
after(async () => {
  await node?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--api', node.url!, '--data-dir', node.dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('helpers: datanet refs and the progress line', () => {
  assert.deepEqual(parseDatanetRef('3@2'), { id: 3, version: 2 });
  assert.throws(() => parseDatanetRef('3'), (e: any) => /not a datanet version/.test(e.message) && /<id>@<version>/.test(e.hint));
  assert.equal(progressLine({ step: 5, total_steps: 10, train_loss: 1.23456, learning_rate: 2e-4, tokens_per_s: 99.6, eta_s: 3 }, 10), '[#####-----] 5/10 loss 1.2346 lr 2.0e-4 100 tok/s eta 3s');
});

test('train CLI: datanet → train --watch (progress, evaluation, registration) → list / status / events / cancel', async () => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta', 'zeta', 'iota', 'lambda', 'rho'];
  const file = join(node.dataDir, 'planted.jsonl');
  writeFileSync(file, words.map((w, i) => JSON.stringify({ instruction: `code ${w}`, output: words[(i * 5 + 1) % words.length] })).join('\n') + '\n');
  const c = await cli(['datanet', 'create', '--name', 'Planted codes', '--format', 'alpaca', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const id = JSON.parse(c.stdout).id;
  assert.equal((await cli(['datanet', 'contribute', String(id), file, '--as', '2'])).code, 0);
  const p = await cli(['datanet', 'publish', String(id)]);
  assert.equal(p.code, 0, p.stderr);

  const t = await cli(['train', '--model', 'tiny-llama', '--datanet', `${id}@1`, '--epochs', '30', '--batch-size', '8', '--lr', '0.01', '--rank', '8', '--suffix', 'cli', '--price', '5', '--watch']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /\[#+-*\] \d+\/\d+ loss \d+\.\d{4} lr .* tok\/s eta \d+s/);
  assert.match(t.stderr, /Dataset: \d+ training rows, \d+ held out/);
  assert.match(t.stdout, /metric\s+base\s+tuned/);
  assert.match(t.stdout, /perplexity/);
  assert.match(t.stdout, /fine-tuned model: ft:tiny-llama:cli:/);
  assert.match(t.stdout, /registered on chain: model \d+/);
  // the loss fell: first and last progress lines
  const losses = [...t.stderr.matchAll(/\] \d+\/\d+ loss (\d+\.\d+)/g)].map((m) => Number(m[1]));
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss ${losses[0]} → ${losses[losses.length - 1]}`);

  const l = await cli(['train', 'list', '--json']);
  assert.equal(l.code, 0, l.stderr);
  const jobs = JSON.parse(l.stdout);
  assert.equal(jobs.length, 1);
  assert.equal(jobs[0].status, 'succeeded');
  const s = await cli(['train', 'status', jobs[0].id]);
  assert.equal(JSON.parse(s.stdout).fine_tuned_model, jobs[0].fine_tuned_model);
  const e = await cli(['train', 'events', jobs[0].id]);
  assert.match(e.stdout, /The job has successfully completed/);
  const x = await cli(['train', 'cancel', jobs[0].id]);
  assert.notEqual(x.code, 0);
  assert.match(x.stderr, /already succeeded[\s\S]*hint:/);

  const bad = await cli(['train', '--model', 'tiny-llama', '--datanet', String(id)]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /is not a datanet version[\s\S]*hint: write <id>@<version>/);
  const rank0 = await cli(['train', '--model', 'tiny-llama', '--datanet', `${id}@1`, '--rank', '0']);
  assert.notEqual(rank0.code, 0);
  assert.match(rank0.stderr, /hyperparameters\.lora_rank/);
});
