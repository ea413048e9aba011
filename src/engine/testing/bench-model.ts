/**
 * A model with the shapes of Qwen2.5-0.5B and random weights, as a GGUF (arch qwen2), for the
 * engine benchmark: C = 896, 24 layers, 14 heads, 2 KV heads (D = 64), ffn 4864, vocab 151936,
 * tied embeddings, q/k/v biases. The vocab is the tiny byte-level BPE (testing/tiny-vocab.ts)
 * padded with filler tokens to 151936 entries, so both engines load it like any Qwen2 GGUF.
 *
 * Weights are generated tensor by tensor (uniform, seeded) and quantized on write, so building
 * never holds more than one tensor in f32. Files are cached: an existing file with a matching
 * `.done` marker is reused.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../kernels/types.ts';
import { rowBytes } from '../kernels/types.ts';
import { gg, writeGguf, type GgufTensorInput } from '../formats/gguf-write.ts';
import { buildTinyVocab, CHATML_TEMPLATE } from './tiny-vocab.ts';

export const QWEN05_SHAPE = {
  dModel: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, headDim: 64, ffnDim: 4864, vocabSize: 151936, contextLength: 4096,
} as const;

/** Uniform values with standard deviation `std` from a xorshift32 stream (fast: this fills ~500M values). */
function uniform(n: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const a = std * Math.sqrt(3) * 2 / 4294967296;
  const b = -std * Math.sqrt(3);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) * a + b;
  }
  return out;
}

/** Bytes of 2-D weights one decode step reads (every layer matrix plus the tied output head). */
export function weightBytesPerToken(dtype: DType): number {
  const { dModel: C, nLayers: L, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F, vocabSize: V } = QWEN05_SHAPE;
  const perLayer = (H * D + 2 * KV * D) * rowBytes(dtype, C) + C * rowBytes(dtype, H * D) + 2 * F * rowBytes(dtype, C) + C * rowBytes(dtype, F);
  return L * perLayer + V * rowBytes(dtype, C);
}

/** Build (or reuse) the benchmark GGUF for `dtype` under `dir`; returns its path. */
export function buildBenchModel(dir: string, dtype: DType, log: (s: string) => void = () => {}): string {
  const path = join(dir, `qwen2.5-0.5b-shape-${dtype}.gguf`);
  const marker = `${path}.done`;
  if (existsSync(path) && existsSync(marker) && readFileSync(marker, 'utf8') === String(statSync(path).size)) return path;
  mkdirSync(dir, { recursive: true });
  const { dModel: C, nLayers: L, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F, vocabSize: V, contextLength: T } = QWEN05_SHAPE;
  const vocab = buildTinyVocab({ pre: 'qwen2' });
  const tokens = [...vocab.tokens];
  for (let i = tokens.length; i < V; i++) tokens.push(`<|filler_${i}|>`);
  const types = tokens.map((_, i) => (i >= vocab.specialStart && i < vocab.tokens.length ? 3 : 1));
  let seed = 1;
  const t: GgufTensorInput[] = [];
  const mat = (name: string, rows: number, cols: number, std: number) =>
    t.push({ name, shape: [cols, rows], dtype, data: ((s) => () => uniform(rows * cols, std, s))(seed++) });
  const vec = (name: string, n: number, mean: number, std: number) =>
    t.push({ name, shape: [n], dtype: 'f32', data: ((s) => () => uniform(n, std, s).map((x) => x + mean))(seed++) });
  mat('token_embd.weight', V, C, 0.05);
  for (let i = 0; i < L; i++) {
    const p = `blk.${i}.`;
    vec(p + 'attn_norm.weight', C, 1, 0.1);
    mat(p + 'attn_q.weight', H * D, C, 1 / Math.sqrt(C));
    vec(p + 'attn_q.bias', H * D, 0, 0.1);
    mat(p + 'attn_k.weight', KV * D, C, 1 / Math.sqrt(C));
    vec(p + 'attn_k.bias', KV * D, 0, 0.1);
    mat(p + 'attn_v.weight', KV * D, C, 1 / Math.sqrt(C));
    vec(p + 'attn_v.bias', KV * D, 0, 0.1);
    mat(p + 'attn_output.weight', C, H * D, 0.5 / Math.sqrt(H * D));
    vec(p + 'ffn_norm.weight', C, 1, 0.1);
    mat(p + 'ffn_gate.weight', F, C, 1 / Math.sqrt(C));
    mat(p + 'ffn_up.weight', F, C, 1 / Math.sqrt(C));
    mat(p + 'ffn_down.weight', C, F, 0.5 / Math.sqrt(F));
  }
  vec('output_norm.weight', C, 1, 0.1);
  const FTYPE: Partial<Record<DType, number>> = { f32: 0, f16: 1, q8_0: 7, q4_0: 2, bf16: 32, q4_K: 15, q5_K: 17, q6_K: 18 };
  const t0 = Date.now();
  log(`building ${path} …`);
  const bytes = writeGguf(path, {
    metadata: [
      ['general.architecture', 'qwen2'],
      ['general.type', 'model'],
      ['general.name', 'qwen2.5-0.5b-shape (random weights)'],
      ['general.file_type', gg.u32(FTYPE[dtype] ?? 0)],
      ...(dtype.startsWith('q') ? [['general.quantization_version', gg.u32(2)] as [string, ReturnType<typeof gg.u32>]] : []),
      ['qwen2.block_count', gg.u32(L)],
      ['qwen2.context_length', gg.u32(T)],
      ['qwen2.embedding_length', gg.u32(C)],
      ['qwen2.feed_forward_length', gg.u32(F)],
      ['qwen2.attention.head_count', gg.u32(H)],
      ['qwen2.attention.head_count_kv', gg.u32(KV)],
      ['qwen2.rope.freq_base', gg.f32(1000000)],
      ['qwen2.attention.layer_norm_rms_epsilon', gg.f32(1e-6)],
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.pre', 'qwen2'],
      ['tokenizer.ggml.tokens', gg.arr('string', tokens)],
      ['tokenizer.ggml.token_type', gg.arr('i32', types)],
      ['tokenizer.ggml.merges', gg.arr('string', vocab.merges)],
      ['tokenizer.ggml.eos_token_id', gg.u32(vocab.special['<|im_end|>'])],
      ['tokenizer.ggml.padding_token_id', gg.u32(vocab.special['<|endoftext|>'])],
      ['tokenizer.ggml.add_bos_token', gg.bool(false)],
      ['tokenizer.chat_template', CHATML_TEMPLATE],
    ],
    tensors: t,
  });
  writeFileSync(marker, String(bytes));
  log(`built ${path} (${(bytes / 1e6).toFixed(0)} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}
