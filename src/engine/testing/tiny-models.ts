/**
 * Tiny random models of every family the engine supports, written the way real checkpoints are:
 *
 * - an HF folder: config.json, model.safetensors (HF tensor names and layouts — fused and
 *   interleaved QKV, GPT-2's Conv1D [in, out] weights, Gemma's (w - 1) norms), tokenizer.json,
 *   tokenizer_config.json with a ChatML template;
 * - a GGUF file that is what llama.cpp's convert_hf_to_gguf.py would produce from that folder:
 *   the same metadata keys, tensor names (llama.cpp naming), and transforms (LLaMA q/k rows
 *   permuted for rope 'normal', BLOOM/Falcon QKV regrouped to [q; k; v], GPT-2 weights transposed,
 *   Gemma norms shifted by +1, Llama 3 rope factors as rope_freqs.weight), plus the vocab.
 *
 * The HF tensors are the source of truth; the GGUF tensors are derived from them, so a loader that
 * reads both formats correctly gets the same model. Weights are seeded Gaussian with scales chosen
 * so logits have spread (greedy decoding is then stable against rounding differences).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenLedgerError } from '../../util/errors.ts';
import { BLOCK, type DType } from '../kernels/types.ts';
import { gg, writeGguf, type GgufTensorInput, type GgufValue } from '../formats/gguf-write.ts';
import { writeSafetensors, type SafetensorsDType } from '../formats/safetensors-write.ts';
import { buildTinyVocab, CHATML_TEMPLATE, tokenizerJson, TINY_SPECIALS, type TinyPre, type TinyVocab } from './tiny-vocab.ts';
import { Rng } from './rng.ts';

/** Families with a tiny model. The DeepSeek R1 distills are llama / qwen2 checkpoints with their own tokenizer pre. */
export const TINY_FAMILIES = [
  'llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3', 'gpt2', 'falcon', 'bloom', 'chatglm',
  'deepseek-r1-llama', 'deepseek-r1-qwen',
] as const;
export type TinyFamily = (typeof TINY_FAMILIES)[number];

export interface TinyDims {
  dModel: number; // C
  nLayers: number; // L
  nHeads: number; // H
  nKvHeads: number;
  headDim: number; // D
  ffnDim: number; // F
  contextLength: number;
}

export interface TinyModelOptions {
  seed?: number;
  format?: 'gguf' | 'hf' | 'both';
  /** Storage type of the GGUF's 2-D weights (1-D tensors stay f32, as the converter writes them). Default f32. */
  dtype?: DType;
  /** Storage type of the HF safetensors. Default F32. */
  hfDtype?: SafetensorsDType;
  /** Overrides of the family's default dimensions (e.g. dModel 256 for K-quants, whose blocks are 256 wide). */
  dims?: Partial<TinyDims>;
  /** A vocab to use instead of the family's default. */
  vocab?: TinyVocab;
  /** Use these HF tensors instead of random ones (e.g. a LoRA merged into a base, see tiny-lora.ts). */
  hfTensors?: Map<string, HfTensor>;
}

export interface TinyModel {
  family: TinyFamily;
  /** GGUF general.architecture. */
  arch: string;
  dims: TinyDims;
  vocab: TinyVocab;
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number;
  addBos: boolean;
  /** HF folder (when written). */
  hfDir?: string;
  /** GGUF file (when written). */
  ggufPath?: string;
  /** Storage type actually used per GGUF tensor (a quant type falls back to f16 where rows are not whole blocks). */
  ggufDtypes: Record<string, DType>;
  /** The HF tensors by HF name (f32 values), for adapters and tests. */
  hf: Map<string, HfTensor>;
  /** HF config.json contents. */
  config: Record<string, unknown>;
}

export interface HfTensor {
  shape: number[];
  data: Float32Array;
}

interface FamilyDef {
  arch: string;
  pre: TinyPre;
  addBos: boolean;
  dims: TinyDims;
}

const BASE: TinyDims = { dModel: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, headDim: 16, ffnDim: 128, contextLength: 128 };

