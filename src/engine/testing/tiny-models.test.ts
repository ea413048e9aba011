/**
 * The tiny models and adapters checked by llama.cpp alone (independent of our engine):
 * every family's GGUF loads and generates in llama.cpp, in every storage type; the GGUF LoRA
 * applied by llama.cpp equals the adapter merged into the weights (which checks the LoRA writer's
 * B-row transforms); the HF folder has what the Hugging Face loaders read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DType } from '../kernels/types.ts';
import { buildTinyModel, TINY_FAMILIES, type TinyFamily } from './tiny-models.ts';
import { buildTinyLora, mergeTinyLora } from './tiny-lora.ts';
import { dequantize, quantize } from '../formats/quantize.ts';
import { getLlamaCpp, loadOracleModel, oracleGreedy } from '../parity/llamacpp.ts';

const PROMPT_TEXT = [5, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 33, 260, 270, 280];

function prompt(m: { addBos: boolean; bosTokenId: number | null }): number[] {
  return m.addBos ? [m.bosTokenId!, ...PROMPT_TEXT] : PROMPT_TEXT;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i]) || Number.isFinite(b[i])) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const root = mkdtempSync(join(tmpdir(), 'tiny-models-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

test('HF folders carry config, weights, tokenizer and chat template', () => {
  for (const family of TINY_FAMILIES) {
    const m = buildTinyModel(family, join(root, 'hf', family), { format: 'hf' });
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      assert.ok(existsSync(join(m.hfDir!, f)), `${family}: ${f}`);
    }
    const cfg = JSON.parse(readFileSync(join(m.hfDir!, 'config.json'), 'utf8'));
    assert.equal(cfg.vocab_size, m.vocabSize);
    assert.ok(Array.isArray(cfg.architectures) && cfg.architectures.length === 1);
    const tc = JSON.parse(readFileSync(join(m.hfDir!, 'tokenizer_config.json'), 'utf8'));
    assert.match(tc.chat_template, /im_start/);
    assert.equal(m.ggufPath, undefined);
  }
});

for (const family of TINY_FAMILIES) {
  test(`${family}: llama.cpp loads the GGUF, and its LoRA equals the merged adapter`, async (t) => {
    const llama = await getLlamaCpp();
    if ('error' in llama) return t.skip(`node-llama-cpp cannot load: ${llama.error}`);
    const dir = join(root, family);
    const base = buildTinyModel(family as TinyFamily, join(dir, 'base'), { format: 'gguf' });
    const lora = buildTinyLora(base, join(dir, 'lora'));
    const merged = buildTinyModel(family as TinyFamily, join(dir, 'merged'), { format: 'gguf', hfTensors: mergeTinyLora(base, lora) });
    const lb = await loadOracleModel(base.ggufPath!);
    const lm = await loadOracleModel(merged.ggufPath!);
    try {
      const p = prompt(base);
      const r0 = await oracleGreedy(lb, p, 4);
      assert.equal(r0.logprobs[0].length, base.vocabSize);
      assert.equal(r0.tokens.length, 4);
      const r1 = await oracleGreedy(lb, p, 4, { lora: [{ filePath: lora.ggufPath, scale: 1 }] });
      const r2 = await oracleGreedy(lm, p, 4);
      assert.ok(maxAbsDiff(r0.logprobs[0], r1.logprobs[0]) > 0.5, 'the adapter changes the output');
      for (let s = 0; s < r1.logprobs.length; s++) {
        const d = maxAbsDiff(r1.logprobs[s], r2.logprobs[s]);
        assert.ok(d < 1e-2, `${family} step ${s}: LoRA vs merged differ by ${d}`);
      }
      assert.deepEqual(r1.tokens, r2.tokens);
    } finally {
      await lb.dispose();
      await lm.dispose();
    }
  });
}

const DTYPES: Array<{ dtype: DType; dims?: object }> = [
  { dtype: 'f16' }, { dtype: 'bf16' }, { dtype: 'q8_0' }, { dtype: 'q4_0' },
  { dtype: 'q4_K', dims: { dModel: 256, headDim: 64, ffnDim: 512 } },
  { dtype: 'q5_K', dims: { dModel: 256, headDim: 64, ffnDim: 512 } },
  { dtype: 'q6_K', dims: { dModel: 256, headDim: 64, ffnDim: 512 } },
];

/** Largest |Δ log p| over the tokens the reference gives log p > -10 (the tail only amplifies noise). */
function headDiff(a: Float32Array, ref: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (ref[i] > -10) d = Math.max(d, Math.abs(a[i] - ref[i]));
  return d;
}

const argmax = (x: Float32Array) => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);

for (const { dtype, dims } of DTYPES) {
  test(`llama.cpp reads our ${dtype} blocks as the values we dequantize`, async (t) => {
    const llama = await getLlamaCpp();
    if ('error' in llama) return t.skip(`node-llama-cpp cannot load: ${llama.error}`);
    // qwen2 (biases, tied embeddings) for the 32-wide blocks; llama (all K-quant tensors) for the 256-wide ones.
    for (const family of (dims ? ['llama'] : ['qwen2']) as TinyFamily[]) {
      const dir = join(root, `${family}-${dtype}`);
      const q = buildTinyModel(family, join(dir, 'q'), { format: 'gguf', dtype, dims });
      assert.ok(Object.values(q.ggufDtypes).includes(dtype), `${family} stores ${dtype}`);
      // The same model with every matrix replaced by dequantize(quantize(W)), stored as f32.
      const rt = new Map([...q.hf].map(([n, w]) => [n, w.shape.length === 2
        ? { shape: w.shape, data: dequantize(quantize(w.data, dtype), dtype, w.data.length) } : w]));
      const f = buildTinyModel(family, join(dir, 'rt'), { format: 'gguf', dtype: 'f32', dims, hfTensors: rt });
      const lq = await loadOracleModel(q.ggufPath!);
      const lf = await loadOracleModel(f.ggufPath!);
      try {
        const a = (await oracleGreedy(lq, prompt(q), 0)).logprobs[0];
        const b = (await oracleGreedy(lf, prompt(f), 0)).logprobs[0];
        // llama.cpp rounds activations to f16 / q8 for these matmuls, so only near-equality holds;
        // a misread block layout gives differences of tens.
        const d = headDiff(a, b);
        const bound = dtype === 'f16' || dtype === 'bf16' ? 0.2 : 1.5;
        assert.ok(d < bound, `${family} ${dtype}: max |Δ log p| = ${d}`);
        assert.equal(argmax(a), argmax(b));
      } finally {
        await lq.dispose();
        await lf.dispose();
      }
    }
  });
}
