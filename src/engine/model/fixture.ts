/**
 * Test fixture (not used by the engine itself): tiny random models of every family built in
 * memory — ModelConfig, canonical tensors on a heap, and a byte-level tokenizer — so the forward
 * pass, KV cache, LoRA, sampling and generation can be tested without files. File-based tiny
 * models for parity with llama.cpp live in engine/testing (the parity suite).
 */
import { Heap } from '../heap.ts';
import type { DType, WeightTensor } from '../kernels/types.ts';
import type { Family, ModelConfig } from './config.ts';
import type { LoadedModel } from './load.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { quantize } from '../formats/quantize.ts';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // xorshift32
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

/** 256 byte tokens, then <eos>=256, <bos>=257, two spare specials. */
export const BYTE_VOCAB = 260;

/** A byte-level tokenizer (UTF-8 bytes are the ids): real, tiny, and exact for decode tests. */
export function byteTokenizer(): Tokenizer {
  const dec = (ids: number[], skip = false) => {
    const bytes = ids.filter((i) => i < 256);
    const specials = skip ? '' : ids.filter((i) => i >= 256).map((i) => `<s${i}>`).join('');
    return new TextDecoder().decode(new Uint8Array(bytes)) + specials;
  };
  return {
    vocabSize: BYTE_VOCAB, bosTokenId: 257, eosTokenIds: [256], chatTemplate: null,
    encode: (text) => [...new TextEncoder().encode(text)], // no special tokens are ever added
    decode: (ids, o) => dec(ids, o?.skipSpecial),
    decodeIncremental: (o) => {
      const d = new TextDecoder('utf-8', { fatal: false });
      return (id: number) => (id < 256 ? d.decode(new Uint8Array([id]), { stream: true }) : o?.skipSpecial ? '' : `<s${id}>`);
    },
    tokenToString: (id) => (id < 256 ? String.fromCharCode(id) : `<s${id}>`),
    tokenToId: () => null,
    isSpecial: (id) => id >= 256,
    applyChatTemplate: () => { throw new Error('no chat template'); },
  };
}

/** A small config of `family` with every feature of that family switched on. */
export function tinyConfig(family: Family | 'falcon40b' | 'llama3' | 'yarn', over: Partial<ModelConfig> = {}): ModelConfig {
  const base: ModelConfig = {
    family: 'llama', arch: 'llama', vocabSize: BYTE_VOCAB, contextLength: 64,
    dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16, ffnDim: 96,
    norm: 'rms', normEps: 1e-5, normWeightOffset: 0, activation: 'silu', gatedFfn: true,
    rope: { theta: 10000, dims: 16, style: 'normal', scaling: null }, alibi: false, alibiMaxBias: 0,
    positionEmbeddings: false, qkvBias: false, outBias: false, ffnBias: false, qkNorm: false,
    tiedEmbeddings: false, embedScale: null, embedNorm: false, parallelBlock: false, parallelBlockTwoNorms: false,
    slidingWindow: null, slidingWindowPattern: null, ropeLocalTheta: null, postNorms: false,
    attnLogitSoftcap: null, finalLogitSoftcap: null, attnScale: null, bosTokenId: 257, eosTokenIds: [256],
  };
  const neox = { theta: 10000, dims: 16, style: 'neox' as const, scaling: null };
  const f: Record<string, Partial<ModelConfig>> = {
    llama: {},
    llama3: { rope: { theta: 500000, dims: 16, style: 'normal', scaling: { type: 'llama3', factor: 8, originalContext: 16, lowFreqFactor: 1, highFreqFactor: 4 } } },
    mistral: { family: 'mistral', slidingWindow: 5 },
    qwen2: { family: 'qwen2', arch: 'qwen2', qkvBias: true, rope: neox, tiedEmbeddings: true },
    yarn: { family: 'qwen2', arch: 'qwen2', qkvBias: true, rope: { ...neox, scaling: { type: 'yarn', factor: 4, originalContext: 16 } } },
    qwen3: { family: 'qwen3', arch: 'qwen3', qkNorm: true, headDim: 32, rope: { ...neox, dims: 32 } },
    gemma: { family: 'gemma', arch: 'gemma', activation: 'gelu_tanh', embedScale: 8, normWeightOffset: 1, rope: neox, tiedEmbeddings: true, nKvHeads: 1 },
    gemma2: {
      family: 'gemma2', arch: 'gemma2', activation: 'gelu_tanh', embedScale: 8, rope: neox, tiedEmbeddings: true,
      slidingWindow: 3, slidingWindowPattern: 2, postNorms: true, attnLogitSoftcap: 5, finalLogitSoftcap: 3, attnScale: 0.2,
    },
    gemma3: {
      family: 'gemma3', arch: 'gemma3', activation: 'gelu_tanh', embedScale: 8, tiedEmbeddings: true, qkNorm: true, postNorms: true,
      rope: { theta: 1e6, dims: 16, style: 'neox', scaling: { type: 'linear', factor: 8 } }, ropeLocalTheta: 10000,
      slidingWindow: 3, slidingWindowPattern: 2, attnScale: 0.25,
    },
    gpt2: {
      family: 'gpt2', arch: 'gpt2', norm: 'layer', activation: 'gelu_tanh', gatedFfn: false, rope: null, positionEmbeddings: true,
      qkvBias: true, outBias: true, ffnBias: true, tiedEmbeddings: true, nKvHeads: 4,
    },
    bloom: {
      family: 'bloom', arch: 'bloom', norm: 'layer', activation: 'gelu_tanh', gatedFfn: false, rope: null, alibi: true, alibiMaxBias: 8,
      qkvBias: true, outBias: true, ffnBias: true, tiedEmbeddings: true, embedNorm: true, nKvHeads: 4, nHeads: 4,
    },
    falcon: { family: 'falcon', arch: 'falcon', norm: 'layer', activation: 'gelu', gatedFfn: false, rope: neox, parallelBlock: true, nKvHeads: 1 },
    falcon40b: { family: 'falcon', arch: 'falcon', norm: 'layer', activation: 'gelu', gatedFfn: false, rope: neox, parallelBlock: true, parallelBlockTwoNorms: true },
    chatglm: { family: 'chatglm', arch: 'chatglm', qkvBias: true, rope: { theta: 10000, dims: 8, style: 'normal', scaling: null } },
  };
  return { ...base, ...f[family], ...over };
}

