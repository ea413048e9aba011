/** `openledger models add|list|remove` and `openledger run` on real model files the tests write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildTinyModel } from '../src/engine/testing/tiny-models.ts';
import { buildTinyLora } from '../src/engine/testing/tiny-lora.ts';
import { tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'openledger.mjs');
const cli = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

test('models add records the weight hash; run streams a reproducible completion', { timeout: 240_000 }, () => {
  const dataDir = tempDir();
  const tiny = buildTinyModel('llama', tempDir(), { seed: 7, format: 'both' });
  const add = cli(['models', 'add', tiny.ggufPath!, '--name', 'tiny-llama', '--data-dir', dataDir, '--json']);
  assert.equal(add.status, 0, add.stderr);
  const entry = JSON.parse(add.stdout);
  assert.equal(entry.family, 'llama');
  assert.equal(entry.sha256, createHash('sha256').update(readFileSync(tiny.ggufPath!)).digest('hex'));

  const addHf = cli(['models', 'add', tiny.hfDir!, '--name', 'tiny-llama-hf', '--data-dir', dataDir]);
  assert.equal(addHf.status, 0, addHf.stderr);
  const list = JSON.parse(cli(['models', 'list', '--data-dir', dataDir, '--json']).stdout);
  assert.deepEqual(list.map((m: any) => m.name).sort(), ['tiny-llama', 'tiny-llama-hf']);

  const run1 = cli(['run', 'tiny-llama', 'hello world', '--max-tokens', '12', '--temperature', '0', '--data-dir', dataDir]);
  assert.equal(run1.status, 0, run1.stderr);
  assert.match(run1.stderr, /generated tokens/);
  const run2 = cli(['run', 'tiny-llama-hf', 'hello world', '--max-tokens', '12', '--temperature', '0', '--data-dir', dataDir]);
  assert.equal(run2.stdout, run1.stdout, 'HF folder and GGUF of the same model generate the same greedy text');
  const seeded = (seed: string) => cli(['run', 'tiny-llama', 'hello', '--max-tokens', '12', '--seed', seed, '--temperature', '1', '--data-dir', dataDir]).stdout;
  assert.equal(seeded('5'), seeded('5'), 'same seed, same text');

  assert.equal(cli(['models', 'remove', 'tiny-llama-hf', '--data-dir', dataDir]).status, 0);
  assert.equal(JSON.parse(cli(['models', 'list', '--data-dir', dataDir, '--json']).stdout).length, 1);
});

test('models add and run refuse bad input with a clear error', { timeout: 120_000 }, () => {
  const dataDir = tempDir();
  const notGguf = join(tempDir(), 'broken.gguf');
  writeFileSync(notGguf, 'this is not a gguf file at all');
  const r = cli(['models', 'add', notGguf, '--data-dir', dataDir]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /broken\.gguf/);
  assert.equal(cli(['models', 'list', '--data-dir', dataDir, '--json']).stdout.trim(), '[]', 'nothing recorded');

  const missing = cli(['run', 'no-such-model', 'hi', '--data-dir', dataDir]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /no model "no-such-model"[\s\S]*models add/);
});

test('run --engine llama.cpp: the same model and GGUF LoRA adapter give the same greedy text in llama.cpp', { timeout: 240_000 }, () => {
  const dataDir = tempDir();
  const tiny = buildTinyModel('llama', tempDir(), { seed: 11, format: 'both' });
  const lora = buildTinyLora(tiny, tempDir(), { seed: 3 });
  const run = (model: string, engine: string, extra: string[] = []) =>
    cli(['run', model, 'hello world', '--max-tokens', '12', '--temperature', '0', '--engine', engine, '--data-dir', dataDir, ...extra]);
  for (const extra of [[], ['--adapter', lora.ggufPath]]) {
    const ours = run(tiny.ggufPath!, 'ours', extra), theirs = run(tiny.ggufPath!, 'llama.cpp', extra);
    assert.equal(ours.status, 0, ours.stderr);
    assert.equal(theirs.status, 0, theirs.stderr);
    assert.match(theirs.stderr, /\[llama\.cpp: \d+ prompt \+ \d+ generated tokens/);
    assert.ok(ours.stdout.trim().length > 0);
    assert.equal(theirs.stdout, ours.stdout, `llama.cpp and our engine agree${extra.length ? ' with the adapter' : ''}`);
  }
  assert.notEqual(run(tiny.ggufPath!, 'ours', ['--adapter', lora.ggufPath]).stdout, run(tiny.ggufPath!, 'ours').stdout, 'the adapter changes the output');

  // the shipped starter (an HF folder) is converted to GGUF once, into the data dir
  const s1 = cli(['run', 'starter', 'Once upon a time, a little girl named', '--max-tokens', '30', '--temperature', '0', '--data-dir', dataDir]);
  const s2 = cli(['run', 'starter', 'Once upon a time, a little girl named', '--max-tokens', '30', '--temperature', '0', '--engine', 'llama.cpp', '--data-dir', dataDir]);
  assert.equal(s2.status, 0, s2.stderr);
  assert.equal(s2.stdout, s1.stdout);

  const hf = run(tiny.hfDir!, 'llama.cpp');
  assert.notEqual(hf.status, 0);
  assert.match(hf.stderr, /llama\.cpp reads GGUF files only/);
  const peft = run(tiny.ggufPath!, 'llama.cpp', ['--adapter', lora.peftDir]);
  assert.notEqual(peft.status, 0);
  assert.match(peft.stderr, /GGUF files, and .* is not one/);
  const bad = run(tiny.ggufPath!, 'vllm');
  assert.match(bad.stderr, /--engine must be ours or llama\.cpp/);
});