const FAMILIES: Record<TinyFamily, FamilyDef> = {
  llama: { arch: 'llama', pre: 'llama-bpe', addBos: true, dims: BASE },
  mistral: { arch: 'llama', pre: 'llama-bpe', addBos: true, dims: BASE },
  'deepseek-r1-llama': { arch: 'llama', pre: 'llama-bpe', addBos: true, dims: BASE },
  qwen2: { arch: 'qwen2', pre: 'qwen2', addBos: false, dims: BASE },
  'deepseek-r1-qwen': { arch: 'qwen2', pre: 'deepseek-r1-qwen', addBos: true, dims: BASE },
  qwen3: { arch: 'qwen3', pre: 'qwen2', addBos: false, dims: { ...BASE, headDim: 32 } },
  gemma: { arch: 'gemma', pre: 'gpt-2', addBos: true, dims: { ...BASE, nKvHeads: 1, headDim: 32 } },
  gemma2: { arch: 'gemma2', pre: 'gpt-2', addBos: true, dims: { ...BASE, headDim: 32 } },
  gemma3: { arch: 'gemma3', pre: 'gpt-2', addBos: true, dims: { ...BASE, nLayers: 6, headDim: 32 } },
  gpt2: { arch: 'gpt2', pre: 'gpt-2', addBos: false, dims: { ...BASE, nKvHeads: 4, ffnDim: 256 } },
  falcon: { arch: 'falcon', pre: 'gpt-2', addBos: false, dims: { ...BASE, nKvHeads: 1, ffnDim: 256 } },
  bloom: { arch: 'bloom', pre: 'gpt-2', addBos: false, dims: { ...BASE, nKvHeads: 4, ffnDim: 256, contextLength: 64 } },
  chatglm: { arch: 'chatglm', pre: 'gpt-2', addBos: false, dims: BASE },
};

/** Sliding window of the gemma2/gemma3 tiny models: short, so parity prompts cross it. */
export const TINY_SLIDING_WINDOW = 8;

const FTYPE: Record<DType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_K: 14, q5_K: 16, q6_K: 18, bf16: 32 };

// ------------------------------------------------------------------ HF tensors

class HfBuilder {
  readonly t = new Map<string, HfTensor>();
  constructor(private rng: Rng) {}
  /** Linear weight [out, in], std gain/sqrt(in). */
  lin(name: string, out: number, inp: number, gain = 1): void {
    this.t.set(name, { shape: [out, inp], data: this.rng.normal(out * inp, gain / Math.sqrt(inp)) });
  }
  /** Conv1D weight [in, out] (GPT-2). */
  conv(name: string, inp: number, out: number, gain = 1): void {
    this.t.set(name, { shape: [inp, out], data: this.rng.normal(inp * out, gain / Math.sqrt(inp)) });
  }
  mat(name: string, rows: number, cols: number, std: number): void {
    this.t.set(name, { shape: [rows, cols], data: this.rng.normal(rows * cols, std) });
  }
  /** Norm weight: 1 + noise, or noise alone when the family stores (w - 1). */
  norm(name: string, n: number, offset = false, scale = 1): void {
    const d = this.rng.normal(n, 0.2);
    for (let i = 0; i < n; i++) d[i] += offset ? scale - 1 : scale;
    this.t.set(name, { shape: [n], data: d });
  }
  vec(name: string, n: number, std = 0.2): void {
    this.t.set(name, { shape: [n], data: this.rng.normal(n, std) });
  }
}

/**
 * Gain of the projections that write into the residual stream. Large enough that a block's output
 * outweighs the token's own embedding: with tied embeddings the model would otherwise just
 * predict its input token, and greedy parity would test nothing.
 */
const OUT_GAIN = 4;