/**
 * Random canonical tensors for `cfg` on a fresh heap. 2-D weights in `dtype` (quantized through
 * formats/quantize.ts); ChatGLM gets fused attn_qkv and [gate; up] ffn_up like its checkpoints.
 */
export function tinyModel(cfg: ModelConfig, opts: { dtype?: DType; seed?: number; heap?: Heap } = {}): LoadedModel {
  const heap = opts.heap ?? new Heap({ initialBytes: 64 << 20 });
  const r = rng(opts.seed ?? 1);
  const dtype = opts.dtype ?? 'f32';
  const tensors = new Map<string, WeightTensor | Float32Array>();
  const C = cfg.dModel, H = cfg.nHeads, Hkv = cfg.nKvHeads, D = cfg.headDim, F = cfg.ffnDim, V = cfg.vocabSize;
  const mat = (name: string, rows: number, cols: number, amp = Math.sqrt(3 / cols)) => {
    const x = Float32Array.from({ length: rows * cols }, () => (r() * 2 - 1) * amp);
    const bytes = dtype === 'f32' ? new Uint8Array(x.buffer) : quantize(x, dtype);
    const data = heap.u8(bytes.length);
    data.set(bytes);
    tensors.set(name, { dtype, rows, cols, data });
  };
  const vec = (name: string, n: number, center: number, amp: number) => {
    const v = heap.f32(n);
    for (let i = 0; i < n; i++) v[i] = center + (r() * 2 - 1) * amp;
    tensors.set(name, v);
  };
  const normW = cfg.normWeightOffset ? 0 : 1; // gemma-style stores w−1
  const norm = (base: string, n: number) => {
    vec(`${base}.weight`, n, normW, 0.2);
    if (cfg.norm === 'layer') vec(`${base}.bias`, n, 0, 0.1);
  };
  mat('token_embd.weight', V, C, 1);
  if (cfg.positionEmbeddings) mat('position_embd.weight', cfg.contextLength, C, 0.5);
  if (cfg.embedNorm) norm('token_embd_norm', C);
  norm('output_norm', C);
  if (!cfg.tiedEmbeddings) mat('output.weight', V, C);
  const fused = cfg.family === 'chatglm';
  for (let il = 0; il < cfg.nLayers; il++) {
    const p = `blk.${il}`;
    norm(`${p}.attn_norm`, C);
    if (cfg.parallelBlockTwoNorms) norm(`${p}.attn_norm_2`, C);
    if (!cfg.parallelBlock) norm(`${p}.ffn_norm`, C);
    if (fused) {
      mat(`${p}.attn_qkv.weight`, (H + 2 * Hkv) * D, C);
      if (cfg.qkvBias) vec(`${p}.attn_qkv.bias`, (H + 2 * Hkv) * D, 0, 0.2);
    } else {
      mat(`${p}.attn_q.weight`, H * D, C);
      mat(`${p}.attn_k.weight`, Hkv * D, C);
      mat(`${p}.attn_v.weight`, Hkv * D, C);
      if (cfg.qkvBias) for (const [t, n] of [['q', H * D], ['k', Hkv * D], ['v', Hkv * D]] as const) vec(`${p}.attn_${t}.bias`, n, 0, 0.2);
    }
    mat(`${p}.attn_output.weight`, C, H * D);
    if (cfg.outBias) vec(`${p}.attn_output.bias`, C, 0, 0.1);
    if (cfg.qkNorm) { vec(`${p}.attn_q_norm.weight`, D, normW, 0.2); vec(`${p}.attn_k_norm.weight`, D, normW, 0.2); }
    if (cfg.postNorms) { vec(`${p}.post_attention_norm.weight`, C, normW, 0.2); vec(`${p}.post_ffw_norm.weight`, C, normW, 0.2); }
    if (cfg.gatedFfn && fused) mat(`${p}.ffn_up.weight`, 2 * F, C);
    else {
      if (cfg.gatedFfn) mat(`${p}.ffn_gate.weight`, F, C);
      mat(`${p}.ffn_up.weight`, F, C);
    }
    mat(`${p}.ffn_down.weight`, C, F);
    if (cfg.ffnBias) { vec(`${p}.ffn_up.bias`, F, 0, 0.1); vec(`${p}.ffn_down.bias`, C, 0, 0.1); }
  }
  return {
    config: cfg, heap, tensors, tokenizer: byteTokenizer(), chatTemplate: null,
    source: { format: 'safetensors', path: `memory:${cfg.family}`, sha256: '' },
  };
}
