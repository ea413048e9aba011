/**
 * Falcon-40B-style blocks (two norms, `attn_norm_2`): attention reads attn_norm_2 (HF ln_attn),
 * the MLP reads attn_norm (HF ln_mlp), as llama.cpp builds them. The tiny falcon fixture is
 * 7B-style (one norm), so this test adds random attn_norm_2 tensors and checks parity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyModel } from '../testing/tiny-models.ts';
import { readGgufHeader, readBytesInto } from '../formats/gguf.ts';
import { writeGguf, gg, type GgufValue } from '../formats/gguf-write.ts';
import { dequantize } from '../formats/quantize.ts';
import { loadModel } from './load.ts';
import { createEngine } from '../engine.ts';
import { getLlamaCpp, loadOracleModel, oracleGreedy } from '../parity/llamacpp.ts';

test('falcon with attn_norm_2 matches llama.cpp', { timeout: 120_000 }, async (t) => {
  const llama = await getLlamaCpp();
  if ('error' in llama) return t.skip(`node-llama-cpp cannot load: ${llama.error}`);
  const dir = mkdtempSync(join(tmpdir(), 'ol-f40-'));
  const tm = buildTinyModel('falcon', dir, { format: 'gguf' });
  const f = readGgufHeader(tm.ggufPath!);
  const T: Record<number, string> = { 0: 'u8', 1: 'i8', 2: 'u16', 3: 'i16', 4: 'u32', 5: 'i32', 6: 'f32', 7: 'bool', 8: 'string', 10: 'u64', 11: 'i64', 12: 'f64' };
  const meta: Array<[string, GgufValue]> = [];
  for (const [k, v] of f.metadata) {
    const ty = f.metadataTypes.get(k)!;
    if (ty === 9) {
      const arr = v as unknown[];
      const it = typeof arr[0] === 'string' ? 'string' : Number.isInteger(arr[0]) ? 'i32' : 'f32';
      meta.push([k, gg.arr(it as 'string', arr as string[])]);
    } else meta.push([k, { type: T[ty], value: v } as GgufValue]);
  }
  const fd = openSync(tm.ggufPath!, 'r');
  const tensors: Array<{ name: string; shape: number[]; dtype: 'f32'; data: Float32Array }> = [];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  for (const ti of f.tensors) {
    const b = new Uint8Array(ti.nbytes);
    readBytesInto(tm.ggufPath!, fd, ti.offset, b, ti.name);
    const n = ti.ne.reduce((a: number, c: number) => a * c, 1);
    tensors.push({ name: ti.name, shape: ti.ne, dtype: 'f32', data: dequantize(b, ti.dtype!, n) });
    const m = /^blk\.(\d+)\.attn_norm\.(weight|bias)$/.exec(ti.name);
    if (m) tensors.push({ name: `blk.${m[1]}.attn_norm_2.${m[2]}`, shape: ti.ne, dtype: 'f32', data: Float32Array.from({ length: ti.ne[0] }, () => (m[2] === 'weight' ? 1 : 0) + rnd() * 1.5) });
  }
  closeSync(fd);
  const path = join(dir, 'falcon40.gguf');
  writeGguf(path, { metadata: meta, tensors });

  const model = await loadModel(path);
  assert.equal(model.config.parallelBlockTwoNorms, true);
  const engine = await createEngine(model);
  const prompt = model.tokenizer.encode('Hello world, this is a test', { addSpecial: false });
  const [r] = engine.step([{ seq: engine.createSequence(), tokens: prompt, adapter: null, logits: 'last' }]);
  const logits = r.logits!;
  let mx = -Infinity;
  for (const v of logits) mx = Math.max(mx, v);
  let se = 0;
  for (const v of logits) se += Math.exp(v - mx);
  const lse = mx + Math.log(se);
  const ref = await oracleGreedy(await loadOracleModel(path), prompt, 0);
  let d = 0, lo = Infinity, hi = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const p = ref.logprobs[0][i];
    d = Math.max(d, Math.abs(logits[i] - lse - p));
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  assert.ok(d / (hi - lo) < 1e-3, `max |Δ log p| ${d} over a range of ${hi - lo}`);
});