function buildHf(family: TinyFamily, d: TinyDims, V: number, rng: Rng): Map<string, HfTensor> {
  const b = new HfBuilder(rng);
  const { dModel: C, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F, nLayers: L } = d;
  switch (family) {
    case 'llama': case 'mistral': case 'deepseek-r1-llama': case 'qwen2': case 'deepseek-r1-qwen': case 'qwen3':
    case 'gemma': case 'gemma2': case 'gemma3': {
      const gemma = family.startsWith('gemma');
      const tied = gemma || family === 'qwen2' || family === 'qwen3' || family === 'deepseek-r1-qwen';
      const bias = family === 'qwen2' || family === 'deepseek-r1-qwen';
      b.mat('model.embed_tokens.weight', V, C, gemma ? 0.25 : 1);
      for (let i = 0; i < L; i++) {
        const p = `model.layers.${i}.`;
        b.norm(p + 'input_layernorm.weight', C, gemma);
        b.lin(p + 'self_attn.q_proj.weight', H * D, C, 1.5);
        b.lin(p + 'self_attn.k_proj.weight', KV * D, C, 1.5);
        b.lin(p + 'self_attn.v_proj.weight', KV * D, C);
        if (bias) {
          b.vec(p + 'self_attn.q_proj.bias', H * D);
          b.vec(p + 'self_attn.k_proj.bias', KV * D);
          b.vec(p + 'self_attn.v_proj.bias', KV * D);
        }
        if (family === 'qwen3' || family === 'gemma3') {
          b.norm(p + 'self_attn.q_norm.weight', D, gemma);
          b.norm(p + 'self_attn.k_norm.weight', D, gemma);
        }
        b.lin(p + 'self_attn.o_proj.weight', C, H * D, OUT_GAIN);
        b.norm(p + 'post_attention_layernorm.weight', C, gemma, family === 'gemma2' || family === 'gemma3' ? 3 : 1);
        if (family === 'gemma2' || family === 'gemma3') {
          b.norm(p + 'pre_feedforward_layernorm.weight', C, true);
          // Post-norms set the scale of what each block adds to the residual (see OUT_GAIN).
          b.norm(p + 'post_feedforward_layernorm.weight', C, true, 3);
        }
        b.lin(p + 'mlp.gate_proj.weight', F, C);
        b.lin(p + 'mlp.up_proj.weight', F, C);
        b.lin(p + 'mlp.down_proj.weight', C, F, OUT_GAIN);
      }
      b.norm('model.norm.weight', C, gemma);
      if (!tied) b.lin('lm_head.weight', V, C, 3);
      break;
    }
    case 'gpt2': {
      b.mat('transformer.wte.weight', V, C, 0.3);
      b.mat('transformer.wpe.weight', d.contextLength, C, 0.5);
      for (let i = 0; i < L; i++) {
        const p = `transformer.h.${i}.`;
        b.norm(p + 'ln_1.weight', C); b.vec(p + 'ln_1.bias', C);
        b.conv(p + 'attn.c_attn.weight', C, 3 * C); b.vec(p + 'attn.c_attn.bias', 3 * C);
        b.conv(p + 'attn.c_proj.weight', C, C, OUT_GAIN); b.vec(p + 'attn.c_proj.bias', C);
        b.norm(p + 'ln_2.weight', C); b.vec(p + 'ln_2.bias', C);
        b.conv(p + 'mlp.c_fc.weight', C, F); b.vec(p + 'mlp.c_fc.bias', F);
        b.conv(p + 'mlp.c_proj.weight', F, C, OUT_GAIN); b.vec(p + 'mlp.c_proj.bias', C);
      }
      b.norm('transformer.ln_f.weight', C); b.vec('transformer.ln_f.bias', C);
      break;
    }
    case 'bloom': {
      b.mat('transformer.word_embeddings.weight', V, C, 0.3);
      b.norm('transformer.word_embeddings_layernorm.weight', C); b.vec('transformer.word_embeddings_layernorm.bias', C);
      for (let i = 0; i < L; i++) {
        const p = `transformer.h.${i}.`;
        b.norm(p + 'input_layernorm.weight', C); b.vec(p + 'input_layernorm.bias', C);
        b.lin(p + 'self_attention.query_key_value.weight', 3 * C, C, 1.5); b.vec(p + 'self_attention.query_key_value.bias', 3 * C);
        b.lin(p + 'self_attention.dense.weight', C, C, OUT_GAIN); b.vec(p + 'self_attention.dense.bias', C);
        b.norm(p + 'post_attention_layernorm.weight', C); b.vec(p + 'post_attention_layernorm.bias', C);
        b.lin(p + 'mlp.dense_h_to_4h.weight', F, C); b.vec(p + 'mlp.dense_h_to_4h.bias', F);
        b.lin(p + 'mlp.dense_4h_to_h.weight', C, F, OUT_GAIN); b.vec(p + 'mlp.dense_4h_to_h.bias', C);
      }
      b.norm('transformer.ln_f.weight', C); b.vec('transformer.ln_f.bias', C);
      break;
    }
    case 'falcon': {
      b.mat('transformer.word_embeddings.weight', V, C, 1);
      for (let i = 0; i < L; i++) {
        const p = `transformer.h.${i}.`;
        b.norm(p + 'input_layernorm.weight', C); b.vec(p + 'input_layernorm.bias', C);
        b.lin(p + 'self_attention.query_key_value.weight', (H + 2 * KV) * D, C, 1.5);
        b.lin(p + 'self_attention.dense.weight', C, C, OUT_GAIN);
        b.lin(p + 'mlp.dense_h_to_4h.weight', F, C);
        b.lin(p + 'mlp.dense_4h_to_h.weight', C, F, OUT_GAIN);
      }
      b.norm('transformer.ln_f.weight', C); b.vec('transformer.ln_f.bias', C);
      break;
    }
    case 'chatglm': {
      b.mat('transformer.embedding.word_embeddings.weight', V, C, 1);
      for (let i = 0; i < L; i++) {
        const p = `transformer.encoder.layers.${i}.`;
        b.norm(p + 'input_layernorm.weight', C);
        b.lin(p + 'self_attention.query_key_value.weight', (H + 2 * KV) * D, C, 1.5);
        b.vec(p + 'self_attention.query_key_value.bias', (H + 2 * KV) * D);
        b.lin(p + 'self_attention.dense.weight', C, H * D, OUT_GAIN);
        b.norm(p + 'post_attention_layernorm.weight', C);
        b.lin(p + 'mlp.dense_h_to_4h.weight', 2 * F, C); // [gate; up]
        b.lin(p + 'mlp.dense_4h_to_h.weight', C, F, OUT_GAIN);
      }
      b.norm('transformer.encoder.final_layernorm.weight', C);
      b.lin('transformer.output_layer.weight', V, C, 3);
      break;
    }
  }
  return b.t;
}

