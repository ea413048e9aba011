/** `openledger models add|list|remove` and `openledger run` on real model files the tests write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildTinyModel } from '../src/engine/testing/tiny-models.ts';
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