// ------------------------------------------------------------------ converter transforms

/** convert_hf_to_gguf LlamaModel.permute: rows (heads, 2, D/2) → (heads, D/2, 2). Works on [rows, cols] and on vectors (cols 1). */
export function permuteRope(w: Float32Array, rows: number, cols: number, nHead: number): Float32Array {
  const out = new Float32Array(w.length);
  const D = rows / nHead;
  const half = D / 2;
  for (let h = 0; h < nHead; h++) {
    for (let t = 0; t < 2; t++) {
      for (let j = 0; j < half; j++) {
        const src = h * D + t * half + j;
        const dst = h * D + j * 2 + t;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** BLOOM's fused QKV rows are (head, [q|k|v], D); llama.cpp wants [all q; all k; all v]. */
export function bloomQkvToGguf(w: Float32Array, H: number, D: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const C = H * D;
  for (let h = 0; h < H; h++) {
    for (let s = 0; s < 3; s++) {
      for (let d = 0; d < D; d++) {
        const src = h * 3 * D + s * D + d;
        const dst = s * C + h * D + d;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** Falcon's fused QKV rows are KV groups of (H/KV q heads, k, v); llama.cpp wants [q heads; k heads; v heads]. */
export function falconQkvToGguf(w: Float32Array, H: number, KV: number, D: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const per = H / KV;
  const rowsOf = (head: number) => w.subarray(head * D * cols, (head + 1) * D * cols);
  for (let g = 0; g < KV; g++) {
    for (let q = 0; q < per; q++) out.set(rowsOf(g * (per + 2) + q), (g * per + q) * D * cols);
    out.set(rowsOf(g * (per + 2) + per), (H + g) * D * cols);
    out.set(rowsOf(g * (per + 2) + per + 1), (H + KV + g) * D * cols);
  }
  return out;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/** Llama 3 rope frequency factors, as convert_hf_to_gguf's generate_extra_tensors computes them. */
export function llama3RopeFactors(
  headDim: number, theta: number, s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number },
): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / Math.fround(theta ** ((2 * i) / headDim));
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/** A GGUF tensor before its storage type is chosen: ne order shape, row-major values. */
interface GgufT {
  name: string;
  ne: number[];
  data: Float32Array;
}

/**
 * One HF tensor → its GGUF tensor(s) (null: dropped), as convert_hf_to_gguf does for the family.
 * Exported for adapters: the same mapping renames LoRA targets.
 */
export function hfToGguf(family: TinyFamily, dims: TinyDims, name: string, t: HfTensor): GgufT | null {
  const { nHeads: H, nKvHeads: KV, headDim: D } = dims;
  const mat = (n: string, data = t.data): GgufT => ({ name: n, ne: t.shape.length === 2 ? [t.shape[1], t.shape[0]] : [t.shape[0]], data });
  const gemma = family.startsWith('gemma');
  let m: RegExpMatchArray | null;
  const shiftNorm = (data: Float32Array) => (gemma && name.endsWith('norm.weight') ? data.map((x) => x + 1) : data);
  switch (family) {
    case 'llama': case 'mistral': case 'deepseek-r1-llama': case 'qwen2': case 'deepseek-r1-qwen': case 'qwen3':
    case 'gemma': case 'gemma2': case 'gemma3': {
      const llamaArch = FAMILIES[family].arch === 'llama';
      if (name === 'model.embed_tokens.weight') return mat('token_embd.weight');
      if (name === 'model.norm.weight') return mat('output_norm.weight', shiftNorm(t.data));
      if (name === 'lm_head.weight') return gemma ? null : mat('output.weight');
      if (!(m = name.match(/^model\.layers\.(\d+)\.(.+)$/))) return null;
      const p = `blk.${m[1]}.`;
      const rest = m[2];
      const post2 = family === 'gemma2' || family === 'gemma3';
      const map: Record<string, string> = {
        'input_layernorm.weight': 'attn_norm.weight',
        'self_attn.q_proj.weight': 'attn_q.weight', 'self_attn.k_proj.weight': 'attn_k.weight',
        'self_attn.v_proj.weight': 'attn_v.weight', 'self_attn.o_proj.weight': 'attn_output.weight',
        'self_attn.q_proj.bias': 'attn_q.bias', 'self_attn.k_proj.bias': 'attn_k.bias', 'self_attn.v_proj.bias': 'attn_v.bias',
        'self_attn.q_norm.weight': 'attn_q_norm.weight', 'self_attn.k_norm.weight': 'attn_k_norm.weight',
        'post_attention_layernorm.weight': post2 ? 'post_attention_norm.weight' : 'ffn_norm.weight',
        'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
        'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
        'mlp.gate_proj.weight': 'ffn_gate.weight', 'mlp.up_proj.weight': 'ffn_up.weight', 'mlp.down_proj.weight': 'ffn_down.weight',
      };
      const g = map[rest];
      if (!g) return null;
      let data = shiftNorm(t.data);
      if (llamaArch && rest === 'self_attn.q_proj.weight') data = permuteRope(data, t.shape[0], t.shape[1], H);
      if (llamaArch && rest === 'self_attn.k_proj.weight') data = permuteRope(data, t.shape[0], t.shape[1], KV);
      return mat(p + g, data);
    }
    case 'gpt2': {
      if (name === 'transformer.wte.weight') return mat('token_embd.weight');
      if (name === 'transformer.wpe.weight') return mat('position_embd.weight');
      if (name === 'transformer.ln_f.weight') return mat('output_norm.weight');
      if (name === 'transformer.ln_f.bias') return mat('output_norm.bias');
      if (!(m = name.match(/^transformer\.h\.(\d+)\.(.+)\.(weight|bias)$/))) return null;
      const g = ({ ln_1: 'attn_norm', 'attn.c_attn': 'attn_qkv', 'attn.c_proj': 'attn_output', ln_2: 'ffn_norm', 'mlp.c_fc': 'ffn_up', 'mlp.c_proj': 'ffn_down' } as Record<string, string>)[m[2]];
      if (!g) return null;
      const gname = `blk.${m[1]}.${g}.${m[3]}`;
      if (m[3] === 'weight' && t.shape.length === 2) {
        const [inp, out] = t.shape;
        return { name: gname, ne: [inp, out], data: transpose(t.data, inp, out) };
      }
      return mat(gname);
    }
    case 'bloom': case 'falcon': {
      if (name === 'transformer.word_embeddings.weight') return mat('token_embd.weight');
      if (name === 'transformer.word_embeddings_layernorm.weight') return mat('token_embd_norm.weight');
      if (name === 'transformer.word_embeddings_layernorm.bias') return mat('token_embd_norm.bias');
      if (name === 'transformer.ln_f.weight') return mat('output_norm.weight');
      if (name === 'transformer.ln_f.bias') return mat('output_norm.bias');
      if (name === 'lm_head.weight') return mat('output.weight');
      if (!(m = name.match(/^transformer\.h\.(\d+)\.(.+)\.(weight|bias)$/))) return null;
      const g = ({
        input_layernorm: 'attn_norm', 'self_attention.query_key_value': 'attn_qkv', 'self_attention.dense': 'attn_output',
        post_attention_layernorm: 'ffn_norm', 'mlp.dense_h_to_4h': 'ffn_up', 'mlp.dense_4h_to_h': 'ffn_down',
      } as Record<string, string>)[m[2]];
      if (!g) return null;
      let data = t.data;
      if (g === 'attn_qkv') {
        const cols = t.shape.length === 2 ? t.shape[1] : 1;
        data = family === 'bloom' ? bloomQkvToGguf(data, H, D, cols) : falconQkvToGguf(data, H, KV, D, cols);
      }
      return mat(`blk.${m[1]}.${g}.${m[3]}`, data);
    }
    case 'chatglm': {
      if (name === 'transformer.embedding.word_embeddings.weight') return mat('token_embd.weight');
      if (name === 'transformer.encoder.final_layernorm.weight') return mat('output_norm.weight');
      if (name === 'transformer.output_layer.weight') return mat('output.weight');
      if (!(m = name.match(/^transformer\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/))) return null;
      const g = ({
        input_layernorm: 'attn_norm', 'self_attention.query_key_value': 'attn_qkv', 'self_attention.dense': 'attn_output',
        post_attention_layernorm: 'ffn_norm', 'mlp.dense_h_to_4h': 'ffn_up', 'mlp.dense_4h_to_h': 'ffn_down',
      } as Record<string, string>)[m[2]];
      return g ? mat(`blk.${m[1]}.${g}.${m[3]}`) : null;
    }
  }
}

// ------------------------------------------------------------------ configs and metadata

const LLAMA3_SCALING = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64, rope_type: 'llama3' };

function hfConfig(family: TinyFamily, d: TinyDims, V: number, bos: number | null, eos: number): Record<string, unknown> {
  const { dModel: C, nLayers: L, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F, contextLength: T } = d;
  const common = { vocab_size: V, bos_token_id: bos, eos_token_id: eos, torch_dtype: 'float32', transformers_version: '4.57.0' };
  const llamaLike = {
    hidden_size: C, intermediate_size: F, num_hidden_layers: L, num_attention_heads: H, num_key_value_heads: KV,
    max_position_embeddings: T, hidden_act: 'silu', attention_bias: false, attention_dropout: 0, initializer_range: 0.02, use_cache: true,
  };
  switch (family) {
    case 'llama': case 'deepseek-r1-llama':
      return { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...llamaLike, head_dim: D, rms_norm_eps: 1e-5, rope_theta: 500000,
        rope_scaling: LLAMA3_SCALING, tie_word_embeddings: false, mlp_bias: false, pretraining_tp: 1, ...common };
    case 'mistral':
      return { architectures: ['MistralForCausalLM'], model_type: 'mistral', ...llamaLike, head_dim: D, rms_norm_eps: 1e-5, rope_theta: 1000000,
        sliding_window: null, tie_word_embeddings: false, ...common };
    case 'qwen2': case 'deepseek-r1-qwen':
      return { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', ...llamaLike, rms_norm_eps: 1e-6, rope_theta: 1000000,
        use_sliding_window: false, sliding_window: T, max_window_layers: L, tie_word_embeddings: true, ...common };
    case 'qwen3':
      return { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', ...llamaLike, head_dim: D, rms_norm_eps: 1e-6, rope_theta: 1000000,
        use_sliding_window: false, sliding_window: null, max_window_layers: L, tie_word_embeddings: true, ...common };
    case 'gemma':
      return { architectures: ['GemmaForCausalLM'], model_type: 'gemma', ...llamaLike, head_dim: D, hidden_act: 'gelu_pytorch_tanh',
        hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true, pad_token_id: 0, ...common };
    case 'gemma2':
      return { architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', ...llamaLike, head_dim: D, hidden_act: 'gelu_pytorch_tanh',
        hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6, rope_theta: 10000, query_pre_attn_scalar: D,
        sliding_window: TINY_SLIDING_WINDOW, attn_logit_softcapping: 50, final_logit_softcapping: 30, tie_word_embeddings: true, ...common };
    case 'gemma3':
      return { architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', ...llamaLike, head_dim: D, hidden_act: 'gelu_pytorch_tanh',
        hidden_activation: 'gelu_pytorch_tanh', rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000, rope_scaling: null,
        query_pre_attn_scalar: D, sliding_window: TINY_SLIDING_WINDOW, sliding_window_pattern: 6,
        layer_types: Array.from({ length: L }, (_, i) => ((i + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention')),
        attn_logit_softcapping: null, final_logit_softcapping: null, tie_word_embeddings: true, ...common };
    case 'gpt2':
      return { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: C, n_head: H, n_layer: L, n_ctx: T, n_positions: T, n_inner: null,
        activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true, ...common };
    case 'bloom':
      return { architectures: ['BloomForCausalLM'], model_type: 'bloom', hidden_size: C, n_head: H, n_layer: L, layer_norm_epsilon: 1e-5,
        apply_residual_connection_post_layernorm: false, tie_word_embeddings: true, ...common };
    case 'falcon':
      return { architectures: ['FalconForCausalLM'], model_type: 'falcon', hidden_size: C, num_attention_heads: H, num_hidden_layers: L,
        multi_query: KV === 1, num_kv_heads: KV, new_decoder_architecture: false, parallel_attn: true, alibi: false, bias: false,
        layer_norm_epsilon: 1e-5, rope_theta: 10000, max_position_embeddings: T, tie_word_embeddings: true, ...common };
    case 'chatglm':
      return { architectures: ['ChatGLMModel'], model_type: 'chatglm', hidden_size: C, ffn_hidden_size: F, kv_channels: D, num_layers: L,
        num_attention_heads: H, multi_query_attention: KV !== H, multi_query_group_num: KV, seq_length: T, padded_vocab_size: V,
        layernorm_epsilon: 1e-5, rmsnorm: true, add_qkv_bias: true, add_bias_linear: false, post_layer_norm: true, original_rope: true,
        rope_ratio: 1, apply_residual_connection_post_layernorm: false, tie_word_embeddings: false, ...common };
  }
}

/** GGUF hparams for the arch, as the converter's set_gguf_parameters writes them. */
function ggufHparams(family: TinyFamily, d: TinyDims, V: number): Array<[string, GgufValue]> {
  const a = FAMILIES[family].arch;
  const { dModel: C, nLayers: L, nHeads: H, nKvHeads: KV, headDim: D, ffnDim: F, contextLength: T } = d;
  const k = (key: string, v: GgufValue): [string, GgufValue] => [`${a}.${key}`, v];
  const base = [k('block_count', gg.u32(L)), k('context_length', gg.u32(T)), k('embedding_length', gg.u32(C)),
    k('feed_forward_length', gg.u32(F)), k('attention.head_count', gg.u32(H))];
  switch (family) {
    case 'llama': case 'deepseek-r1-llama': case 'mistral':
      return [...base, k('attention.head_count_kv', gg.u32(KV)),
        k('rope.freq_base', gg.f32(family === 'mistral' ? 1000000 : 500000)),
        k('attention.layer_norm_rms_epsilon', gg.f32(1e-5)),
        k('attention.key_length', gg.u32(D)), k('attention.value_length', gg.u32(D)),
        k('vocab_size', gg.u32(V)), k('rope.dimension_count', gg.u32(D))];
    case 'qwen2': case 'deepseek-r1-qwen':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('rope.freq_base', gg.f32(1000000)),
        k('attention.layer_norm_rms_epsilon', gg.f32(1e-6))];
    case 'qwen3':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('rope.freq_base', gg.f32(1000000)),
        k('attention.layer_norm_rms_epsilon', gg.f32(1e-6)), k('attention.key_length', gg.u32(D)), k('attention.value_length', gg.u32(D))];
    case 'gemma':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('attention.layer_norm_rms_epsilon', gg.f32(1e-6)),
        k('attention.key_length', gg.u32(D)), k('attention.value_length', gg.u32(D))];
    case 'gemma2':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('attention.layer_norm_rms_epsilon', gg.f32(1e-6)),
        k('attention.key_length', gg.u32(D)), k('attention.value_length', gg.u32(D)),
        k('attn_logit_softcapping', gg.f32(50)), k('final_logit_softcapping', gg.f32(30)),
        k('attention.sliding_window', gg.u32(TINY_SLIDING_WINDOW))];
    case 'gemma3':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('rope.freq_base', gg.f32(1000000)),
        k('rope.freq_base_swa', gg.f32(10000)),
        k('attention.layer_norm_rms_epsilon', gg.f32(1e-6)), k('attention.key_length', gg.u32(D)), k('attention.value_length', gg.u32(D)),
        k('attention.sliding_window', gg.u32(TINY_SLIDING_WINDOW))];
    case 'gpt2':
      return [...base, k('attention.layer_norm_epsilon', gg.f32(1e-5))];
    case 'bloom':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('attention.layer_norm_epsilon', gg.f32(1e-5))];
    case 'falcon':
      return [k('context_length', gg.u32(2048)), ['falcon.tensor_data_layout', 'jploski'], k('embedding_length', gg.u32(C)),
        k('feed_forward_length', gg.u32(F)), k('block_count', gg.u32(L)), k('attention.head_count', gg.u32(H)),
        k('attention.head_count_kv', gg.u32(KV)), k('attention.layer_norm_epsilon', gg.f32(1e-5))];
    case 'chatglm':
      return [...base, k('attention.head_count_kv', gg.u32(KV)), k('attention.layer_norm_rms_epsilon', gg.f32(1e-5)),
        k('rope.dimension_count', gg.u32(D / 2)), k('rope.freq_base', gg.f32(10000))];
  }
}

function tokenizerMetadata(v: TinyVocab, bos: number | null, eos: number, addBos: boolean): Array<[string, GgufValue]> {
  const types = v.tokens.map((_, i) => (i >= v.specialStart ? 3 : 1)); // 1 normal, 3 control
  const md: Array<[string, GgufValue]> = [
    ['tokenizer.ggml.model', 'gpt2'],
    ['tokenizer.ggml.pre', v.pre],
    ['tokenizer.ggml.tokens', gg.arr('string', v.tokens)],
    ['tokenizer.ggml.token_type', gg.arr('i32', types)],
    ['tokenizer.ggml.merges', gg.arr('string', v.merges)],
  ];
  if (bos !== null) md.push(['tokenizer.ggml.bos_token_id', gg.u32(bos)]);
  md.push(
    ['tokenizer.ggml.eos_token_id', gg.u32(eos)],
    ['tokenizer.ggml.padding_token_id', gg.u32(v.special['<|endoftext|>'])],
    ['tokenizer.ggml.add_bos_token', gg.bool(addBos)],
    ['tokenizer.ggml.add_eos_token', gg.bool(false)],
    ['tokenizer.chat_template', CHATML_TEMPLATE],
  );
  return md;
}

/** Whether `dtype` can store rows of `cols` values (quant blocks must tile the row). */
function storable(dtype: DType, cols: number): boolean {
  return cols % BLOCK[dtype].elems === 0;
}

// ------------------------------------------------------------------ entry point

/** Build a tiny random model of `family` under `dir` (`dir/hf/`, `dir/model-<dtype>.gguf`). */
export function buildTinyModel(family: TinyFamily, dir: string, opts: TinyModelOptions = {}): TinyModel {
  const def = FAMILIES[family];
  if (!def) {
    throw new OpenLedgerError(`no tiny model for family '${family}'`, {
      code: 'unknown_family', param: 'family', hint: `use one of ${TINY_FAMILIES.join(', ')}`,
    });
  }
  const dims = { ...def.dims, ...opts.dims };
  const vocab = opts.vocab ?? buildTinyVocab({ pre: def.pre });
  const V = vocab.tokens.length;
  const bos = def.addBos ? vocab.special['<bos>'] : null;
  const eos = vocab.special['<|im_end|>'];
  const rng = new Rng(opts.seed ?? 1);
  const hf = opts.hfTensors ?? buildHf(family, dims, V, rng);
  const config = hfConfig(family, dims, V, bos, eos);
  const format = opts.format ?? 'both';
  const dtype = opts.dtype ?? 'f32';
  mkdirSync(dir, { recursive: true });
  const model: TinyModel = {
    family, arch: def.arch, dims, vocab, vocabSize: V, bosTokenId: bos, eosTokenId: eos, addBos: def.addBos,
    ggufDtypes: {}, hf, config,
  };

  if (format !== 'gguf') {
    const hfDir = join(dir, 'hf');
    mkdirSync(hfDir, { recursive: true });
    writeFileSync(join(hfDir, 'config.json'), JSON.stringify(config, null, 2));
    const hfDtype = opts.hfDtype ?? 'F32';
    writeSafetensors(join(hfDir, 'model.safetensors'),
      Object.fromEntries([...hf].map(([n, t]) => [n, { dtype: hfDtype, shape: t.shape, data: t.data }])), { format: 'pt' });
    const bosText = bos === null ? null : '<bos>';
    writeFileSync(join(hfDir, 'tokenizer.json'), JSON.stringify(tokenizerJson(vocab, bosText), null, 2));
    writeFileSync(join(hfDir, 'tokenizer_config.json'), JSON.stringify({
      add_bos_token: def.addBos, add_eos_token: false, bos_token: bosText, eos_token: '<|im_end|>', pad_token: '<|endoftext|>',
      unk_token: null, chat_template: CHATML_TEMPLATE, clean_up_tokenization_spaces: false, model_max_length: dims.contextLength,
      tokenizer_class: 'PreTrainedTokenizerFast',
      added_tokens_decoder: Object.fromEntries(TINY_SPECIALS.map((s) => [String(vocab.special[s]), {
        content: s, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true,
      }])),
    }, null, 2));
    writeFileSync(join(hfDir, 'generation_config.json'), JSON.stringify({ bos_token_id: bos, eos_token_id: eos }, null, 2));
    model.hfDir = hfDir;
  }

  if (format !== 'hf') {
    const tensors: GgufTensorInput[] = [];
    for (const [name, t] of hf) {
      const g = hfToGguf(family, dims, name, t);
      if (!g) continue;
      let dt: DType = 'f32';
      if (g.ne.length === 2) dt = storable(dtype, g.ne[0]) ? dtype : 'f16';
      model.ggufDtypes[g.name] = dt;
      tensors.push({ name: g.name, shape: g.ne, dtype: dt, data: g.data });
    }
    if (family === 'llama' || family === 'deepseek-r1-llama') {
      const f = llama3RopeFactors(dims.headDim, 500000, LLAMA3_SCALING);
      model.ggufDtypes['rope_freqs.weight'] = 'f32';
      tensors.push({ name: 'rope_freqs.weight', shape: [f.length], dtype: 'f32', data: f });
    }
    const path = join(dir, `model-${dtype}.gguf`);
    writeGguf(path, {
      metadata: [
        ['general.architecture', def.arch],
        ['general.type', 'model'],
        ['general.name', `tiny-${family}`],
        ['general.file_type', gg.u32(FTYPE[dtype])],
        ...(dtype.startsWith('q') ? [['general.quantization_version', gg.u32(2)] as [string, GgufValue]] : []),
        ...ggufHparams(family, dims, V),
        ...tokenizerMetadata(vocab, bos, eos, def.addBos),
      ],
      tensors,
    });
    model.ggufPath = path;
  }
  return model;
}
